// Opaque bearer secrets (sessions, one-time links, API keys): random, stored only as SHA-256.
import { randomToken, sha256Hex } from "../crypto.ts";

export interface IssuedToken {
  /** Give this to the holder; it is never stored. */
  token: string;
  /** Store this. */
  hash: string;
}

export async function issueToken(bytes = 32): Promise<IssuedToken> {
  const token = randomToken(bytes);
  return { token, hash: await sha256Hex(token) };
}

export function hashToken(token: string): Promise<string> {
  return sha256Hex(token);
}
