// Webhook signatures: `Skicka-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
// with the endpoint's secret. The timestamp is inside the signed text, so a receiver that also
// refuses old timestamps refuses replays. verifySignature is what a receiver runs (README).
import { timingSafeEqual, toHex } from "../../core/crypto.ts";

export const SIGNATURE_HEADER = "Skicka-Signature";
/** How old a signature a receiver should accept by default, in seconds. */
export const DEFAULT_TOLERANCE_S = 300;

const enc = new TextEncoder();

async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    enc.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return toHex(new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(text))));
}

/** The header value for a body sent at `at`. */
export async function signPayload(secret: string, body: string, at: Date): Promise<string> {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${await hmacHex(secret, `${t}.${body}`)}`;
}

export type VerifyResult = { ok: true; timestamp: number } | {
  ok: false;
  reason: "malformed" | "mismatch" | "expired";
};

/**
 * Checks a received header against the raw body (exactly as received, before any JSON parsing).
 * Several v1= values are allowed (any may match). `now` defaults to the current time.
 */
export async function verifySignature(
  secret: string,
  header: string | null,
  body: string,
  opts: { now?: Date; toleranceS?: number } = {},
): Promise<VerifyResult> {
  if (!header) return { ok: false, reason: "malformed" };
  let t: number | null = null;
  const sigs: string[] = [];
  for (const part of header.split(",")) {
    const [k, v] = part.trim().split("=", 2);
    if (k === "t" && v && /^\d{1,12}$/.test(v)) t = Number(v);
    else if (k === "v1" && v && /^[0-9a-f]{64}$/.test(v)) sigs.push(v);
  }
  if (t === null || !sigs.length) return { ok: false, reason: "malformed" };
  const expected = await hmacHex(secret, `${t}.${body}`);
  if (!sigs.some((s) => timingSafeEqual(s, expected))) return { ok: false, reason: "mismatch" };
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - t) > (opts.toleranceS ?? DEFAULT_TOLERANCE_S)) {
    return { ok: false, reason: "expired" };
  }
  return { ok: true, timestamp: t };
}
