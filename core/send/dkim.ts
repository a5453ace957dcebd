// DKIM signing (RFC 6376, relaxed/relaxed) with rsa-sha256 or ed25519-sha256 (RFC 8463).
import { Buffer } from "node:buffer";
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from "node:crypto";
import { defaultRsaSigner, type RsaSignerFactory } from "./rsa_ffi.ts";

/** Signed when present. Covers what a reader sees and what unsubscribe and threading rely on. */
export const DEFAULT_SIGNED_HEADERS: readonly string[] = [
  "from",
  "sender",
  "reply-to",
  "to",
  "cc",
  "subject",
  "date",
  "message-id",
  "in-reply-to",
  "references",
  "mime-version",
  "content-type",
  "content-transfer-encoding",
  "list-id",
  "list-unsubscribe",
  "list-unsubscribe-post",
  "feedback-id",
];

/**
 * Listed once more than they occur, so a relay cannot add a second one (or a first one) without
 * breaking the signature (RFC 6376 section 8.15).
 */
export const DEFAULT_OVERSIGNED_HEADERS: readonly string[] = [
  "from",
  "reply-to",
  "to",
  "cc",
  "subject",
  "date",
  "message-id",
];

export interface DkimSignerOptions {
  /** The d= domain; the public key is published at `<selector>._domainkey.<domain>`. */
  domain: string;
  selector: string;
  /** PKCS#8 or PKCS#1 PEM of an RSA (2048 bits or more advised) or Ed25519 key. */
  privateKeyPem: string;
  /** Header names to sign when present; "from" is always signed. */
  headers?: readonly string[];
  /** Header names to list one extra time; defaults to DEFAULT_OVERSIGNED_HEADERS. */
  oversign?: readonly string[];
  /** Milliseconds since the epoch, for the t= tag. */
  now?: () => number;
  /**
   * Makes the rsa-sha256 signer for the key; defaults to libcrypto over FFI where available,
   * else node:crypto. Both give the same bytes: PKCS#1 v1.5 signatures are deterministic.
   */
  rsaSigner?: RsaSignerFactory;
}

/** Returns the message with a DKIM-Signature header prepended, in the form it was given. */
export interface DkimSigner {
  (raw: string): string;
  (raw: Uint8Array): Uint8Array;
}

const encoder = new TextEncoder();
const DNS_LABELS = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

/**
 * Relaxed body canonicalization (RFC 6376 section 3.4.4), on bytes: one pass, and bytes
 * hash without a string-to-bytes conversion of the whole body.
 */
export function canonicalizeBody(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 2);
  const n = body.length;
  let o = 0;
  let space = false;
  for (let i = 0; i < n; i++) {
    const b = body[i]!;
    if (b === 32 || b === 9) {
      space = true;
    } else if (b === 13 && body[i + 1] === 10) {
      // Whitespace at the end of a line is dropped.
      out[o++] = 13;
      out[o++] = 10;
      i++;
      space = false;
    } else {
      if (space) out[o++] = 32;
      space = false;
      out[o++] = b;
    }
  }
  if (o > 0 && !(out[o - 2] === 13 && out[o - 1] === 10)) {
    out[o++] = 13;
    out[o++] = 10;
  }
  // Trailing empty lines are ignored, and a body of only empty lines is empty.
  while (
    o >= 4 && out[o - 1] === 10 && out[o - 2] === 13 && out[o - 3] === 10 && out[o - 4] === 13
  ) o -= 2;
  return out.subarray(0, o === 2 ? 0 : o);
}

/** Where the header section ends (the CR of CRLF CRLF), or -1 for a message without a body. */
function blankLine(raw: Uint8Array): number {
  const n = raw.length - 3;
  for (let i = 0; i < n; i++) {
    if (raw[i] === 13 && raw[i + 1] === 10 && raw[i + 2] === 13 && raw[i + 3] === 10) return i;
  }
  return -1;
}

/** Chars 0-255 back to the bytes they were read from (the header section is read as latin1). */
function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Relaxed header canonicalization (RFC 6376 section 3.4.2) of one field, without CRLF. */
export function canonicalizeHeader(field: string): string {
  const colon = field.indexOf(":");
  const name = field.slice(0, colon).replace(/[ \t]+$/, "").toLowerCase();
  const value = field.slice(colon + 1).replace(/\r\n(?=[ \t])/g, "").replace(/[ \t]+/g, " ");
  return name + ":" + value.replace(/^ | $/g, "");
}

