// scheduling plugin: tier gating, schedule → clock moved past → delivered, DST gap and
// overlap as concrete UTC instants, reschedule/unschedule, no edits while scheduled, and a
// scheduler that died after claiming (before or after starting) is taken over exactly once.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { apiClient, Browser, PASSWORD, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { createPerson } from "../../core/people/persons.ts";
import { createSender, verifySender } from "../../core/mailings/senders.ts";
import { sendMailing } from "../../core/mailings/send.ts";
import { SendWorker } from "../../core/send/worker.ts";
import { captureTransport } from "../../core/send/transport.ts";
import { updateTenant } from "../../core/tenants/tenants.ts";
import { schedulingPlugin } from "./mod.ts";
import { Scheduler } from "./scheduler.ts";
import { notifySchedulers } from "./schedules.ts";

const t = await testApp({ plugins: [schedulingPlugin] });
const org = await seedTenant(t, {
  tier: "advanced",
  slug: "sched-adv",
  scopes: ["read", "write", "send"],
});
const api = apiClient(t, org.key);
const tid = org.tenant.id;
const sender = await createSender(t.deps, tid, { name: "News", address: "news@uni.example" }, "t");
await verifySender(t.deps, tid, sender.id, "test");
const HOUR = 3_600_000;

let n = 0;
async function draft(subject = "Scheduled news") {
  const p = await createPerson(t.deps, tid, {
    first_name: "Ann",
    addresses: [{ address: `ann-${++n}@uni.example` }],
  }, "test");
  const m = await api("POST", "/mailings", {
    from_identity_id: sender.id,
    subject,
    body_html: "<p>Hej {{firstname}}</p>",
    recipients: { persons: [p.id] },
  });
  assert.equal(m.status, 201, JSON.stringify(m.body));
  return { id: m.body.id as string, address: `ann-${n}@uni.example` };
}

/** A local time `hours` from the app's clock, in Stockholm, as the form sends it. */
function localIn(hours: number): string {
  const at = new Date(t.deps.clock().getTime() + hours * HOUR);
  const f = new Intl.DateTimeFormat("sv-SE", {
    timeZone: "Europe/Stockholm",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  });
  return f.format(at).replace(" ", "T");
}

async function signIn(email: string) {
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email, password: PASSWORD })).status, 303);
  await b.get("/"); // the signed-in page's CSRF token
  return b;
}

const status = async (id: string) =>
  (await t.deps.db.selectFrom("mailings").select("status").where("tenant_id", "=", tid)
    .where("id", "=", id).executeTakeFirstOrThrow()).status;

async function until(what: string, cond: () => Promise<boolean>) {
  const end = Date.now() + 20_000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("tier gating: a Standard tenant gets 403 from the API and no panel on its mailing", async () => {
  const std = await seedTenant(t, { tier: "standard", slug: "sched-std" });
  const r = await apiClient(t, std.key)("GET", "/scheduling");
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, "plugin_not_enabled");
  const m = await apiClient(t, std.key)("POST", "/mailings", { subject: "x" });
  const b = await signIn(std.email);
  const page = await (await b.get(`/mailings/${m.body.id}/review`)).text();
  assert.ok(page.includes("/send"), "the review page itself is there");
  assert.ok(!page.includes("scheduling-panel"));
  assert.equal((await b.get("/p/scheduling")).status, 403);
  // The Advanced tenant sees the panel with its time zone.
  const adv = await signIn(org.email);
  const own = await draft();
  const html = await (await adv.get(`/mailings/${own.id}/review`)).text();
  assert.ok(html.includes('data-testid="scheduling-panel"'));
  assert.ok(html.includes("Europe/Stockholm"));
});

