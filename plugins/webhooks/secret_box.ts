// Endpoint signing secrets at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the
// deployment's SECRET_KEY. A secret must be readable to sign with, so it is encrypted, not
// hashed; the endpoint's identity is the additional data, so a ciphertext moved to another row
// does not open.
import { randomToken } from "../../core/crypto.ts";
import { SecretBox } from "../../core/secret_box.ts";

const box = new SecretBox({
  salt: "skicka webhooks",
  info: "endpoint secret aes-256-gcm v1",
  table: "webhook_endpoints",
  label: "webhook secret",
});

/** A new endpoint secret: "whsec_" and 32 random bytes. */
export function newEndpointSecret(): string {
  return `whsec_${randomToken(32)}`;
}

export function sealSecret(
  appSecret: string,
  row: { tenantId: string; id: string },
  plain: string,
): Promise<string> {
  return box.seal(appSecret, row, plain);
}

export function openSecret(
  appSecret: string,
  row: { tenantId: string; id: string },
  sealed: string,
): Promise<string> {
  return box.open(appSecret, row, sealed);
}