/** Header fields by lower-case name, each in message order, with their folding kept. */
function headerFields(head: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of head.split("\r\n")) {
    const first = line.charCodeAt(0);
    if ((first === 32 || first === 9) && current) {
      current[current.length - 1] += "\r\n" + line;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) {
      current = undefined;
      continue;
    }
    const name = line.slice(0, colon).replace(/[ \t]+$/, "").toLowerCase();
    current = fields.get(name);
    if (current) current.push(line);
    else fields.set(name, current = [line]);
  }
  return fields;
}

/** Joins tag pieces with spaces, folding so lines stay within 78 characters. */
function fold(start: number, pieces: readonly string[]): string {
  let out = "";
  let col = start;
  for (const piece of pieces) {
    if (col + 1 + piece.length > 78 && col > 1) {
      out += "\r\n ";
      col = 1;
    } else {
      out += " ";
      col += 1;
    }
    out += piece;
    col += piece.length;
  }
  return out;
}

/** Prepares a signer once per key; the returned function does no per-key work. */
export function createDkimSigner(options: DkimSignerOptions): DkimSigner {
  const { domain, selector } = options;
  if (!DNS_LABELS.test(domain) || !DNS_LABELS.test(selector)) {
    throw new TypeError(`Invalid DKIM domain or selector: ${domain} / ${selector}`);
  }
  const key: KeyObject = createPrivateKey(options.privateKeyPem);
  const kind = key.asymmetricKeyType;
  if (kind !== "rsa" && kind !== "ed25519") {
    throw new TypeError(`DKIM needs an RSA or Ed25519 key, got ${kind ?? "unknown"}`);
  }
  const algorithm = kind === "rsa" ? "rsa-sha256" : "ed25519-sha256";
  const rsaSign = kind === "rsa"
    ? (options.rsaSigner ?? defaultRsaSigner)(options.privateKeyPem)
    : undefined;
  const signed = [
    ...new Set(["from", ...(options.headers ?? DEFAULT_SIGNED_HEADERS)]
      .map((h) => h.toLowerCase())),
  ];
  const oversigned = new Set((options.oversign ?? DEFAULT_OVERSIGNED_HEADERS)
    .map((h) => h.toLowerCase()));
  const now = options.now ?? Date.now;
  const fixedTags = [
    `v=1;`,
    `a=${algorithm};`,
    `c=relaxed/relaxed;`,
    `d=${domain};`,
    `s=${selector};`,
  ];

  function dkimSign(raw: string): string;
  function dkimSign(raw: Uint8Array): Uint8Array;
  function dkimSign(raw: string | Uint8Array): string | Uint8Array {
    // Work on the bytes that go on the wire; the header section is read as latin1 so every
    // byte maps to one char and back unchanged.
    const bytes = typeof raw === "string" ? encoder.encode(raw) : raw;
    const split = blankLine(bytes);
    const headEnd = split === -1 ? bytes.length : split;
    const head = Buffer.from(bytes.buffer, bytes.byteOffset, headEnd).toString("latin1");
    const body = split === -1 ? new Uint8Array(0) : bytes.subarray(split + 4);

    const fields = headerFields(head);
    if (!fields.has("from")) throw new TypeError("DKIM signing needs a From header");
    const names: string[] = [];
    let data = "";
    for (const name of signed) {
      const list = fields.get(name) ?? [];
      // Several instances are signed from the bottom up (RFC 6376 section 5.4.2).
      for (let i = list.length - 1; i >= 0; i--) {
        names.push(name);
        data += canonicalizeHeader(list[i]!) + "\r\n";
      }
      if (oversigned.has(name)) names.push(name);
    }

    const bodyHash = createHash("sha256").update(canonicalizeBody(body)).digest("base64");
    // h= may fold after a colon (RFC 6376 section 3.5); pieces are cut to fill whole lines.
    const hPieces: string[] = [];
    let piece = "h=";
    names.forEach((name, i) => {
      const part = name + (i === names.length - 1 ? ";" : ":");
      if (piece.length + part.length > 72 && piece !== "h=") {
        hPieces.push(piece);
        piece = "";
      }
      piece += part;
    });
    hPieces.push(piece);
    const value = fold("DKIM-Signature:".length, [
      ...fixedTags,
      `t=${Math.floor(now() / 1000)};`,
      ...hPieces,
      `bh=${bodyHash};`,
      "b=",
    ]);
    data += canonicalizeHeader("DKIM-Signature:" + value);

    const signedBytes = latin1Bytes(data);
    const signature = rsaSign
      ? rsaSign(signedBytes)
      : sign(null, createHash("sha256").update(signedBytes).digest(), key);
    const b64 = Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength)
      .toString("base64");
    // The b= value may hold folding whitespace; the first line continues after "b=".
    const unsigned = "DKIM-Signature:" + value;
    const firstChunk = Math.max(0, 78 - (unsigned.length - unsigned.lastIndexOf("\n") - 1));
    let b = b64.slice(0, firstChunk);
    for (let i = firstChunk; i < b64.length; i += 76) b += "\r\n " + b64.slice(i, i + 76);
    const header = unsigned + b + "\r\n";

    if (typeof raw === "string") return header + raw;
    const out = new Uint8Array(header.length + raw.byteLength);
    out.set(latin1Bytes(header));
    out.set(raw, header.length);
    return out;
  }
  return dkimSign;
}