Deno.test("scheduled: not editable, then sent once the clock passes its time", async () => {
  const m = await draft();
  const local = localIn(2);
  const s = await api("PUT", `/scheduling/mailings/${m.id}`, { local });
  assert.equal(s.status, 200, JSON.stringify(s.body));
  assert.equal(s.body.status, "scheduled");
  assert.equal(s.body.local_time, local);
  assert.equal(s.body.time_zone, "Europe/Stockholm");
  assert.equal(await status(m.id), "scheduled");
  const edit = await api("PATCH", `/mailings/${m.id}`, { subject: "changed", version: 2 });
  assert.equal(edit.status, 409, "a scheduled mailing cannot be edited");
  assert.equal(
    (await api("GET", "/scheduling")).body.items.some((i: { mailing_id: string }) =>
      i.mailing_id === m.id
    ),
    true,
  );

  const scheduler = new Scheduler(t.deps, { id: "s1" });
  await scheduler.start();
  try {
    await notifySchedulers(t.deps);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await status(m.id), "scheduled", "not before its time");
    t.advance(2 * HOUR + 60_000);
    await notifySchedulers(t.deps); // what the clock moving means for a sleeping scheduler
    await until("the mailing to start", async () => (await status(m.id)) !== "scheduled");
  } finally {
    await scheduler.stop();
  }
  assert.equal(await status(m.id), "sending");
  const after = await api("GET", `/scheduling/mailings/${m.id}`);
  assert.equal(after.body.status, "started");
  assert.ok(after.body.send_id);
  const worker = new SendWorker(t.deps, captureTransport(t.deps));
  while (await worker.runOnce() > 0) { /* drain */ }
  const got = await t.deps.db.selectFrom("captured_mail").select("rcpt_to")
    .where("tenant_id", "=", tid).where("rcpt_to", "=", m.address).execute();
  assert.equal(got.length, 1, "delivered to the recipient once");
});

Deno.test("DST: 02:30 on 2027-03-28 is refused; 02:30 on 2027-10-31 is the first (00:30Z)", async () => {
  const m = await draft();
  const gap = await api("PUT", `/scheduling/mailings/${m.id}`, { local: "2027-03-28T02:30" });
  assert.equal(gap.status, 400);
  assert.equal(gap.body.error.details[0].path, "local");
  assert.equal(gap.body.error.details[0].code, "time_in_gap");
  assert.match(gap.body.error.details[0].message, /2027-03-28 03:30/);
  assert.equal(await status(m.id), "draft");

  const after = await api("PUT", `/scheduling/mailings/${m.id}`, { local: "2027-03-28T03:30" });
  assert.equal(after.body.due_at, "2027-03-28T01:30:00.000Z");
  const overlap = await api("PUT", `/scheduling/mailings/${m.id}`, { local: "2027-10-31T02:30" });
  assert.equal(overlap.status, 200, JSON.stringify(overlap.body));
  assert.equal(overlap.body.due_at, "2027-10-31T00:30:00.000Z");
  // That wall time happens twice: the offset says which.
  assert.equal(overlap.body.local_time, "2027-10-31T02:30+02:00");
  // An instant is taken as given: the second 02:30 (CET) by its offset.
  const second = await api("PUT", `/scheduling/mailings/${m.id}`, {
    at: "2027-10-31T02:30:00+01:00",
  });
  assert.equal(second.body.due_at, "2027-10-31T01:30:00.000Z");
  assert.equal(second.body.local_time, "2027-10-31T02:30+01:00");
  // Shown back in the viewer's zone and locale.
  await t.deps.db.updateTable("users").set({ time_zone: "America/New_York" })
    .where("tenant_id", "=", tid).execute();
  const b = await signIn(org.email);
  const html = await (await b.get(`/mailings/${m.id}`)).text();
  await t.deps.db.updateTable("users").set({ time_zone: null }).where("tenant_id", "=", tid)
    .execute();
  assert.match(html, /Scheduled for 30 Oct 2027, 21:30 \(America\/New_York\)/);
  assert.match(
    html,
    /2027-10-31 02:30 UTC\+01:00 in the organisation&#39;s time zone \(Europe\/Stockholm\)/,
  );
});

Deno.test("reschedule and unschedule until it starts; the past and bad input are refused", async () => {
  const m = await draft();
  const past = await api("PUT", `/scheduling/mailings/${m.id}`, { local: localIn(-1) });
  assert.equal(past.status, 400);
  assert.equal(past.body.error.details[0].code, "in_past");
  const bad = await api("PUT", `/scheduling/mailings/${m.id}`, { local: "tomorrow" });
  assert.equal(bad.body.error.details[0].code, "invalid_local");
  const both = await api("PUT", `/scheduling/mailings/${m.id}`, {
    local: localIn(1),
    at: "2030-01-01T00:00:00Z",
  });
  assert.equal(both.body.error.details[0].code, "one_of");

  const first = await api("PUT", `/scheduling/mailings/${m.id}`, { local: localIn(3) });
  const moved = await api("PUT", `/scheduling/mailings/${m.id}`, { local: localIn(5) });
  assert.equal(moved.body.id, first.body.id, "rescheduling moves the same schedule");
  assert.equal(
    new Date(moved.body.due_at).getTime() - new Date(first.body.due_at).getTime(),
    2 * HOUR,
  );

  const del = await t.app.request(`/api/v1/scheduling/mailings/${m.id}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${org.key}` },
  });
  assert.equal(del.status, 204);
  assert.equal(await status(m.id), "draft");
  assert.equal((await api("GET", `/scheduling/mailings/${m.id}`)).body.status, "cancelled");
  const again = await t.app.request(`/api/v1/scheduling/mailings/${m.id}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${org.key}` },
  });
  assert.equal(again.status, 409);
  // Unscheduled means unsent, even when its old time passes.
  t.advance(6 * HOUR);
  assert.equal(await new Scheduler(t.deps).runDue(), 0);
  assert.equal(await status(m.id), "draft");
  // Editable again, and can be scheduled anew.
  const cur = (await api("GET", `/mailings/${m.id}`)).body;
  assert.equal(
    (await api("PATCH", `/mailings/${m.id}`, { subject: "Fixed", version: cur.version }))
      .status,
    200,
  );
  assert.equal(
    (await api("PUT", `/scheduling/mailings/${m.id}`, { local: localIn(1) })).status,
    200,
  );
  await t.app.request(`/api/v1/scheduling/mailings/${m.id}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${org.key}` },
  });
});

