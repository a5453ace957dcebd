// The send queue on a real database: expansion with dedupe and counted exclusions, claim with
// leases and fair sharing, pause/resume/cancel, retries, and a worker delivering to `capture`.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { seedTenant, testApp } from "./helpers/app.ts";
import { changeLifecycle, createPerson, markUndeliverable } from "../core/people/persons.ts";
import { addListMembers, createList } from "../core/people/lists.ts";
import { createSegment } from "../core/people/saved_segments.ts";
import {
  cancelSend,
  claimBatch,
  createSend,
  expandSend,
  getSend,
  pauseSend,
  recordOutcomes,
  recoverExpiredLeases,
  resumeSend,
  sendProgress,
} from "../core/send/queue.ts";
import { SendWorker } from "../core/send/worker.ts";
import { captureTransport } from "../core/send/transport.ts";

const t = await testApp();
const content = {
  from: { name: "Alumni Office", address: "alumni@uni.example" },
  subject: "Hej {{firstname}}!",
  html: "<p>Hej {{firstname}} {{lastname}} från {{organisation}}</p>",
  text: "Hej {{firstname}}",
};

async function people(tenantId: string, n: number, prefix: string) {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = await createPerson(t.deps, tenantId, {
      first_name: `${prefix}${i}`,
      addresses: [{ address: `${prefix}${i}@d${i % 3}.example` }],
    }, "test");
    ids.push(p.id);
  }
  return ids;
}

/** Each test starts with no other send active: the queue is shared by the whole database. */
async function quiesce() {
  await sql`update sends set status = 'cancelled' where status in ('sending', 'paused')`
    .execute(t.deps.db);
}

async function massSend(tenantId: string, audience: Record<string, unknown>) {
  const s = await createSend(t.deps, tenantId, { kind: "mass", content, audience }, "test");
  return { ...s, ...(await expandSend(t.deps, tenantId, s.id, "test")) };
}

Deno.test("expansion: one row per person across lists and segments, exclusions counted by reason", async () => {
  await quiesce();
  const { tenant } = await seedTenant(t, { slug: "expand-org" });
  const tid = tenant.id;
  const mk = (first: string, address?: string, tags: string[] = []) =>
    createPerson(t.deps, tid, {
      first_name: first,
      tags,
      addresses: address ? [{ address }] : [],
    }, "test");
  const anna = await mk("Anna", "anna@uni.example", ["vip"]);
  const bo = await mk("Bo", "bo@bounce.example");
  const cecilia = await mk("Cecilia", "cecilia@uni.example");
  const dan = await mk("Dan");
  const eva = await mk("Eva", "eva@uni.example", ["vip"]);
  const _fia = await mk("Fia", "fia@uni.example", ["vip", "optout"]);
  await markUndeliverable(t.deps, tid, "bo@bounce.example", "550 no such user");
  const l1 = await createList(t.deps, tid, { name: "L1" }, "test");
  const l2 = await createList(t.deps, tid, { name: "L2" }, "test");
  await addListMembers(
    t.deps,
    tid,
    l1.id,
    { person_ids: [anna.id, eva.id, cecilia.id, dan.id] },
    "test",
  );
  await addListMembers(t.deps, tid, l2.id, { person_ids: [eva.id, bo.id] }, "test");
  // Cecilia died after she was put on the list.
  await changeLifecycle(t.deps, tid, cecilia.id, "deceased", "test");
  const vip = await createSegment(t.deps, tid, {
    name: "VIP",
    definition: { op: "and", conditions: [{ tag: "vip", has: true }] },
  }, "test");
  const optout = await createSegment(t.deps, tid, {
    name: "Opt-out",
    definition: { op: "and", conditions: [{ tag: "optout", has: true }] },
  }, "test");

  const s = await massSend(tid, {
    lists: [l1.id, l2.id],
    segments: [vip.id],
    exclude_segments: [optout.id],
    addresses: ["guest@ext.example", "ANNA@uni.example", "not an address"],
  });
  // Anna (in L1 and VIP, and given again as a raw address), Eva (L1, L2, VIP) once each, plus
  // the guest address.
  assert.equal(s.total, 3);
  assert.deepEqual(s.excluded, {
    inactive: 1, // Cecilia, deceased
    no_address: 1, // Dan
    undeliverable: 1, // Bo
    excluded_segment: 1, // Fia
    invalid_address: 1,
  });
  const rows = await t.deps.db.selectFrom("send_queue").select(["address", "domain", "person_id"])
    .where("tenant_id", "=", tid).where("send_id", "=", s.id).orderBy("address").execute();
  assert.deepEqual(rows.map((r) => [r.address, r.domain]), [
    ["anna@uni.example", "uni.example"],
    ["eva@uni.example", "uni.example"],
    ["guest@ext.example", "ext.example"],
  ]);
  const send = await getSend(t.deps, tid, s.id);
  assert.equal(send.status, "sending");
  // A send is expanded once.
  await assert.rejects(expandSend(t.deps, tid, s.id, "test"), /conflict/);
});

