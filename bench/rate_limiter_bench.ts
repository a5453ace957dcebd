// Cost of RateLimiter.take() (core/send/rate_limiter.ts), the per-message check of the route
// stage: one hot domain, a mailing spread over 50 and over 5,000 domains, an empty bucket (the
// deferral path), and 50,000 domains, where idle buckets are swept to keep the map small.
// Run: deno bench -A bench/rate_limiter_bench.ts
import { RateLimiter } from "../core/send/rate_limiter.ts";

/** Keys as the worker sees them: lower-cased destination domains. */
function domains(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `d${i}.example`);
}

/** Plenty of tokens, so every take() succeeds and the bench measures the bookkeeping. */
const open = { ratePerSecond: 1e9, burst: 1e9 };
const BATCH = 1_000;

function limiterBench(name: string, keys: string[], limiter: RateLimiter, baseline = false) {
  let i = 0;
  Deno.bench({
    name,
    group: "take (1,000 calls)",
    baseline,
    fn() {
      for (let n = 0; n < BATCH; n++) {
        limiter.take(keys[i]!);
        i = i + 1 === keys.length ? 0 : i + 1;
      }
    },
  });
}

limiterBench("one domain", domains(1), new RateLimiter({ defaultLimit: open }), true);
limiterBench("50 domains", domains(50), new RateLimiter({ defaultLimit: open }));
limiterBench(
  "50 domains, 10 with their own limit",
  domains(50),
  new RateLimiter({
    defaultLimit: open,
    limits: Object.fromEntries(domains(10).map((d) => [d, { ratePerSecond: 1e8, burst: 1e8 }])),
  }),
);
limiterBench("5,000 domains", domains(5_000), new RateLimiter({ defaultLimit: open }));
// More domains than maxIdleKeys: full buckets are swept and made again.
limiterBench(
  "50,000 domains, maxIdleKeys 10,000",
  domains(50_000),
  new RateLimiter({ defaultLimit: open }),
);
// An empty bucket: every call computes the wait instead of taking.
let clock = 0;
limiterBench(
  "empty bucket (wait computed)",
  domains(1),
  (() => {
    const l = new RateLimiter({ defaultLimit: { ratePerSecond: 1, burst: 1 }, now: () => clock });
    l.take("d0.example");
    clock = 0;
    return l;
  })(),
);