Deno.test("the UI panel: schedule from the review page, refused gap shown, unschedule", async () => {
  const m = await draft();
  const b = await signIn(org.email);
  await b.get(`/mailings/${m.id}/review`);
  const gap = await b.post(`/p/scheduling/mailings/${m.id}`, { local: "2027-03-28T02:30" });
  assert.equal(gap.headers.get("location"), `/mailings/${m.id}/review`);
  const back = await (await b.get(`/mailings/${m.id}/review`)).text();
  assert.match(back, /does not exist in Europe\/Stockholm/);
  const ok = await b.post(`/p/scheduling/mailings/${m.id}`, { local: "2027-06-01T09:00" });
  assert.equal(ok.headers.get("location"), `/mailings/${m.id}`);
  const page = await (await b.get(`/mailings/${m.id}`)).text();
  assert.match(page, /Scheduled for 1 Jun 2027, 09:00 \(Europe\/Stockholm\)/);
  const list = await (await b.get("/p/scheduling")).text();
  assert.ok(list.includes(`/mailings/${m.id}`));
  await b.post(`/p/scheduling/mailings/${m.id}/unschedule`, {});
  assert.equal(await status(m.id), "draft");
});

Deno.test("a scheduler that died after claiming is taken over when its lease runs out", async () => {
  // Died before starting: the row is 'starting' under a lease that nobody will finish.
  const a = await draft();
  const b2 = await draft();
  await api("PUT", `/scheduling/mailings/${a.id}`, { local: localIn(1) });
  await api("PUT", `/scheduling/mailings/${b2.id}`, { local: localIn(1) });
  t.advance(HOUR + 60_000);
  const now = t.deps.clock();
  await sql`update scheduled_mailings set status = 'starting', claimed_by = 'dead',
    lease_until = ${new Date(now.getTime() + 5 * 60_000)}, attempts = 1
    where tenant_id = ${tid} and mailing_id in (${a.id}, ${b2.id})`.execute(t.deps.db);
  // …and for b2 it had even started the send before dying.
  await sendMailing(t.deps, tid, b2.id, "user:dead");
  const fresh = new Scheduler(t.deps, { id: "after-restart" });
  assert.equal(await fresh.runDue(), 0, "a live lease is respected");
  t.advance(5 * 60_000 + 1000);
  assert.equal(await fresh.runDue(), 2);
  for (const m of [a, b2]) {
    const s = (await api("GET", `/scheduling/mailings/${m.id}`)).body;
    assert.equal(s.status, "started");
    assert.equal(s.attempts, 2);
    const sends = await t.deps.db.selectFrom("sends").select("id").where("tenant_id", "=", tid)
      .where("mailing_id", "=", m.id).where("is_test", "=", false).execute();
    assert.equal(sends.length, 1, "one send, not two");
    assert.equal(s.send_id, sends[0]!.id);
  }
});

