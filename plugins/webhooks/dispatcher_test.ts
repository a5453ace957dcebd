// The dispatcher against a real receiver (Deno.serve on 127.0.0.1): signed requests a receiver
// verifies, retries with backoff on the app's clock (500, 500, 200 → delivered on the third
// attempt), giving up after 24 hours and a manual retry, timeouts, batching, and at-least-once
// delivery when a dispatcher dies holding a lease.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { apiClient, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { uuidv7 } from "../../core/db/ids.ts";
import type { MailEvent } from "../../core/plugin.ts";
import { webhooksPlugin } from "./mod.ts";
import { enqueueEvents } from "./outbox.ts";
import { backoffMs, WebhookDispatcher } from "./dispatcher.ts";
import { verifySignature } from "./signature.ts";
import { type Receiver, startReceiver } from "./_test_receiver.ts";

const t = await testApp({
  plugins: [webhooksPlugin],
  env: { WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_ALLOW_HTTP: "true" },
});
const { tenant, key } = await seedTenant(t, { addons: ["webhooks"], slug: "wh-dispatch" });
const api = apiClient(t, key);
const HOUR = 3600_000;

/** Earlier tests' endpoints and events out of the way: each test sees only its own. */
async function only(endpointId: string) {
  await sql`update webhook_endpoints set enabled = (id = ${endpointId})
    where tenant_id = ${tenant.id}`.execute(t.deps.db);
  await sql`delete from webhook_events where tenant_id = ${tenant.id}
    and endpoint_id <> ${endpointId}`.execute(t.deps.db);
}

/** A receiver with its own endpoint (subscribed to everything) and the endpoint's secret. */
async function endpoint(): Promise<{ rx: Receiver; id: string; secret: string }> {
  const rx = startReceiver();
  const r = await api("POST", "/webhooks", {
    url: rx.url,
    events: ["sent", "delivered", "deferred", "bounced", "opened", "clicked"],
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await only(r.body.id);
  return { rx, id: r.body.id, secret: r.body.secret };
}

function events(n: number, type: MailEvent["type"] = "delivered"): MailEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    tenantId: tenant.id,
    type,
    at: t.deps.clock(),
    sendId: uuidv7(),
    queueId: uuidv7(),
    recipient: `r${i}@example.org`,
    details: { reply: "250 2.0.0 Ok" },
  }));
}

const dispatcher = (opts: ConstructorParameters<typeof WebhookDispatcher>[1] = {}) =>
  new WebhookDispatcher(t.deps, { random: () => 1, ...opts });

async function rowsOf(endpointId: string) {
  return await sql<{ status: string; attempts: number; last_error: string | null }>`
    select status, attempts, last_error from webhook_events
    where tenant_id = ${tenant.id} and endpoint_id = ${endpointId} order by id`
    .execute(t.deps.db).then((r) => r.rows);
}

Deno.test("a 500, a 500, then 200: delivered on the third attempt, signed each time", async () => {
  const { rx, id, secret } = await endpoint();
  try {
    rx.script.push(500, 500);
    await enqueueEvents(t.deps, events(1));
    const d = dispatcher();
    assert.equal(await d.runOnce(), 1);
    assert.deepEqual(await rowsOf(id), [{
      status: "pending",
      attempts: 1,
      last_error: "HTTP 500",
    }]);
    // Not due before the backoff has passed…
    t.advance(backoffMs(1, () => 1) - 1_000);
    assert.equal(await d.runOnce(), 0);
    t.advance(1_000);
    assert.equal(await d.runOnce(), 1);
    // …and the second wait is twice the first.
    t.advance(backoffMs(2, () => 1) - 1_000);
    assert.equal(await d.runOnce(), 0);
    t.advance(1_000);
    assert.equal(await d.runOnce(), 1);
    assert.deepEqual(await rowsOf(id), [{ status: "delivered", attempts: 3, last_error: null }]);
    assert.equal(rx.received.length, 3);
    // The same event every time (receivers dedupe on its id), and every request verifies.
    const ids = rx.received.map((r) => r.json.events[0].id);
    assert.equal(new Set(ids).size, 1);
    for (const r of rx.received) {
      const v = await verifySignature(secret, r.headers.get("skicka-signature"), r.body, {
        now: t.deps.clock(),
        toleranceS: 3600,
      });
      assert.equal(v.ok, true, JSON.stringify(v));
      assert.equal(r.headers.get("content-type"), "application/json");
    }
    const log = await api("GET", `/webhooks/${id}/deliveries`);
    assert.deepEqual(
      log.body.items.map((x: { status_code: number; ok: boolean }) => [x.status_code, x.ok]),
      [[200, true], [500, false], [500, false]],
    );
  } finally {
    await rx.close();
  }
});

Deno.test("backoffMs() doubles from ~30 s to an hour, jittered between half and all of it", () => {
  assert.equal(backoffMs(1, () => 1), 30_000);
  assert.equal(backoffMs(1, () => 0), 15_000);
  assert.equal(backoffMs(2, () => 1), 60_000);
  assert.equal(backoffMs(5, () => 1), 480_000);
  assert.equal(backoffMs(20, () => 1), HOUR);
  const spread = new Set(Array.from({ length: 50 }, () => backoffMs(3)));
  assert.ok(spread.size > 10, "jitter spreads the retries");
  for (const ms of spread) assert.ok(ms >= 60_000 && ms <= 120_000);
});

