import assert from "node:assert/strict";
import { RateLimiter, Semaphore, SemaphoreTimeoutError } from "./rate_limiter.ts";

function clock(start = 1_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

Deno.test("RateLimiter.take() lets a full burst through, then says how long to wait", () => {
  const c = clock();
  const limiter = new RateLimiter({ defaultLimit: { ratePerSecond: 10, burst: 3 }, now: c.now });
  assert.equal(limiter.take("gmail.com"), 0);
  assert.equal(limiter.take("gmail.com"), 0);
  assert.equal(limiter.take("gmail.com"), 0);
  assert.equal(limiter.take("gmail.com"), 100);
  // A refused take costs nothing: asking again at once gives the same answer.
  assert.equal(limiter.take("gmail.com"), 100);
  c.advance(40);
  assert.equal(limiter.take("gmail.com"), 60);
  c.advance(60);
  assert.equal(limiter.take("gmail.com"), 0);
  assert.equal(limiter.take("gmail.com", 2), 200);
});

Deno.test("RateLimiter keeps keys apart and honours per-key limits", () => {
  const c = clock();
  const limiter = new RateLimiter({
    defaultLimit: { ratePerSecond: 1, burst: 1 },
    limits: { "outlook.com": { ratePerSecond: 2, burst: 4 } },
    now: c.now,
  });
  assert.equal(limiter.take("example.se"), 0);
  assert.equal(limiter.take("example.se"), 1000);
  assert.equal(limiter.take("example.fi"), 0);
  assert.equal(limiter.take("outlook.com", 4), 0);
  assert.equal(limiter.take("outlook.com"), 500);
  assert.throws(() => limiter.take("outlook.com", 5), /burst is 4/);
});

Deno.test("RateLimiter refills up to the burst only", () => {
  const c = clock();
  const limiter = new RateLimiter({ defaultLimit: { ratePerSecond: 100, burst: 5 }, now: c.now });
  assert.equal(limiter.take("a", 5), 0);
  c.advance(60_000);
  assert.equal(limiter.take("a", 5), 0);
  assert.equal(limiter.take("a"), 10);
});

Deno.test("RateLimiter.setLimit() slows a key down at once", () => {
  const c = clock();
  const limiter = new RateLimiter({ defaultLimit: { ratePerSecond: 50, burst: 50 }, now: c.now });
  assert.equal(limiter.take("yahoo.com"), 0);
  limiter.setLimit("yahoo.com", { ratePerSecond: 0.5, burst: 1 });
  assert.equal(limiter.take("yahoo.com"), 0);
  assert.equal(limiter.take("yahoo.com"), 2000);
  assert.throws(
    () => limiter.setLimit("x", { ratePerSecond: 0, burst: 1 }),
    /ratePerSecond > 0/,
  );
});

Deno.test("RateLimiter forgets idle full buckets once it holds many keys", () => {
  const c = clock();
  const limiter = new RateLimiter({
    defaultLimit: { ratePerSecond: 1, burst: 1 },
    now: c.now,
    maxIdleKeys: 100,
  });
  for (let i = 0; i < 100; i++) limiter.take(`d${i}.example`);
  assert.equal(limiter.size, 100);
  c.advance(1_000);
  limiter.take("busy.example");
  assert.equal(limiter.size, 1);
  // A forgotten bucket was full anyway, so nothing changes for its key.
  assert.equal(limiter.take("d1.example"), 0);
  assert.equal(limiter.take("d1.example"), 1000);
});

Deno.test("Semaphore caps concurrency and serves waiters in order", async () => {
  const sem = new Semaphore(2, { timeoutMs: 1_000 });
  const r1 = await sem.acquire();
  const r2 = await sem.acquire();
  assert.equal(sem.tryAcquire(), null);
  const order: number[] = [];
  const w3 = sem.acquire().then((r) => (order.push(3), r));
  const w4 = sem.acquire().then((r) => (order.push(4), r));
  assert.equal(sem.waiting, 2);
  r1();
  r1(); // a second release is ignored
  const r3 = await w3;
  assert.equal(sem.inUse, 2);
  assert.equal(sem.waiting, 1);
  r2();
  const r4 = await w4;
  assert.deepEqual(order, [3, 4]);
  r3();
  r4();
  assert.equal(sem.inUse, 0);
});

Deno.test("Semaphore.acquire() rejects with a clear error after its timeout", async () => {
  const sem = new Semaphore(1, { name: "mx.example.com", timeoutMs: 20 });
  const release = await sem.acquire();
  const started = performance.now();
  await assert.rejects(
    sem.acquire(),
    (e: unknown) =>
      e instanceof SemaphoreTimeoutError &&
      /mx\.example\.com: no permit free within 20 ms \(1 of 1 in use/.test(e.message),
  );
  assert.ok(performance.now() - started >= 19);
  assert.equal(sem.waiting, 0);
  // The timed-out waiter does not swallow the next permit.
  const late = sem.acquire({ timeoutMs: 500 });
  release();
  (await late)();
  assert.equal(sem.inUse, 0);
});

Deno.test("Semaphore.acquire() stops waiting when its signal aborts", async () => {
  const sem = new Semaphore(1);
  const release = await sem.acquire();
  const controller = new AbortController();
  const waiting = sem.acquire({ signal: controller.signal });
  controller.abort(new Error("shutting down"));
  await assert.rejects(waiting, /shutting down/);
  release();
  assert.equal(sem.inUse, 0);
});

Deno.test("Semaphore.use() releases when the work throws", async () => {
  const sem = new Semaphore(1);
  await assert.rejects(sem.use(() => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(await sem.use(() => 42), 42);
  assert.equal(sem.inUse, 0);
});

Deno.test("parseLimit and parseDomainLimits read the configuration's rate syntax", async () => {
  const { parseDomainLimits, parseLimit } = await import("./rate_limiter.ts");
  assert.deepEqual(parseLimit("200/400"), { ratePerSecond: 200, burst: 400 });
  assert.deepEqual(parseLimit(" 50 "), { ratePerSecond: 50, burst: 50 });
  assert.deepEqual(parseLimit("0.5/1"), { ratePerSecond: 0.5, burst: 1 });
  assert.throws(() => parseLimit("fast"), /not a rate/);
  assert.throws(() => parseLimit("0/10"), RangeError);
  assert.deepEqual(parseDomainLimits("Gmail.com=50/100, outlook.com=20"), {
    "gmail.com": { ratePerSecond: 50, burst: 100 },
    "outlook.com": { ratePerSecond: 20, burst: 20 },
  });
  assert.deepEqual(parseDomainLimits(""), {});
  assert.throws(() => parseDomainLimits("gmail.com"), /domain=rate/);
  assert.throws(() => parseDomainLimits("gmail.com=x"), /not a rate/);
});

Deno.test("RateLimiter.give() puts a token back, never above the burst", () => {
  // The clock stands still: only give() refills.
  const rl = new RateLimiter({ defaultLimit: { ratePerSecond: 1, burst: 2 }, now: () => 0 });
  assert.equal(rl.take("a"), 0);
  assert.equal(rl.take("a"), 0);
  assert.ok(rl.take("a") > 0, "empty");
  rl.give("a");
  assert.equal(rl.take("a"), 0, "the given-back token");
  rl.give("a", 5);
  assert.equal(rl.take("a", 2), 0);
  assert.ok(rl.take("a") > 0, "capped at the burst");
});