Deno.test("a start that fails (sender no longer verified) is recorded and the mailing is a draft", async () => {
  const other = await createSender(t.deps, tid, { name: "Old", address: "old@uni.example" }, "t");
  await verifySender(t.deps, tid, other.id, "test");
  const m = await draft();
  const cur = (await api("GET", `/mailings/${m.id}`)).body;
  await api("PATCH", `/mailings/${m.id}`, { from_identity_id: other.id, version: cur.version });
  await api("PUT", `/scheduling/mailings/${m.id}`, { local: localIn(1) });
  await t.deps.db.updateTable("sender_identities").set({ verified_at: null })
    .where("tenant_id", "=", tid).where("id", "=", other.id).execute();
  t.advance(HOUR + 60_000);
  await new Scheduler(t.deps).runDue();
  const s = (await api("GET", `/scheduling/mailings/${m.id}`)).body;
  assert.equal(s.status, "failed");
  assert.equal(s.error, "validation", "a code, not English text");
  assert.match(s.error_message, /from_identity_id: No such verified sender identity/);
  assert.equal(await status(m.id), "draft");
  // The panel says it in the reader's language.
  const b = await signIn(org.email);
  await t.deps.db.updateTable("users").set({ locale: "sv" }).where("tenant_id", "=", tid).execute();
  const html = await (await b.get(`/mailings/${m.id}/review`)).text();
  await t.deps.db.updateTable("users").set({ locale: null }).where("tenant_id", "=", tid).execute();
  assert.match(html, /kunde inte starta: Några fält är inte giltiga\. from_identity_id: Det finns/);
});

Deno.test("an idle scheduler wakes by itself at the next due time (no NOTIFY needed)", async () => {
  const m = await draft();
  const scheduler = new Scheduler(t.deps, { id: "idle" });
  // Scheduled before the scheduler listens, so only its own timer can start it.
  const at = new Date(t.deps.clock().getTime() + 1500).toISOString();
  assert.equal((await api("PUT", `/scheduling/mailings/${m.id}`, { at })).status, 200);
  await scheduler.start();
  try {
    await until(
      "the scheduler's timer to start it",
      async () => (await status(m.id)) !== "scheduled",
    );
  } finally {
    await scheduler.stop();
  }
  assert.equal(await status(m.id), "sending");
});

Deno.test("the API is documented in the OpenAPI document", async () => {
  const doc = await (await t.app.request("/api/v1/openapi.json")).json();
  assert.ok(doc.paths["/scheduling/mailings/{id}"].put);
  assert.ok(doc.paths["/scheduling/mailings/{id}"].delete);
  assert.ok(doc.paths["/scheduling"].get);
});

Deno.test("another tenant cannot see, schedule or unschedule a mailing", async () => {
  const m = await draft();
  await api("PUT", `/scheduling/mailings/${m.id}`, { local: localIn(2) });
  const other = await seedTenant(t, {
    tier: "advanced",
    slug: "sched-other",
    scopes: ["read", "write", "send"],
  });
  const o = apiClient(t, other.key);
  assert.equal((await o("GET", `/scheduling/mailings/${m.id}`)).status, 404);
  assert.equal((await o("PUT", `/scheduling/mailings/${m.id}`, { local: localIn(3) })).status, 404);
  const del = await t.app.request(`/api/v1/scheduling/mailings/${m.id}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${other.key}` },
  });
  assert.equal(del.status, 404);
  assert.deepEqual((await o("GET", "/scheduling")).body.items, []);
  const b = await signIn(other.email);
  assert.equal((await b.post(`/p/scheduling/mailings/${m.id}/unschedule`, {})).status, 404);
  assert.equal((await b.post(`/p/scheduling/mailings/${m.id}`, { local: localIn(3) })).status, 404);
  assert.equal(await status(m.id), "scheduled");
  await t.app.request(`/api/v1/scheduling/mailings/${m.id}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${org.key}` },
  });
});

Deno.test("a tenant moved down to Standard before the time: nothing is sent, the mailing is a draft", async () => {
  const t3 = await seedTenant(t, {
    tier: "advanced",
    slug: "sched-downgrade",
    scopes: ["read", "write", "send"],
  });
  const a3 = apiClient(t, t3.key);
  const s3 = await createSender(t.deps, t3.tenant.id, { name: "N", address: "n@d.example" }, "t");
  await verifySender(t.deps, t3.tenant.id, s3.id, "test");
  const p = await createPerson(t.deps, t3.tenant.id, {
    first_name: "D",
    addresses: [{ address: "d@d.example" }],
  }, "t");
  const m = (await a3("POST", "/mailings", {
    from_identity_id: s3.id,
    subject: "Later",
    body_html: "<p>x</p>",
    recipients: { persons: [p.id] },
  })).body;
  assert.equal(
    (await a3("PUT", `/scheduling/mailings/${m.id}`, { local: localIn(1) })).status,
    200,
  );
  await updateTenant(t.deps, t3.tenant.id, { tier: "standard" }, "operator:test");
  t.advance(HOUR + 60_000);
  await new Scheduler(t.deps).runDue();
  const row = await t.deps.db.selectFrom("mailings").select(["status", "send_id"])
    .where("tenant_id", "=", t3.tenant.id).where("id", "=", m.id).executeTakeFirstOrThrow();
  assert.deepEqual(row, { status: "draft", send_id: null });
});
