// Password hashing with argon2id (WASM, so it runs anywhere Deno does).
import { argon2id, argon2Verify } from "hash-wasm";

// OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane (~0.1 s per hash on our machines).
const PARAMS = { parallelism: 1, iterations: 2, memorySize: 19_456, hashLength: 32 } as const;

export const MIN_PASSWORD_LENGTH = 12;

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  return await argon2id({ ...PARAMS, password, salt, outputType: "encoded" });
}

export async function verifyPassword(password: string, hash: string | null): Promise<boolean> {
  if (!hash) {
    // Spend the same time as a real check so response timing does not reveal unknown accounts.
    await hashPassword(password);
    return false;
  }
  try {
    return await argon2Verify({ password, hash });
  } catch {
    return false;
  }
}
