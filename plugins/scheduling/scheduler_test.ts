// The scheduler when things go wrong: a start interrupted between the core's two transactions
// (mailing sending, send still a draft) is expanded and delivered by the next round; transient
// errors are retried under the lease up to maxAttempts; a suspended tenant sends nothing; the
// panel's form answers 404 for an id that is not one; stop() mid-round hands back the rows it
// claimed but did not start.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { uuidv7 } from "../../core/db/ids.ts";
import { apiClient, Browser, PASSWORD, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { createPerson } from "../../core/people/persons.ts";
import { createSender, verifySender } from "../../core/mailings/senders.ts";
import { getMailing } from "../../core/mailings/mailings.ts";
import { freezeContent, sendMailing } from "../../core/mailings/send.ts";
import { createSend } from "../../core/send/queue.ts";
import { mailingSendKind } from "../../core/send/expansion.ts";
import { SendWorker } from "../../core/send/worker.ts";
import { captureTransport } from "../../core/send/transport.ts";
import { updateTenant } from "../../core/tenants/tenants.ts";
import { schedulingPlugin } from "./mod.ts";
import { Scheduler } from "./scheduler.ts";
import { dbOf } from "./schedules.ts";

const t = await testApp({ plugins: [schedulingPlugin] });
const HOUR = 3_600_000;
const LEASE = 5 * 60_000;

async function org(slug: string) {
  const o = await seedTenant(t, { tier: "advanced", slug, scopes: ["read", "write", "send"] });
  const api = apiClient(t, o.key);
  const sender = await createSender(
    t.deps,
    o.tenant.id,
    { name: "News", address: `news@${slug}.example` },
    "t",
  );
  await verifySender(t.deps, o.tenant.id, sender.id, "test");
  let n = 0;
  /** A draft to one person, scheduled an hour from now. */
  async function scheduled() {
    const address = `p${++n}@${slug}.example`;
    const p = await createPerson(t.deps, o.tenant.id, {
      first_name: "Ann",
      addresses: [{ address }],
    }, "t");
    const m = await api("POST", "/mailings", {
      from_identity_id: sender.id,
      subject: "Scheduled",
      body_html: "<p>Hej {{firstname}}</p>",
      recipients: { persons: [p.id] },
    });
    assert.equal(m.status, 201, JSON.stringify(m.body));
    const at = new Date(t.deps.clock().getTime() + HOUR).toISOString();
    const s = await api("PUT", `/scheduling/mailings/${m.body.id}`, { at });
    assert.equal(s.status, 200, JSON.stringify(s.body));
    return { id: m.body.id as string, address };
  }
  return { ...o, api, tid: o.tenant.id, scheduled };
}

const a = await org("sched-robust");

const mailingRow = async (tid: string, id: string) =>
  await t.deps.db.selectFrom("mailings").select(["status", "send_id"])
    .where("tenant_id", "=", tid).where("id", "=", id).executeTakeFirstOrThrow();

async function delivered(tid: string, address: string): Promise<number> {
  const worker = new SendWorker(t.deps, captureTransport(t.deps));
  while (await worker.runOnce() > 0) { /* drain */ }
  return (await t.deps.db.selectFrom("captured_mail").select("rcpt_to")
    .where("tenant_id", "=", tid).where("rcpt_to", "=", address).execute()).length;
}

/**
 * The crash state: a scheduler claimed the row, the core's first transaction committed the
 * mailing as sending with a draft send, and the process died before expanding it.
 */
async function crashedMidStart(tid: string, id: string, audience?: Record<string, unknown>) {
  const now = t.deps.clock();
  await sql`update scheduled_mailings set status = 'starting', claimed_by = 'dead',
    lease_until = ${new Date(now.getTime() + LEASE)}, attempts = 1
    where tenant_id = ${tid} and mailing_id = ${id}`.execute(t.deps.db);
  const cur = await getMailing(t.deps, tid, id);
  const { content } = await freezeContent(t.deps, tid, cur);
  await t.deps.db.transaction().execute(async (trx) => {
    const s = await createSend({ db: trx, clock: t.deps.clock }, tid, {
      kind: mailingSendKind(cur.recipients),
      content,
      audience: audience ?? cur.recipients,
    }, "user:dead");
    await trx.updateTable("sends").set({ mailing_id: id })
      .where("tenant_id", "=", tid).where("id", "=", s.id).execute();
    await trx.updateTable("mailings").set({ status: "sending", send_id: s.id })
      .where("tenant_id", "=", tid).where("id", "=", id).execute();
  });
}

Deno.test("a start interrupted after the core committed `sending` with a draft send is expanded and delivered", async () => {
  const m = await a.scheduled();
  t.advance(HOUR + 60_000);
  await crashedMidStart(a.tid, m.id);
  const sendId = (await mailingRow(a.tid, m.id)).send_id!;
  const sendState = async () => {
    const s = await t.deps.db.selectFrom("sends").select("status")
      .where("tenant_id", "=", a.tid).where("id", "=", sendId).executeTakeFirstOrThrow();
    const q = await t.deps.db.selectFrom("send_queue").select(sql<number>`count(*)::int`.as("n"))
      .where("tenant_id", "=", a.tid).where("send_id", "=", sendId).executeTakeFirstOrThrow();
    return { send: s.status, queued: Number(q.n) };
  };
  assert.deepEqual(await sendState(), { send: "draft", queued: 0 });

  t.advance(LEASE + 1000);
  assert.equal(await new Scheduler(t.deps, { id: "next" }).runDue(), 1);
  const s = (await a.api("GET", `/scheduling/mailings/${m.id}`)).body;
  assert.equal(s.status, "started");
  assert.equal(s.send_id, sendId);
  assert.equal((await sendState()).queued, 1, "the audience was expanded");
  assert.equal(await delivered(a.tid, m.address), 1, "and the mail delivered, once");
  const sends = await t.deps.db.selectFrom("sends").select("id").where("tenant_id", "=", a.tid)
    .where("mailing_id", "=", m.id).execute();
  assert.equal(sends.length, 1);
});

Deno.test("an interrupted start whose expansion is refused fails with the reason; send gone, a draft", async () => {
  const m = await a.scheduled();
  t.advance(HOUR + 60_000);
  // A segment deleted meanwhile: the core refuses to expand (not_found).
  await crashedMidStart(a.tid, m.id, { segments: [uuidv7()] });
  t.advance(LEASE + 1000);
  assert.equal(await new Scheduler(t.deps).runDue(), 1);
  const s = (await a.api("GET", `/scheduling/mailings/${m.id}`)).body;
  assert.equal(s.status, "failed");
  assert.equal(s.error, "not_found");
  assert.deepEqual(await mailingRow(a.tid, m.id), { status: "draft", send_id: null });
  const sends = await t.deps.db.selectFrom("sends").select("id").where("tenant_id", "=", a.tid)
    .where("mailing_id", "=", m.id).execute();
  assert.equal(sends.length, 0, "the draft send is gone");
});

Deno.test("a transient error is retried when the lease runs out, and the mail goes out once", async () => {
  const m = await a.scheduled();
  t.advance(HOUR + 60_000);
  let calls = 0;
  const scheduler = new Scheduler(t.deps, {
    id: "flaky",
    startSend: async (deps, tenantId, mailingId, actor, opts) => {
      if (++calls === 1) {
        // What the core leaves after expanding failed on a reset connection: a draft again.
        await deps.db.updateTable("mailings").set({ status: "draft" })
          .where("tenant_id", "=", tenantId).where("id", "=", mailingId).execute();
        throw new Error("Connection reset by peer");
      }
      return await sendMailing(deps, tenantId, mailingId, actor, opts);
    },
  });
  assert.equal(await scheduler.runDue(), 1);
  let s = (await a.api("GET", `/scheduling/mailings/${m.id}`)).body;
  assert.equal(s.status, "starting", "still claimed: not failed");
  assert.equal(s.error, null);
  assert.equal((await mailingRow(a.tid, m.id)).status, "scheduled", "locked against edits");
  assert.equal(await scheduler.runDue(), 0, "not before the lease runs out");
  t.advance(LEASE + 1000);
  assert.equal(await scheduler.runDue(), 1);
  s = (await a.api("GET", `/scheduling/mailings/${m.id}`)).body;
  assert.equal(s.status, "started");
  assert.equal(s.attempts, 2);
  assert.equal(calls, 2);
  assert.equal(await delivered(a.tid, m.address), 1);
});

Deno.test("transient errors up to maxAttempts, then failed with a reason and the mailing a draft", async () => {
  const m = await a.scheduled();
  t.advance(HOUR + 60_000);
  const scheduler = new Scheduler(t.deps, {
    id: "down",
    maxAttempts: 2,
    startSend: () => Promise.reject(new Error("deadlock detected")),
  });
  assert.equal(await scheduler.runDue(), 1);
  assert.equal((await a.api("GET", `/scheduling/mailings/${m.id}`)).body.status, "starting");
  t.advance(LEASE + 1000);
  assert.equal(await scheduler.runDue(), 1);
  const s = (await a.api("GET", `/scheduling/mailings/${m.id}`)).body;
  assert.equal(s.status, "failed");
  assert.equal(s.attempts, 2);
  assert.equal(s.error, "attempts_exhausted");
  assert.match(s.error_message, /after 2 attempts because of a temporary fault/);
  assert.deepEqual(await mailingRow(a.tid, m.id), { status: "draft", send_id: null });
  t.advance(LEASE + 1000);
  assert.equal(await scheduler.runDue(), 0, "given up: not claimed again");
});

Deno.test("a suspended tenant's due schedule fails (tenant_suspended); nothing is sent", async () => {
  const b = await org("sched-suspended");
  const m = await b.scheduled();
  await updateTenant(t.deps, b.tid, { status: "suspended" }, "operator:test");
  t.advance(HOUR + 60_000);
  assert.equal(await new Scheduler(t.deps).runDue(), 1);
  assert.deepEqual(await mailingRow(b.tid, m.id), { status: "draft", send_id: null });
  const row = await dbOf(t.deps).selectFrom("scheduled_mailings").select(["status", "error"])
    .where("tenant_id", "=", b.tid).where("mailing_id", "=", m.id).executeTakeFirstOrThrow();
  assert.deepEqual(row, { status: "failed", error: "tenant_suspended" });
  const sends = await t.deps.db.selectFrom("sends").select("id").where("tenant_id", "=", b.tid)
    .execute();
  assert.equal(sends.length, 0);
});

Deno.test("the panel's forms answer 404 for an id that is not a mailing id", async () => {
  const br = new Browser(t.app);
  await br.get("/login");
  assert.equal((await br.post("/login", { email: a.email, password: PASSWORD })).status, 303);
  await br.get("/");
  assert.equal((await br.post("/p/scheduling/mailings/not-a-uuid", { local: "x" })).status, 404);
  assert.equal((await br.post("/p/scheduling/mailings/not-a-uuid/unschedule", {})).status, 404);
});

Deno.test("stop() during a round finishes the start in hand and hands back the claimed rest", async () => {
  const c = await org("sched-stop");
  const first = await c.scheduled();
  const second = await c.scheduled();
  const mine = new Set([first.id, second.id]);
  let blocked: string | null = null;
  let entered!: () => void;
  const inStart = new Promise<void>((r) => entered = r);
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const scheduler = new Scheduler(t.deps, {
    id: "stopping",
    startSend: async (deps, tid, id, by) => {
      if (mine.has(id) && blocked === null) {
        blocked = id;
        entered();
        await gate;
      }
      return await sendMailing(deps, tid, id, by);
    },
  });
  await scheduler.start();
  let stopped = false;
  try {
    await new Promise((r) => setTimeout(r, 100)); // asleep: nothing due for an hour
    assert.equal(blocked, null);
    t.advance(HOUR + 60_000);
    scheduler.wake(); // what a NOTIFY does for a sleeping scheduler after the clock moved
    await inStart;
    const stopping = scheduler.stop().then(() => stopped = true);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(stopped, false, "stop() waits for the start in hand");
    release();
    await stopping;
  } finally {
    release();
    if (!stopped) await scheduler.stop();
  }
  const row = async (id: string) =>
    await dbOf(t.deps).selectFrom("scheduled_mailings")
      .select(["status", "claimed_by", "lease_until", "attempts"])
      .where("tenant_id", "=", c.tid).where("mailing_id", "=", id).executeTakeFirstOrThrow();
  const other = blocked === first.id ? second.id : first.id;
  assert.equal((await row(blocked!)).status, "started");
  assert.equal((await mailingRow(c.tid, blocked!)).status, "sending");
  const back = await row(other);
  assert.deepEqual(
    { status: back.status, claimed_by: back.claimed_by, lease_until: back.lease_until },
    { status: "scheduled", claimed_by: null, lease_until: null },
    "handed back unstarted, so no lease has to run out",
  );
  assert.equal((await mailingRow(c.tid, other)).status, "scheduled");
  assert.equal(await new Scheduler(t.deps, { id: "next-one" }).runDue(), 1, "free to claim");
  assert.equal((await row(other)).status, "started");
});