Deno.test("after 24 hours of failures the events are failed; a manual retry delivers them", async () => {
  const { rx, id } = await endpoint();
  try {
    rx.script.push(...Array(100).fill(503));
    await enqueueEvents(t.deps, events(2));
    const d = dispatcher();
    let rounds = 0;
    // Keep the receiver failing: attempts follow the schedule until the 24 hours are up.
    for (let waited = 0; waited <= 25 * HOUR; waited += 10 * 60_000) {
      rounds += await d.runOnce() > 0 ? 1 : 0;
      t.advance(10 * 60_000);
    }
    await d.runOnce();
    const rows = await rowsOf(id);
    assert.deepEqual(rows.map((r) => r.status), ["failed", "failed"]);
    assert.ok(rounds >= 8 && rounds <= 40, `attempt rounds within 24 h: ${rounds}`);
    assert.equal(rows[0]!.last_error, "HTTP 503");
    const attempts = rx.received.length;
    t.advance(HOUR);
    assert.equal(await d.runOnce(), 0, "failed events are not tried again by themselves");
    assert.equal(rx.received.length, attempts);

    rx.script.length = 0;
    const log = (await api("GET", `/webhooks/${id}/deliveries?limit=1`)).body.items;
    assert.equal(log[0].failed, 2);
    const retry = await api("POST", `/webhooks/${id}/deliveries/${log[0].id}/retry`);
    assert.equal(retry.status, 202, JSON.stringify(retry.body));
    assert.equal(retry.body.requeued, 2);
    assert.equal(await d.runOnce(), 2);
    assert.deepEqual((await rowsOf(id)).map((r) => r.status), ["delivered", "delivered"]);
    const again = await api("POST", `/webhooks/${id}/deliveries/${log[0].id}/retry`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.details[0].code, "nothing_to_retry");
  } finally {
    await rx.close();
  }
});

Deno.test("a receiver slower than the time limit counts as a failed attempt", async () => {
  const rx = startReceiver();
  const slow = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    await new Promise((r) => setTimeout(r, 2_000));
    return new Response("late");
  });
  try {
    const r = await api("POST", "/webhooks", {
      url: `http://127.0.0.1:${slow.addr.port}/slow`,
      events: ["delivered"],
    });
    await only(r.body.id);
    await enqueueEvents(t.deps, events(1));
    const d = new WebhookDispatcher(
      { ...t.deps, config: { ...t.deps.config, webhookTimeoutMs: 300 } },
      { random: () => 1 },
    );
    assert.equal(await d.runOnce(), 1);
    const [row] = await rowsOf(r.body.id);
    assert.equal(row!.status, "pending");
    assert.match(row!.last_error ?? "", /timeout after 300 ms/);
  } finally {
    await slow.shutdown();
    await rx.close();
  }
});

Deno.test("busy: many events go in batches of at most the cap per request", async () => {
  const { rx, id } = await endpoint();
  try {
    await enqueueEvents(t.deps, events(250));
    assert.equal(await dispatcher({ maxEventsPerRequest: 100 }).runOnce(), 250);
    const sizes = rx.received.map((r) => r.json.events.length).sort((a, b) => b - a);
    assert.deepEqual(sizes, [100, 100, 50]);
    const ids = new Set(rx.received.flatMap((r) => r.json.events.map((e: { id: string }) => e.id)));
    assert.equal(ids.size, 250);
    assert.ok((await rowsOf(id)).every((r) => r.status === "delivered"));
    // A quiet moment: one event, one request of one.
    await enqueueEvents(t.deps, events(1));
    await dispatcher().runOnce();
    assert.equal(rx.received.at(-1)!.json.events.length, 1);
  } finally {
    await rx.close();
  }
});

Deno.test("at least once: a dispatcher that dies holding rows loses nothing", async () => {
  const { rx, id } = await endpoint();
  try {
    await enqueueEvents(t.deps, events(5));
    const a = dispatcher({ workerId: "a" });
    const b = dispatcher({ workerId: "b" });
    // Two claim at once: each row goes to one of them (SKIP LOCKED), none to both.
    const [ca, cb] = await Promise.all([a.claim(), b.claim()]);
    const claimed = [...ca, ...cb].map((r) => r.id);
    assert.equal(claimed.length, 5);
    assert.equal(new Set(claimed).size, 5);
    // Both "crash" before delivering. While their leases hold, nobody else sends the rows…
    const c = dispatcher({ workerId: "c" });
    assert.equal(await c.runOnce(), 0);
    assert.equal(rx.received.length, 0);
    // …once the leases run out, the rows are delivered.
    t.advance(t.deps.config.webhookTimeoutMs * 3 + 31_000);
    assert.equal(await c.runOnce(), 5);
    assert.equal(rx.received.flatMap((r) => r.json.events).length, 5);
    assert.deepEqual((await rowsOf(id)).map((r) => r.status), Array(5).fill("delivered"));
    // A late answer from the dead worker changes nothing it no longer holds.
    assert.equal(await a.runOnce(), 0);
  } finally {
    await rx.close();
  }
});

Deno.test("start(): a NOTIFY wakes the running dispatcher; stop() ends it", async () => {
  const { rx } = await endpoint();
  const d = dispatcher({ idleWaitMs: 60_000 });
  await d.start();
  try {
    await new Promise((r) => setTimeout(r, 100));
    await enqueueEvents(t.deps, events(1, "opened"));
    await rx.waitFor(1, 5_000);
    assert.equal(rx.received[0]!.json.events[0].type, "opened");
  } finally {
    await d.stop();
    await rx.close();
  }
});

Deno.test("cleanup", async () => {
  await t.close();
});