Deno.test("a worker delivers every queued message to capture, merged, and finishes the send", async () => {
  await quiesce();
  const { tenant } = await seedTenant(t, { slug: "deliver-org" });
  const ids = await people(tenant.id, 25, "p");
  await t.deps.db.updateTable("persons").set({ last_name: "Öberg", organisation: "Åbo Akademi" })
    .where("tenant_id", "=", tenant.id).execute();
  const s = await massSend(tenant.id, { persons: ids });
  assert.equal(s.total, 25);
  const worker = new SendWorker(t.deps, captureTransport(t.deps), { batchSize: 10 });
  let handled = 0;
  for (let n = await worker.runOnce(); n > 0; n = await worker.runOnce()) handled += n;
  assert.equal(handled, 25);
  const mail = await t.deps.db.selectFrom("captured_mail").select(["rcpt_to", "subject", "raw"])
    .where("tenant_id", "=", tenant.id).where("send_id", "=", s.id).execute();
  assert.equal(mail.length, 25);
  const p7 = mail.find((m) => m.rcpt_to === "p7@d1.example")!;
  assert.equal(p7.subject, "Hej p7!");
  assert.match(p7.raw, /^Message-ID: <[0-9a-f-]{36}@uni\.example>\r$/m);
  const progress = await sendProgress(t.deps, tenant.id, s.id);
  assert.equal(progress.status, "done");
  assert.equal(progress.sent, 25);
  assert.equal((await getSend(t.deps, tenant.id, s.id)).sent, 25);
});

Deno.test("pause holds the rest, resume continues, cancel drops what is left", async () => {
  await quiesce();
  const { tenant } = await seedTenant(t, { slug: "control-org" });
  const s = await massSend(tenant.id, { persons: await people(tenant.id, 12, "c") });
  const first = await claimBatch(t.deps, "w1", { size: 4, leaseMs: 60_000 });
  assert.equal(first.length, 4);
  await pauseSend(t.deps, tenant.id, s.id, "test");
  assert.equal((await claimBatch(t.deps, "w1", { size: 50, leaseMs: 60_000 })).length, 0);
  // The 4 on the wire still finish while paused.
  await recordOutcomes(t.deps, first.map((r) => ({ ...r, status: "sent" as const, reply: "250" })));
  let p = await sendProgress(t.deps, tenant.id, s.id);
  assert.deepEqual([p.status, p.sent, p.held], ["paused", 4, 8]);
  await resumeSend(t.deps, tenant.id, s.id, "test");
  const second = await claimBatch(t.deps, "w1", { size: 3, leaseMs: 60_000 });
  assert.equal(second.length, 3);
  await recordOutcomes(
    t.deps,
    second.map((r) => ({ ...r, status: "sent" as const, reply: "250" })),
  );
  await cancelSend(t.deps, tenant.id, s.id, "test");
  p = await sendProgress(t.deps, tenant.id, s.id);
  assert.deepEqual([p.status, p.sent, p.cancelled, p.queued], ["cancelled", 7, 5, 0]);
  assert.equal((await claimBatch(t.deps, "w1", { size: 50, leaseMs: 60_000 })).length, 0);
});

Deno.test("deferred rows come back on the retry schedule; an expired lease returns rows", async () => {
  await quiesce();
  const { tenant } = await seedTenant(t, { slug: "retry-org" });
  const s = await massSend(tenant.id, { persons: await people(tenant.id, 4, "r") });
  // A lease long enough that a loaded machine does not end it before the test's clock does.
  const rows = await claimBatch(t.deps, "w1", { size: 10, leaseMs: 30_000 });
  assert.equal(rows.length, 4);
  const [a, b, ...rest] = rows;
  await recordOutcomes(t.deps, [
    { ...a!, status: "deferred", reply: "451 4.7.1 try later" },
    { ...b!, status: "failed", reply: "550 5.1.1 no such user" },
  ]);
  const deferred = await t.deps.db.selectFrom("send_queue").select([
    "status",
    "ready_at",
    "attempts",
  ])
    .where("tenant_id", "=", tenant.id).where("id", "=", a!.id).executeTakeFirstOrThrow();
  assert.equal(deferred.status, "queued");
  assert.equal(deferred.attempts, 1);
  const wait = deferred.ready_at.getTime() - Date.now();
  assert.ok(wait > 3 * 60_000 && wait < 7 * 60_000, `first retry in ~5 min, got ${wait} ms`);
  // Not claimable before it is due.
  assert.equal((await claimBatch(t.deps, "w2", { size: 10, leaseMs: 1_000 })).length, 0);

  // The worker holding the other two dies; after the lease they are claimable again.
  assert.equal(await recoverExpiredLeases(t.deps), 0);
  t.advance(31_000);
  assert.equal(await recoverExpiredLeases(t.deps), 2);
  const again = await claimBatch(t.deps, "w2", { size: 10, leaseMs: 60_000 });
  assert.deepEqual(again.map((r) => r.id).sort(), rest.map((r) => r.id).sort());
  assert.ok(again.every((r) => r.attempts === 2));
  const send = await getSend(t.deps, tenant.id, s.id);
  assert.deepEqual([send.failed, send.deferred], [1, 1]);
  t.advance(-31_000);
});

