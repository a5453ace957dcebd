import assert from "node:assert/strict";
import { OutcomeRecorder } from "./outcome_recorder.ts";

const quiet = { error() {} };

Deno.test("outcome recorder: writes a group once maxPending wait, in order, one at a time", async () => {
  const writes: number[][] = [];
  let running = 0;
  let overlapped = false;
  const r = new OutcomeRecorder<number>(
    async (batch) => {
      if (running++) overlapped = true;
      await new Promise((res) => setTimeout(res, 5));
      writes.push(batch);
      running--;
    },
    quiet,
    { maxPending: 3, maxDelayMs: 10_000 },
  );
  for (let i = 0; i < 7; i++) r.push(i);
  await r.close();
  assert.deepEqual(writes, [[0, 1, 2], [3, 4, 5], [6]]);
  assert.equal(overlapped, false);
  assert.equal(r.writes, 3);
});

Deno.test("outcome recorder: a lone outcome is written after maxDelayMs without close", async () => {
  const writes: string[][] = [];
  const r = new OutcomeRecorder<string>(
    (b) => {
      writes.push(b);
      return Promise.resolve();
    },
    quiet,
    { maxPending: 100, maxDelayMs: 5 },
  );
  r.push("a");
  const until = Date.now() + 2_000;
  while (!writes.length && Date.now() < until) await new Promise((res) => setTimeout(res, 5));
  assert.deepEqual(writes, [["a"]]);
  await r.close();
  assert.equal(writes.length, 1, "close has nothing more to write");
});

Deno.test("outcome recorder: a failed write is logged and later groups still go", async () => {
  const errors: unknown[] = [];
  const writes: number[][] = [];
  let first = true;
  const r = new OutcomeRecorder<number>(
    (b) => {
      if (first) {
        first = false;
        return Promise.reject(new Error("database down"));
      }
      writes.push(b);
      return Promise.resolve();
    },
    { error: (...a: unknown[]) => errors.push(a) },
    { maxPending: 2 },
  );
  for (let i = 0; i < 4; i++) r.push(i);
  await r.close();
  assert.deepEqual(writes, [[2, 3]]);
  assert.equal(errors.length, 1);
});
