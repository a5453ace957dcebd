// RSA-SHA256 (PKCS#1 v1.5) signing through the system's libcrypto over Deno FFI: ~5x faster
// than node:crypto under Deno, with node:crypto as the fallback wherever FFI is unavailable.
import { Buffer } from "node:buffer";
import { createPrivateKey, sign as nodeSign } from "node:crypto";

/** Signs bytes with one private key; the signature is the raw RSA signature. */
export type RsaSign = (data: Uint8Array) => Uint8Array;

/** Makes a signer for a PEM key, with any per-key work done once. */
export type RsaSignerFactory = (privateKeyPem: string) => RsaSign;

const CANDIDATES: Record<string, readonly string[]> = {
  linux: [
    "libcrypto.so.3",
    "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
    "/usr/lib64/libcrypto.so.3",
  ],
  darwin: [
    "libcrypto.3.dylib",
    "/opt/homebrew/lib/libcrypto.3.dylib",
    "/usr/local/lib/libcrypto.3.dylib",
  ],
};

const SYMBOLS = {
  BIO_s_mem: { parameters: [], result: "pointer" },
  BIO_new: { parameters: ["pointer"], result: "pointer" },
  BIO_write: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  BIO_free: { parameters: ["pointer"], result: "i32" },
  PEM_read_bio_PrivateKey: {
    parameters: ["pointer", "pointer", "pointer", "buffer"],
    result: "pointer",
  },
  EVP_PKEY_free: { parameters: ["pointer"], result: "void" },
  EVP_PKEY_get_base_id: { parameters: ["pointer"], result: "i32" },
  EVP_PKEY_get_size: { parameters: ["pointer"], result: "i32" },
  EVP_MD_fetch: { parameters: ["pointer", "buffer", "pointer"], result: "pointer" },
  EVP_MD_CTX_new: { parameters: [], result: "pointer" },
  EVP_MD_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_DigestSignInit: {
    parameters: ["pointer", "pointer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  EVP_DigestSign: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "usize"],
    result: "i32",
  },
  ERR_get_error: { parameters: [], result: "u64" },
  ERR_clear_error: { parameters: [], result: "void" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const EVP_PKEY_RSA = 6;
const cString = (s: string) => new TextEncoder().encode(s + "\0");

let lib: Lib | null | undefined;
let sha256: Deno.PointerValue = null;
let unavailable = "";
let onFallback: ((reason: string) => void) | undefined;
let reported = false;

/** Where to report, once per thread, that signing fell back to node:crypto (a debug log). */
export function setRsaFfiFallbackReporter(report: (reason: string) => void): void {
  onFallback = report;
}

function fallback(reason: string): null {
  unavailable ||= reason;
  if (!reported && onFallback) {
    reported = true;
    onFallback(unavailable);
  }
  return null;
}

/** Opens libcrypto once per thread (each Web Worker has its own); null when it cannot. */
function openLibrary(): Lib | null {
  if (lib !== undefined) return lib;
  lib = null;
  if (typeof Deno === "undefined" || typeof Deno.dlopen !== "function") {
    return fallback("Deno.dlopen is not available");
  }
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
      return fallback("no FFI permission");
    }
  } catch (e) {
    return fallback(`FFI permission query failed: ${String(e)}`);
  }
  for (const path of CANDIDATES[Deno.build.os] ?? []) {
    try {
      const opened = Deno.dlopen(path, SYMBOLS).symbols;
      const md = opened.EVP_MD_fetch(null, cString("SHA256"), null);
      if (!md) continue;
      sha256 = md;
      return lib = opened;
    } catch {
      // Try the next name; a missing library is the normal case on some machines.
    }
  }
  return fallback("libcrypto 3 could not be opened");
}

/** Why FFI signing is not in use on this thread, or "" when it is (or was not tried yet). */
export function rsaFfiUnavailableReason(): string {
  return unavailable;
}

interface Native {
  pkey: Deno.PointerValue;
  ctx: Deno.PointerValue;
}

// Signers cached for a worker's life are never freed by hand; the key is freed with them.
const natives = new FinalizationRegistry<Native>(({ pkey, ctx }) => {
  if (!lib) return;
  lib.EVP_MD_CTX_free(ctx);
  lib.EVP_PKEY_free(pkey);
});

function loadKey(l: Lib, privateKeyPem: string): Deno.PointerValue {
  const pem = new TextEncoder().encode(privateKeyPem);
  const bio = l.BIO_new(l.BIO_s_mem());
  if (!bio) return null;
  try {
    // BIO_write copies: a memory BIO over a JS buffer would outlive the buffer's pinning.
    if (l.BIO_write(bio, pem, pem.length) !== pem.length) return null;
    // A non-null passphrase keeps OpenSSL from prompting on a terminal for an encrypted key.
    return l.PEM_read_bio_PrivateKey(bio, null, null, cString(""));
  } finally {
    l.BIO_free(bio);
  }
}

/**
 * An RSA-SHA256 signer over libcrypto for one key (parsed once into an EVP_PKEY), or null when
 * FFI or libcrypto is unavailable or the PEM is not an RSA key OpenSSL can read.
 */
export function createFfiRsaSigner(privateKeyPem: string): RsaSign | null {
  const l = openLibrary();
  if (!l) return null;
  const pkey = loadKey(l, privateKeyPem);
  if (!pkey || l.EVP_PKEY_get_base_id(pkey) !== EVP_PKEY_RSA) {
    if (pkey) l.EVP_PKEY_free(pkey);
    l.ERR_clear_error();
    return null;
  }
  const ctx = l.EVP_MD_CTX_new();
  if (!ctx) {
    l.EVP_PKEY_free(pkey);
    return null;
  }
  const size = l.EVP_PKEY_get_size(pkey);
  const out = new Uint8Array(size);
  const outLen = new BigUint64Array(1);
  function ffiRsaSign(data: Uint8Array): Uint8Array {
    const lib = l!;
    outLen[0] = BigInt(size);
    // DigestSignInit on a used context resets it; the key's parsed form is reused.
    if (
      lib.EVP_DigestSignInit(ctx, null, sha256, null, pkey) !== 1 ||
      lib.EVP_DigestSign(ctx, out, outLen, data, BigInt(data.length)) !== 1
    ) {
      const code = lib.ERR_get_error();
      lib.ERR_clear_error();
      throw new Error(`libcrypto RSA signing failed (error ${code.toString(16)})`);
    }
    return out.slice(0, Number(outLen[0]));
  }
  natives.register(ffiRsaSign, { pkey, ctx });
  return ffiRsaSign;
}

/** The node:crypto signer: the reference, and the fallback. */
export const nodeRsaSigner: RsaSignerFactory = function nodeRsaSigner(privateKeyPem) {
  const key = createPrivateKey(privateKeyPem);
  return function nodeRsaSign(data: Uint8Array): Uint8Array {
    const sig: Buffer = nodeSign("sha256", data, key);
    return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
  };
};

/** libcrypto through FFI where it can be used, otherwise node:crypto; same signatures. */
export const defaultRsaSigner: RsaSignerFactory = function defaultRsaSigner(privateKeyPem) {
  return createFfiRsaSigner(privateKeyPem) ?? nodeRsaSigner(privateKeyPem);
};