Deno.test("claims share a batch fairly between sends; transactional mail goes first", async () => {
  await quiesce();
  const x = await seedTenant(t, { slug: "fair-x" });
  const y = await seedTenant(t, { slug: "fair-y" });
  await massSend(x.tenant.id, { persons: await people(x.tenant.id, 40, "x") });
  await massSend(y.tenant.id, { persons: await people(y.tenant.id, 6, "y") });
  const batch = await claimBatch(t.deps, "w", { size: 20, leaseMs: 60_000 });
  const byTenant = (id: string) => batch.filter((r) => r.tenant_id === id).length;
  assert.equal(batch.length, 20);
  assert.equal(byTenant(y.tenant.id), 6, "the small send is not starved");
  assert.equal(byTenant(x.tenant.id), 14);

  const tx = await createSend(t.deps, y.tenant.id, {
    kind: "transactional",
    content,
    audience: { addresses: ["reset@user.example"] },
  }, "test");
  await expandSend(t.deps, y.tenant.id, tx.id, "test");
  const next = await claimBatch(t.deps, "w", { size: 1, leaseMs: 60_000 });
  assert.equal(next[0]?.send_id, tx.id);
});

Deno.test("expansion ids: UUIDv7, unique, one counter block per statement, later sends later", async () => {
  await quiesce();
  const { tenant } = await seedTenant(t, { slug: "ids-org" });
  const n = 5_000; // PGlite makes persons at ~2,000/s on this machine
  await sql`insert into persons (tenant_id, id, first_name, created_at, updated_at)
    select ${tenant.id}, skicka_uuidv7(), 'I' || g, now(), now() from generate_series(1, ${n}) g`
    .execute(t.deps.db);
  await sql`insert into person_addresses (tenant_id, id, person_id, address, address_key,
      is_primary, created_at)
    select tenant_id, skicka_uuidv7(), id, lower(first_name) || '@ids.example',
      lower(first_name) || '@ids.example', true, now()
    from persons where tenant_id = ${tenant.id}`.execute(t.deps.db);
  const everyone = await createSegment(t.deps, tenant.id, {
    name: "Everyone",
    definition: { op: "and", conditions: [] },
  }, "test");
  const ms = (id: string) => parseInt(id.replace(/-/g, "").slice(0, 12), 16);
  const idsOf = async (sendId: string) =>
    (await t.deps.db.selectFrom("send_queue").select(sql<string>`id::text`.as("id"))
      .where("tenant_id", "=", tenant.id).where("send_id", "=", sendId).orderBy("id").execute())
      .map((r) => r.id);

  const before = Date.now();
  const first = await massSend(tenant.id, { segments: [everyone.id] });
  const mid = Date.now();
  await new Promise((r) => setTimeout(r, 5)); // the next statement's timestamp is later
  const second = await massSend(tenant.id, { segments: [everyone.id] });
  const after = Date.now();
  assert.deepEqual([first.total, second.total], [n, n]);

  const a = await idsOf(first.id);
  const b = await idsOf(second.id);
  assert.equal(new Set([...a, ...b]).size, 2 * n, "unique");
  for (const id of [...a, ...b]) {
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  }
  // Each statement: one timestamp within its run, the rest a counter (sorted ids are consecutive).
  for (const [ids, from, to] of [[a, before, mid], [b, mid, after]] as const) {
    assert.equal(new Set(ids.map((id) => id.slice(0, 24))).size, 1, "one prefix per statement");
    assert.ok(ms(ids[0]!) >= from && ms(ids[0]!) <= to, "the statement's own time");
    const first = parseInt(ids[0]!.slice(24), 16);
    ids.forEach((id, i) => assert.equal(parseInt(id.slice(24), 16), first + i));
  }
  assert.ok(a.at(-1)! < b[0]!, "the later send's ids sort after the earlier send's");
});
