// deno run -A bench/webhooks_dispatch.ts — the webhooks plugin's two costs: the afterEvents hook
// writing the outbox (batches of 1,000 events, as the tracking recorder flushes them) and the
// dispatcher delivering it to a local receiver (signed, up to 100 events a request). One JSON line.
//
// Env: BENCH_N events (default 20000); TEST_DATABASE_URL selects PostgreSQL (else PGlite).
import { seedTenant, testApp } from "../tests/helpers/app.ts";
import { uuidv7 } from "../core/db/ids.ts";
import type { MailEvent } from "../core/plugin.ts";
import { webhooksPlugin } from "../plugins/webhooks/mod.ts";
import { enqueueEvents } from "../plugins/webhooks/outbox.ts";
import { WebhookDispatcher } from "../plugins/webhooks/dispatcher.ts";
import { createEndpoint } from "../plugins/webhooks/store.ts";

const N = Number(Deno.env.get("BENCH_N") ?? 20_000);
const t = await testApp({
  plugins: [webhooksPlugin],
  env: { WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_ALLOW_HTTP: "true" },
});
let received = 0;
let requests = 0;
const rx = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
  const body = await req.json();
  requests++;
  received += body.events.length;
  return new Response("ok");
});
try {
  const { tenant } = await seedTenant(t, { addons: ["webhooks"], slug: "bench-wh" });
  await createEndpoint(
    t.deps,
    tenant.id,
    {
      url: `http://127.0.0.1:${rx.addr.port}/`,
      events: ["opened", "clicked"],
    },
    "bench",
    { locale: "en" },
  );
  const event = (): MailEvent => ({
    tenantId: tenant.id,
    type: "opened",
    at: new Date(),
    sendId: uuidv7(),
    queueId: uuidv7(),
    recipient: "someone@example.org",
    details: { machine: false, machine_reason: null },
  });
  const t0 = performance.now();
  for (let i = 0; i < N; i += 1_000) {
    await enqueueEvents(t.deps, Array.from({ length: Math.min(1_000, N - i) }, event));
  }
  const t1 = performance.now();
  const d = new WebhookDispatcher(t.deps);
  while (await d.runOnce() > 0) { /* until the outbox is empty */ }
  const t2 = performance.now();
  if (received !== N) throw new Error(`receiver got ${received} of ${N} events`);
  console.log(JSON.stringify({
    bench: "webhooks_dispatch",
    database: Deno.env.get("TEST_DATABASE_URL") ? "postgres" : "pglite",
    events: N,
    enqueue_ms: Math.round(t1 - t0),
    enqueue_events_per_s: Math.round(N / ((t1 - t0) / 1000)),
    deliver_ms: Math.round(t2 - t1),
    deliver_events_per_s: Math.round(N / ((t2 - t1) / 1000)),
    requests,
  }));
} finally {
  await rx.shutdown();
  await t.close();
}
