// Group commit: batched messages are queued exactly as enqueueRaw queues one, concurrent ones
// share transactions, a bad message does not refuse its neighbours, and a failed commit fails
// every message in it with nothing queued.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { seedTenant, testApp } from "../../tests/helpers/app.ts";
import { enqueueRaw } from "./enqueue.ts";
import { GroupCommit } from "./smtp_group_commit.ts";
import { transactionalPlugin } from "./mod.ts";

const t = await testApp({ plugins: [transactionalPlugin] });
Deno.test.afterAll(() => t.close());

const raw = (n: number) =>
  `From: Shop <orders@shop.example>\r\nSubject: Order ${n}\r\n\r\nThanks for order ${n}.\r\n`;

async function rows(tenantId: string) {
  return await t.deps.db.selectFrom("send_queue as q")
    .innerJoin(
      "sends as s",
      (j) => j.onRef("s.tenant_id", "=", "q.tenant_id").onRef("s.id", "=", "q.send_id"),
    )
    .select(["q.id", "q.address", "q.data", "q.priority", "q.status", "s.stream"])
    .where("q.tenant_id", "=", tenantId).orderBy("q.id").execute();
}

Deno.test("GroupCommit: concurrent messages share transactions and each gets its own ids", async () => {
  const { tenant } = await seedTenant(t, { slug: "gc-share", addons: ["transactional"] });
  const commits = new GroupCommit(t.deps, { maxBatch: 10, maxInFlight: 1 });
  const results = await Promise.all(
    Array.from({ length: 25 }, (_, i) =>
      commits.enqueue(tenant.id, {
        mailFrom: "orders@shop.example",
        rcptTo: [`c${i}@buyer.example`],
        raw: raw(i),
      })),
  );
  const all = await rows(tenant.id);
  assert.equal(all.length, 25);
  for (const [i, r] of results.entries()) {
    const row = all.find((x) => x.id === r.ids[0])!;
    assert.equal(row.address, `c${i}@buyer.example`, "ids come back to the right message");
    assert.match((row.data as { raw: string }).raw, new RegExp(`Order ${i}\\r\\n`));
  }
  // 25 messages, at most 10 per transaction, one at a time: 3 commits, seen as 3 created_at
  // groups would be fragile; the transaction ids are not. xmin tells which commit wrote a row.
  const xmins = await sql<{ n: number }>`select count(distinct xmin::text)::int as n from send_queue
    where tenant_id = ${tenant.id}`.execute(t.deps.db);
  assert.ok(Number(xmins.rows[0]!.n) <= 4, `25 messages in ${xmins.rows[0]!.n} commits`);
});

Deno.test("GroupCommit: a bad recipient refuses only its own message", async () => {
  const { tenant } = await seedTenant(t, { slug: "gc-bad", addons: ["transactional"] });
  const commits = new GroupCommit(t.deps, { maxBatch: 10, maxInFlight: 1 });
  const settled = await Promise.allSettled([
    commits.enqueue(tenant.id, {
      mailFrom: "a@shop.example",
      rcptTo: ["ok1@x.example"],
      raw: raw(1),
    }),
    commits.enqueue(tenant.id, {
      mailFrom: "a@shop.example",
      rcptTo: ["not-an-address"],
      raw: raw(2),
    }),
    commits.enqueue(tenant.id, {
      mailFrom: "a@shop.example",
      rcptTo: ["ok3@x.example"],
      raw: raw(3),
    }),
  ]);
  assert.deepEqual(settled.map((s) => s.status), ["fulfilled", "rejected", "fulfilled"]);
  assert.deepEqual((await rows(tenant.id)).map((r) => r.address).sort(), [
    "ok1@x.example",
    "ok3@x.example",
  ]);
});

Deno.test("GroupCommit: a failed commit fails every message in it and queues none", async () => {
  const { tenant } = await seedTenant(t, { slug: "gc-fail", addons: ["transactional"] });
  // The stream's send exists before the failure, so the failure is the queue insert itself.
  await enqueueRaw(t.deps, tenant.id, {
    mailFrom: "a@shop.example",
    rcptTo: ["w@x.example"],
    raw: raw(0),
  });
  await sql`create or replace function skicka_gc_fail() returns trigger language plpgsql as
    $$ begin raise exception 'disk full (test)'; end $$`.execute(t.deps.db);
  await sql`create trigger skicka_gc_fail before insert on send_queue
    for each row execute function skicka_gc_fail()`.execute(t.deps.db);
  const commits = new GroupCommit(t.deps, { maxBatch: 10, maxInFlight: 1 });
  try {
    const settled = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) =>
        commits.enqueue(tenant.id, {
          mailFrom: "a@shop.example",
          rcptTo: [`f${i}@x.example`],
          raw: raw(i),
        })),
    );
    assert.deepEqual(settled.map((s) => s.status), Array(5).fill("rejected"));
  } finally {
    await sql`drop trigger skicka_gc_fail on send_queue`.execute(t.deps.db);
  }
  assert.deepEqual((await rows(tenant.id)).map((r) => r.address), ["w@x.example"]);
});
