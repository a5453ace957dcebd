// One webhook request: POST a JSON body to a checked target, connecting only to the addresses the
// SSRF check approved (node's `lookup` hook pins them, so a second DNS answer cannot redirect the
// connection), never following redirects, within a time limit.
import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import type { LookupAddress } from "node:dns";
import { hostOf, type Resolver, resolveTarget, type TargetPolicy } from "./ssrf.ts";

export interface PostResult {
  /** The HTTP status, or null when no answer came (refused target, network, timeout). */
  status: number | null;
  error: string | null;
  durationMs: number;
}

export interface PostOptions {
  policy: TargetPolicy;
  timeoutMs: number;
  headers: Record<string, string>;
  resolve?: Resolver;
}

/** Reads at most this much of an answer (it is only drained; receivers answer briefly). */
const MAX_ANSWER_BYTES = 64 * 1024;

export async function postJson(url: URL, body: string, opts: PostOptions): Promise<PostResult> {
  const started = performance.now();
  const done = (status: number | null, error: string | null): PostResult => ({
    status,
    error: error && error.slice(0, 500),
    durationMs: Math.round(performance.now() - started),
  });
  let addresses: string[];
  try {
    addresses = await resolveTarget(url, opts.policy, opts.resolve);
  } catch (e) {
    return done(null, e instanceof Error ? e.message : String(e));
  }
  const pinned: LookupAddress[] = addresses.map((address) => ({
    address,
    family: isIP(address) === 6 ? 6 : 4,
  }));
  const client = url.protocol === "https:" ? https : http;
  return await new Promise<PostResult>((resolve) => {
    let settled = false;
    const finish = (status: number | null, error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(done(status, error));
    };
    const req = client.request({
      method: "POST",
      protocol: url.protocol,
      host: hostOf(url),
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      servername: isIP(hostOf(url)) ? undefined : hostOf(url),
      headers: {
        ...opts.headers,
        "content-type": "application/json",
        "content-length": String(new TextEncoder().encode(body).length),
      },
      lookup: ((
        _host: string,
        options: { all?: boolean },
        cb: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
      ) => {
        if (options?.all) cb(null, pinned);
        else cb(null, pinned[0]!.address, pinned[0]!.family);
      }) as unknown as LookupFunction,
      agent: false,
    }, (res) => {
      let read = 0;
      res.on("data", (chunk: Uint8Array) => {
        read += chunk.length;
        if (read > MAX_ANSWER_BYTES) res.destroy();
      });
      const status = res.statusCode ?? null;
      res.on("end", () => finish(status, null));
      res.on("close", () => finish(status, null));
      res.on("error", () => finish(status, null));
    });
    const timer = setTimeout(() => {
      finish(null, `timeout after ${opts.timeoutMs} ms`);
      req.destroy();
    }, opts.timeoutMs);
    req.on("error", (e: Error) => finish(null, e.message));
    req.end(body);
  });
}