/**
 * Signs with each key in turn, one DKIM-Signature per key: an RSA and an Ed25519 key give the
 * dual signature of RFC 8463, so verifiers that know only rsa-sha256 still find one they can
 * check. The last key's header ends up on top.
 */
export function createDkimSignerSet(keys: readonly DkimSignerOptions[]): DkimSigner {
  if (!keys.length) throw new TypeError("A DKIM signer set needs at least one key");
  const signers = keys.map((k) => createDkimSigner(k));
  function dkimSignAll(raw: string): string;
  function dkimSignAll(raw: Uint8Array): Uint8Array;
  function dkimSignAll(raw: string | Uint8Array): string | Uint8Array {
    let out = raw;
    for (const sign of signers) out = typeof out === "string" ? sign(out) : sign(out);
    return out;
  }
  return dkimSignAll;
}

/**
 * Signer sets by key ids, for messages that name the keys they need (per-tenant keys). A key
 * id always stands for the same key material, so sets are built once and kept (bounded).
 */
export class DkimSignerCache {
  readonly #sets = new Map<string, DkimSigner>();
  constructor(readonly max = 1_000) {}

  /** The signer for these key ids, given their material; undefined when `ids` is empty. */
  get(
    ids: readonly string[],
    keys: Readonly<Record<string, DkimSignerOptions>> | undefined,
  ): DkimSigner | undefined {
    if (!ids.length) return undefined;
    const id = ids.join(",");
    let set = this.#sets.get(id);
    if (!set) {
      set = createDkimSignerSet(ids.map((k) => {
        const key = keys?.[k];
        if (!key) throw new TypeError(`DKIM key ${k} was not sent with the batch`);
        return key;
      }));
      if (this.#sets.size >= this.max) this.#sets.delete(this.#sets.keys().next().value!);
      this.#sets.set(id, set);
    }
    return set;
  }
}

export interface DkimKey {
  privateKeyPem: string;
  /** The TXT record for `<selector>._domainkey.<domain>`; DNS splits it into 255-byte strings. */
  dnsTxtValue: string;
}

/** The TXT record value that publishes the public half of a private key. */
export function dkimDnsTxtValue(privateKeyPem: string): string {
  const publicKey = createPublicKey(privateKeyPem);
  const spki = publicKey.export({ type: "spki", format: "der" });
  const kind = publicKey.asymmetricKeyType;
  if (kind === "rsa") return `v=DKIM1; k=rsa; p=${spki.toString("base64")}`;
  // RFC 8463 publishes the raw 32-byte key, which ends the SPKI structure.
  if (kind === "ed25519") return `v=DKIM1; k=ed25519; p=${spki.subarray(-32).toString("base64")}`;
  throw new TypeError(`DKIM needs an RSA or Ed25519 key, got ${kind ?? "unknown"}`);
}

/** A new signing key and its DNS record, for operators to publish. RSA keys are 2048 bits. */
export function generateDkimKey(kind: "rsa" | "ed25519"): DkimKey {
  const { privateKey } = kind === "rsa"
    ? generateKeyPairSync("rsa", { modulusLength: 2048 })
    : generateKeyPairSync("ed25519");
  const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  return { privateKeyPem, dnsTxtValue: dkimDnsTxtValue(privateKeyPem) };
}
