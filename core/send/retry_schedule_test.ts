import assert from "node:assert/strict";
import { DEFAULT_RETRY_POLICY, nextAttempt, parseSchedule } from "./retry_schedule.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const start = new Date("2026-05-01T08:00:00Z");
const middle = () => 0.5;

Deno.test("parseSchedule() reads Haraka-style schedules", () => {
  assert.deepEqual(parseSchedule("30s, 5m,1h*3,1.5h,1d"), [
    30_000,
    5 * MIN,
    HOUR,
    HOUR,
    HOUR,
    1.5 * HOUR,
    24 * HOUR,
  ]);
  assert.throws(() => parseSchedule("5m,soon"), /Invalid retry schedule item "soon"/);
});

Deno.test("nextAttempt() backs off 5m, 15m, 1h, 3h, then every 6h", () => {
  const delays = [1, 2, 3, 4, 5, 6, 7].map((attempt) =>
    nextAttempt(attempt, start, { random: middle, firstAttemptAt: start })!.getTime() -
    start.getTime()
  );
  assert.deepEqual(delays, [5 * MIN, 15 * MIN, HOUR, 3 * HOUR, 6 * HOUR, 6 * HOUR, 6 * HOUR]);
});

Deno.test("nextAttempt() is deterministic for a given random source and stays within the jitter", () => {
  const low = nextAttempt(3, start, { random: () => 0 })!;
  const high = nextAttempt(3, start, { random: () => 0.999999 })!;
  assert.equal(low.getTime() - start.getTime(), 0.8 * HOUR);
  assert.ok(high.getTime() - start.getTime() <= 1.2 * HOUR);
  assert.ok(high.getTime() - start.getTime() > 1.19 * HOUR);
  let seed = 7;
  const lcg = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const a = nextAttempt(2, start, { random: lcg });
  seed = 7;
  assert.deepEqual(nextAttempt(2, start, { random: lcg }), a);
});

Deno.test("nextAttempt() gives up three days after the first attempt, with a last try at the deadline", () => {
  const deadline = start.getTime() + DEFAULT_RETRY_POLICY.maxAgeMs;
  const almost = new Date(deadline - HOUR);
  const last = nextAttempt(20, almost, { firstAttemptAt: start, random: middle });
  assert.equal(last?.getTime(), deadline);
  assert.equal(nextAttempt(21, new Date(deadline), { firstAttemptAt: start }), null);
});

Deno.test("nextAttempt() without a start time gives up once the nominal delays pass three days", () => {
  let now = start;
  let attempt = 1;
  for (;;) {
    const next = nextAttempt(attempt, now, { random: middle });
    if (next === null) break;
    now = next;
    attempt++;
  }
  const days = (now.getTime() - start.getTime()) / (24 * HOUR);
  assert.ok(days >= 2.9 && days <= 3, `last attempt after ${days} days`);
  assert.equal(attempt, 17);
});

Deno.test("nextAttempt() follows a custom policy and refuses a bad attempt number", () => {
  const policy = { delaysMs: parseSchedule("1m*2,10m"), maxAgeMs: HOUR, jitter: 0 };
  assert.equal(nextAttempt(1, start, { policy })!.getTime() - start.getTime(), MIN);
  assert.equal(nextAttempt(4, start, { policy })!.getTime() - start.getTime(), 10 * MIN);
  assert.equal(nextAttempt(9, start, { policy }), null, "62 nominal minutes are past the hour");
  assert.throws(() => nextAttempt(0, start), /positive integer/);
});
