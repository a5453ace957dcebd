// A webhook receiver for the tests: Deno.serve on 127.0.0.1, answering from a script of statuses
// (then 200), keeping every request's headers and raw body.
export interface Received {
  headers: Headers;
  body: string;
  // deno-lint-ignore no-explicit-any -- tests read the JSON field by field
  json: any;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Answers for the next requests, in order; afterwards 200. */
  script: number[];
  /** Resolves once `n` requests have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export function startReceiver(path = "/hooks/skicka"): Receiver {
  const received: Received[] = [];
  const script: number[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const body = await req.text();
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch { /* kept raw */ }
      received.push({ headers: req.headers, body, json });
      for (const w of waiters.filter((w) => received.length >= w.n)) w.resolve();
      const status = script.shift() ?? 200;
      return new Response(status === 302 ? null : "ok", {
        status,
        headers: status === 302 ? { location: "http://127.0.0.1:1/elsewhere" } : {},
      });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}${path}`,
    received,
    script,
    waitFor(n, timeoutMs = 10_000) {
      if (received.length >= n) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`receiver got ${received.length} of ${n} requests`)),
          timeoutMs,
        );
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    close: () => server.shutdown(),
  };
}
