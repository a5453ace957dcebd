// Fetches a feed the careful way: http(s) only, no private or loopback targets unless the
// operator allows them, few redirects (each target checked again), a time limit over the whole
// exchange, a size limit while reading, and conditional requests (ETag / Last-Modified).
import { AddressRefused, resolveAndCheck, type Resolver } from "../../core/http/ssrf.ts";

/** Whole exchange, body included. */
export const FETCH_TIMEOUT_MS = 10_000;
/** Larger answers are refused while being read (feeds are rarely over a few hundred KB). */
export const MAX_FEED_BYTES = 5 * 1024 * 1024;
export const MAX_REDIRECTS = 3;

export interface FetchOptions {
  allowPrivate: boolean;
  etag?: string | null;
  lastModified?: string | null;
  timeoutMs?: number;
  maxBytes?: number;
  /** Resolves a host name to addresses; tests may pass their own. */
  resolve?: Resolver;
}

export type FetchResult =
  | { kind: "not_modified" }
  | {
    kind: "ok";
    body: Uint8Array;
    contentType: string;
    etag: string | null;
    lastModified: string | null;
  };

/**
 * Why a fetch failed. The message carries details for the operator's log; staff and API clients
 * see only publicFetchError(): internal addresses and resolver errors are not theirs to see.
 */
export class FeedFetchError extends Error {
  override name = "FeedFetchError";
  constructor(
    readonly code:
      | "bad_url"
      | "private_address"
      | "too_many_redirects"
      | "timeout"
      | "too_large"
      | "http_status"
      | "network",
    detail = "",
    /** The answer's status, for http_status. */
    readonly status?: number,
  ) {
    super(detail ? `${code}: ${detail}` : code);
  }
}

/** A URL a feed may have: absolute http(s), no credentials. Null when it is not one. */
export function feedUrl(raw: string): URL | null {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    return null;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return null;
  if (u.username || u.password || !u.hostname) return null;
  return u;
}

/**
 * Refuses a target in a private network unless allowed (core/http/ssrf.ts: every spelling of
 * every private IPv4 and IPv6 address, all of a name's answers). Names are resolved first; the
 * fetch resolves again, so a name that changes in between (DNS rebinding) is not caught here —
 * an operator who needs that guarantee routes feed fetches through an egress proxy.
 */
async function checkTarget(u: URL, opts: FetchOptions): Promise<void> {
  if (opts.allowPrivate) return;
  try {
    await resolveAndCheck(u.hostname, { resolve: opts.resolve });
  } catch (e) {
    if (!(e instanceof AddressRefused)) throw e;
    throw new FeedFetchError(
      e.reason === "private_address" ? "private_address" : "network",
      e.reason === "private_address" ? e.host : `cannot resolve ${e.host}`,
    );
  }
}

async function readLimited(res: Response, max: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? "");
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel();
    throw new FeedFetchError("too_large", `${declared} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  if (!reader) return new Uint8Array();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new FeedFetchError("too_large", `over ${max} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** One conditional GET of a feed, following at most MAX_REDIRECTS redirects. */
export async function fetchFeed(raw: string, opts: FetchOptions): Promise<FetchResult> {
  let url = feedUrl(raw);
  if (!url) throw new FeedFetchError("bad_url", raw);
  const signal = AbortSignal.timeout(opts.timeoutMs ?? FETCH_TIMEOUT_MS);
  const headers: Record<string, string> = {
    accept: "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9",
    "user-agent": "Skicka-RSS/1",
  };
  if (opts.etag) headers["if-none-match"] = opts.etag;
  if (opts.lastModified) headers["if-modified-since"] = opts.lastModified;
  try {
    for (let hop = 0;; hop++) {
      await checkTarget(url, opts);
      const res: Response = await fetch(url, { headers, redirect: "manual", signal });
      if (res.status >= 300 && res.status < 400 && res.status !== 304) {
        await res.body?.cancel();
        const next: string | null = res.headers.get("location");
        if (hop >= MAX_REDIRECTS) throw new FeedFetchError("too_many_redirects");
        url = next ? feedUrl(new URL(next, url).href) : null;
        if (!url) throw new FeedFetchError("bad_url", next ?? "");
        continue;
      }
      if (res.status === 304) {
        await res.body?.cancel();
        return { kind: "not_modified" };
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new FeedFetchError("http_status", String(res.status), res.status);
      }
      const body = await readLimited(res, opts.maxBytes ?? MAX_FEED_BYTES);
      return {
        kind: "ok",
        body,
        contentType: res.headers.get("content-type") ?? "",
        etag: res.headers.get("etag"),
        lastModified: res.headers.get("last-modified"),
      };
    }
  } catch (e) {
    if (e instanceof FeedFetchError) throw e;
    if (signal.aborted) throw new FeedFetchError("timeout");
    throw new FeedFetchError("network", e instanceof Error ? e.message : String(e));
  }
}
