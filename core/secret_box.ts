// Secrets at rest that must stay readable (a DKIM private key to sign with, a webhook secret to
// sign with): AES-256-GCM under a key derived (HKDF-SHA256) from the deployment's SECRET_KEY,
// one derivation per purpose. The row's identity is the additional data, so a ciphertext copied
// to another row does not open.
import { base64url, fromBase64url } from "./crypto.ts";

const enc = new TextEncoder();

export interface SecretBoxPurpose {
  /** HKDF salt and info: one key per purpose (changing them makes stored secrets unreadable). */
  salt: string;
  info: string;
  /** The table the sealed values live in: part of the additional data. */
  table: string;
  /** Named in the error when a value cannot be read. */
  label: string;
}

export class SecretBox {
  readonly #keys = new Map<string, Promise<CryptoKey>>();
  constructor(readonly purpose: SecretBoxPurpose) {}

  #key(secret: string): Promise<CryptoKey> {
    let key = this.#keys.get(secret);
    if (!key) {
      const { salt, info } = this.purpose;
      key = crypto.subtle.importKey("raw", enc.encode(secret), "HKDF", false, ["deriveKey"])
        .then((base) =>
          crypto.subtle.deriveKey(
            { name: "HKDF", hash: "SHA-256", salt: enc.encode(salt), info: enc.encode(info) },
            base,
            { name: "AES-GCM", length: 256 },
            false,
            ["encrypt", "decrypt"],
          )
        );
      this.#keys.set(secret, key);
    }
    return key;
  }

  #rowData(row: { tenantId: string; id: string }) {
    return enc.encode(`${this.purpose.table}/${row.tenantId}/${row.id}`);
  }

  async seal(secret: string, row: { tenantId: string; id: string }, plain: string) {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const data = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: this.#rowData(row) },
      await this.#key(secret),
      enc.encode(plain),
    );
    return `v1.${base64url(iv)}.${base64url(new Uint8Array(data))}`;
  }

  async open(secret: string, row: { tenantId: string; id: string }, sealed: string) {
    const [version, iv, data] = sealed.split(".");
    const ivBytes = fromBase64url(iv ?? "");
    const dataBytes = fromBase64url(data ?? "");
    if (version !== "v1" || !ivBytes || !dataBytes) {
      throw new Error(`Unreadable ${this.purpose.label}`);
    }
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: new Uint8Array(ivBytes), additionalData: this.#rowData(row) },
      await this.#key(secret),
      new Uint8Array(dataBytes),
    );
    return new TextDecoder().decode(plain);
  }
}
