// WakeLoop: sleeps as long as the round says, wakes at once on a notification, retries a failed
// round after a pause, and stops cleanly (unlistening).
import assert from "node:assert/strict";
import { WakeLoop } from "./wake_loop.ts";
import { silentLogger } from "./log.ts";

function fakeDatabase() {
  const state = { notify: null as (() => void) | null, unlistened: false };
  return {
    state,
    database: {
      listen(_channel: string, onNotify: (payload: string) => void) {
        state.notify = () => onNotify("");
        return Promise.resolve(() => {
          state.unlistened = true;
          return Promise.resolve();
        });
      },
    },
  };
}

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(ok());
};

Deno.test("WakeLoop: a notification ends a long sleep; stop() unlistens and returns", async () => {
  const { state, database } = fakeDatabase();
  let rounds = 0;
  const loop = new WakeLoop({
    channel: "test",
    database,
    log: silentLogger,
    round: () => Promise.resolve((rounds++, 60_000)),
  });
  await loop.start();
  await until(() => rounds === 1);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(rounds, 1, "asleep for a minute");
  state.notify!();
  await until(() => rounds === 2);
  await loop.stop();
  assert.ok(loop.stopping);
  assert.ok(state.unlistened);
});

Deno.test("WakeLoop: a failed round is retried after the pause", async () => {
  const { database } = fakeDatabase();
  let rounds = 0;
  const loop = new WakeLoop({
    channel: "test",
    database,
    log: silentLogger,
    retryMs: 10,
    round: () => {
      rounds++;
      return rounds === 1 ? Promise.reject(new Error("down")) : Promise.resolve(60_000);
    },
  });
  await loop.start();
  await until(() => rounds === 2);
  await loop.stop();
});

Deno.test("WakeLoop: a wake during a round is not lost: the next round follows at once", async () => {
  const rounds: number[] = [];
  const loop: WakeLoop = new WakeLoop({
    channel: "test_wake_during_round",
    database: { listen: () => Promise.resolve(() => Promise.resolve()) },
    log: silentLogger,
    round: () => {
      rounds.push(Date.now());
      // The news arrives while the first round is still reading the state.
      if (rounds.length === 1) loop.wake();
      return Promise.resolve(60_000);
    },
  });
  await loop.start();
  for (let i = 0; i < 50 && rounds.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  await loop.stop();
  assert.equal(rounds.length, 2, "woken mid-round, it ran again instead of sleeping a minute");
});
