// The automation plugin end to end on one database (PGlite, or PostgreSQL with
// TEST_DATABASE_URL): tier gating, recurring runs at the right instants across a DST change
// with the segment re-evaluated per run, the stop switch, triggered sends for staff, API and
// import adds (and not for earlier members), waiting periods across triggers and segments,
// samples, unsubscribed/undeliverable persons left out, the send scope, suspended tenants,
// the set-based list sweep and the pruning of trigger events. The clock is the test app's.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { apiClient, Browser, PASSWORD, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { createPerson, markUndeliverable } from "../../core/people/persons.ts";
import { createSegment } from "../../core/people/saved_segments.ts";
import { createList } from "../../core/people/lists.ts";
import { unsubscribe } from "../../core/feedback/unsubscribe.ts";
import { createSender, verifySender } from "../../core/mailings/senders.ts";
import { startMailingRun } from "../../core/mailings/mailing_run.ts";
import { cancelMailing } from "../../core/mailings/send.ts";
import { createSend } from "../../core/send/queue.ts";
import { SendWorker } from "../../core/send/worker.ts";
import { RelayTransport } from "../../core/send/smtp_transport.ts";
import { startSmtpServer } from "../../core/smtp/_test_servers.ts";
import type { Plugin } from "../../core/plugin.ts";
import { uuidv7 } from "../../core/db/ids.ts";
import { automationPlugin } from "./mod.ts";
import { AutomationWorker } from "./scheduler.ts";
import { pruneTriggerEvents, sweepLists } from "./triggers.ts";
import { createApiKey } from "../../core/auth/api_keys.ts";

/** Stands in for a plugin that vetoes sends (as RSS does with no new items). */
const vetoPlugin: Plugin = {
  name: "veto_test",
  tier: "advanced",
  hooks: {
    sendData: (ctx) =>
      Promise.resolve(
        ctx.content.subject.includes("[veto]") ? { skip: { reason: "nothing new" } } : {},
      ),
  },
};

const t = await testApp({ plugins: [automationPlugin, vetoPlugin] });
const org = await seedTenant(t, {
  tier: "advanced",
  slug: "auto-org",
  scopes: ["read", "write", "admin", "send"],
});
const api = apiClient(t, org.key);
const tid = org.tenant.id;
const worker = new AutomationWorker(t.deps, { id: "test-worker" });
const sender = await createSender(t.deps, tid, { name: "News", address: "news@uni.example" }, "t");
await verifySender(t.deps, tid, sender.id, "test");

/** Moves the app's clock to an instant (only forward in these tests). */
function setClock(iso: string) {
  t.advance(new Date(iso).getTime() - t.deps.clock().getTime());
}

let n = 0;
const person = (tags: string[], address?: string) =>
  createPerson(t.deps, tid, {
    first_name: `P${++n}`,
    tags,
    addresses: [{ address: address ?? `p${n}-${crypto.randomUUID().slice(0, 6)}@uni.example` }],
  }, "test");
const segment = (tag: string) =>
  createSegment(t.deps, tid, {
    name: `Tag ${tag}`,
    definition: { op: "and", conditions: [{ tag, has: true }] },
  }, "t");
async function mailing(subject: string, body_html = "<p>Hello {{firstname}}</p>") {
  const r = await api("POST", "/mailings", {
    from_address: "news@uni.example",
    subject,
    body_html,
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.id as string;
}
/** Person ids queued by a send. */
async function recipientsOf(sendId: string): Promise<string[]> {
  const rows = await t.deps.db.selectFrom("send_queue").select("person_id")
    .where("tenant_id", "=", tid).where("send_id", "=", sendId).orderBy("person_id").execute();
  return rows.map((r) => r.person_id!);
}
async function runsOf(ruleId: string) {
  const r = await api("GET", `/automation/rules/${ruleId}/runs`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  // deno-lint-ignore no-explicit-any -- checked field by field
  return (r.body.items as any[]).slice().reverse(); // oldest first
}

Deno.test("tier gating: a Standard tenant gets 403 from the API and the pages", async () => {
  const std = await seedTenant(t, { tier: "standard", slug: "auto-std" });
  const r = await apiClient(t, std.key)("GET", "/automation/rules");
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, "plugin_not_enabled");
  const b = new Browser(t.app);
  await b.get("/login");
  await b.post("/login", { email: std.email, password: PASSWORD });
  assert.equal((await b.get("/p/automation")).status, 403);
  assert.equal((await api("GET", "/automation/rules")).status, 200);
});

Deno.test("recurring: every Monday 14:00 Stockholm time across the spring DST change, segment re-evaluated, stop switch", async () => {
  setClock("2027-03-20T10:00:00Z"); // Saturday, CET (UTC+1)
  const seg = await segment("weekly");
  const a = await person(["weekly"]);
  const b = await person(["weekly"]);
  const m = await mailing("Weekly news");
  const created = await api("POST", "/automation/rules", {
    kind: "recurring",
    name: "Weekly",
    mailing_id: m,
    segment_ids: [seg.id],
    weekdays: [1],
    times: ["14:00"],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const rule = created.body;
  assert.equal(rule.time_zone, "Europe/Stockholm");
  assert.equal(rule.next_run_at, "2027-03-22T13:00:00.000Z"); // 14:00 CET

  setClock("2027-03-22T12:59:00Z");
  assert.deepEqual(await worker.tick(), { runs: 0, triggered: 0 }, "not due a minute early");
  setClock("2027-03-22T13:00:05Z");
  assert.equal((await worker.tick()).runs, 1);
  assert.equal((await worker.tick()).runs, 0, "an occurrence runs once");

  // The segment changes between runs; the clocks go forward on Sunday 28 March.
  const c = await person(["weekly"]);
  const after = (await api("GET", `/automation/rules/${rule.id}`)).body;
  assert.equal(after.next_run_at, "2027-03-29T12:00:00.000Z"); // 14:00 CEST
  setClock("2027-03-29T11:59:00Z");
  assert.equal((await worker.tick()).runs, 0);
  setClock("2027-03-29T12:00:05Z");
  assert.equal((await worker.tick()).runs, 1);

  const runs = await runsOf(rule.id);
  assert.deepEqual(runs.map((r) => [r.occurrence_at, r.status, r.total]), [
    ["2027-03-22T13:00:00.000Z", "sent", 2],
    ["2027-03-29T12:00:00.000Z", "sent", 3],
  ]);
  assert.deepEqual(await recipientsOf(runs[0].send_id), [a.id, b.id].sort());
  assert.deepEqual(await recipientsOf(runs[1].send_id), [a.id, b.id, c.id].sort());
  // Each run is its own send of the mailing; the mailing stays a draft (the template).
  const sends = await t.deps.db.selectFrom("sends").select(["id", "mailing_id", "kind"])
    .where("tenant_id", "=", tid).where("mailing_id", "=", m).execute();
  assert.equal(sends.length, 2);
  assert.ok(sends.every((s) => s.kind === "mass"));
  assert.equal((await api("GET", `/mailings/${m}`)).body.status, "draft");

  // The stop switch: no further runs, however much time passes.
  const stopped = await api("POST", `/automation/rules/${rule.id}/stop`);
  assert.equal(stopped.body.active, false);
  assert.equal(stopped.body.next_run_at, null);
  setClock("2027-04-05T12:00:05Z");
  assert.equal((await worker.tick()).runs, 0);
  assert.equal((await runsOf(rule.id)).length, 2);
  const again = await api("POST", `/automation/rules/${rule.id}/start`);
  assert.equal(again.body.next_run_at, "2027-04-12T12:00:00.000Z");
  await api("POST", `/automation/rules/${rule.id}/stop`);
});

Deno.test("recurring: an occurrence found hours late is recorded as missed, not sent", async () => {
  const seg = await segment("late");
  await person(["late"]);
  const m = await mailing("Late news");
  setClock("2027-04-13T08:00:00Z"); // Tuesday
  const rule = (await api("POST", "/automation/rules", {
    kind: "recurring",
    name: "Late",
    mailing_id: m,
    segment_ids: [seg.id],
    weekdays: [2],
    times: ["11:00"],
  })).body;
  setClock("2027-04-13T20:00:00Z"); // nine hours after 11:00 CEST
  await worker.tick();
  const runs = await runsOf(rule.id);
  assert.deepEqual(runs.map((r) => [r.status, r.reason, r.send_id]), [["skipped", "missed", null]]);
  assert.equal(
    (await api("GET", `/automation/rules/${rule.id}`)).body.next_run_at,
    "2027-04-20T09:00:00.000Z",
  );
  await api("POST", `/automation/rules/${rule.id}/stop`);
});

/**
 * Waits for the trigger event of an import's new member: plugins hear of the members just after
 * the import's commit, which is what set its status to "done".
 */
async function triggerEventOf(ruleId: string, personId?: string): Promise<void> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const r = await sql`select 1 from automation_trigger_events
      where tenant_id = ${tid} and rule_id = ${ruleId}
        and (${personId ?? null}::uuid is null or person_id = ${personId ?? null}::uuid)`
      .execute(t.deps.db);
    if (r.rows.length) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail("no trigger event within 30 s");
}

Deno.test("triggered: staff, API and import adds each get the mailing once; earlier members nothing", async () => {
  const list = await createList(t.deps, tid, { name: "Course A" }, "t");
  const before = await person([]);
  assert.equal(
    (await api("POST", `/lists/${list.id}/members`, { person_ids: [before.id] })).status,
    200,
  );
  const m = await mailing("Welcome to course A");
  const rule = (await api("POST", "/automation/rules", {
    kind: "trigger",
    name: "Welcome A",
    mailing_id: m,
    list_id: list.id,
  })).body;
  t.advance(1000);

  // By the API.
  const viaApi = await person([]);
  assert.equal(
    (await api("POST", `/lists/${list.id}/members`, { person_ids: [viaApi.id, before.id] }))
      .status,
    200,
  );
  // By staff in the UI.
  const viaUi = await person([]);
  const b = new Browser(t.app);
  await b.get("/login");
  await b.post("/login", { email: org.email, password: PASSWORD });
  await b.get(`/lists/${list.id}`);
  const res = await b.post(`/lists/${list.id}/add`, { person_ids: [viaUi.id] });
  assert.equal(res.status, 303);
  // By a CSV import into the list: one new person, one existing one.
  const existing = await person([], "imported-existing@uni.example");
  const csv =
    "email,first_name\nimported-new@uni.example,Nina\nimported-existing@uni.example,Ebba\n";
  const up = await t.app.request("/api/v1/imports?filename=course.csv", {
    method: "POST",
    headers: { authorization: `Bearer ${org.key}`, "content-type": "text/csv" },
    body: csv,
  });
  assert.equal(up.status, 201);
  const imp = await up.json();
  await api("PUT", `/imports/${imp.id}/mapping`, { columns: ["email", "first_name"] });
  const finished = async () => {
    for (let i = 0; i < 500; i++) {
      const s = (await api("GET", `/imports/${imp.id}`)).body.status;
      if (s !== "checking" && s !== "running") return s;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  assert.equal((await api("POST", `/imports/${imp.id}/check`)).status, 202);
  assert.equal(await finished(), "checked");
  const run = await api("POST", `/imports/${imp.id}/run`, { list_id: list.id });
  assert.equal(run.status, 202, JSON.stringify(run.body));
  assert.equal(await finished(), "done");
  const imported = await t.deps.db.selectFrom("person_addresses").select("person_id")
    .where("tenant_id", "=", tid).where("address_key", "=", "imported-new@uni.example")
    .executeTakeFirstOrThrow();
  await triggerEventOf(rule.id, imported.person_id);

  assert.ok((await worker.tick()).triggered >= 4);
  const runs = await runsOf(rule.id);
  const got = new Set<string>();
  for (const r of runs) {
    assert.equal(r.status, "sent", JSON.stringify(r));
    for (const p of await recipientsOf(r.send_id)) got.add(p);
  }
  assert.deepEqual(
    [...got].sort(),
    [viaApi.id, viaUi.id, existing.id, imported.person_id].sort(),
  );
  assert.ok(!got.has(before.id), "a member from before the trigger gets nothing");

  // Nothing twice: another round, and adding members again, sends nothing more.
  await api("POST", `/lists/${list.id}/members`, { person_ids: [viaApi.id] });
  assert.equal((await worker.tick()).triggered, 0);
  assert.equal((await runsOf(rule.id)).length, runs.length);

  // A membership the hook never heard of (its process died) is found by the sweep.
  const lost = await person([]);
  await sql`insert into list_members (tenant_id, list_id, person_id, added_at)
    values (${tid}, ${list.id}, ${lost.id}, ${t.deps.clock()})`.execute(t.deps.db);
  assert.equal((await worker.tick()).triggered, 0, "the sweep runs every five minutes");
  t.advance(5 * 60_000);
  assert.equal((await worker.tick()).triggered, 1);
  const last = (await runsOf(rule.id)).at(-1);
  assert.deepEqual(await recipientsOf(last.send_id), [lost.id]);

  // Stopped, the trigger sends nothing; switched on again, only later members count.
  await api("POST", `/automation/rules/${rule.id}/stop`);
  const whileOff = await person([]);
  await api("POST", `/lists/${list.id}/members`, { person_ids: [whileOff.id] });
  assert.equal((await worker.tick()).triggered, 0);
  await api("POST", `/automation/rules/${rule.id}/start`);
  t.advance(1000);
  assert.equal((await worker.tick()).triggered, 0, "members added while off get nothing");
  await api("POST", `/automation/rules/${rule.id}/stop`);
});

Deno.test("triggered: a staff CSV import into a list through the import pages", async () => {
  const list = await createList(t.deps, tid, { name: "Staff import list" }, "t");
  const m = await mailing("Imported welcome");
  const rule = (await api("POST", "/automation/rules", {
    kind: "trigger",
    name: "Imported",
    mailing_id: m,
    list_id: list.id,
  })).body;
  t.advance(1000);
  const up = await t.app.request("/api/v1/imports?filename=staff.csv", {
    method: "POST",
    headers: { authorization: `Bearer ${org.key}`, "content-type": "text/csv" },
    body: "email\nstaff-import@uni.example\n",
  });
  const imp = await up.json();
  await api("PUT", `/imports/${imp.id}/mapping`, { columns: ["email"] });
  await api("POST", `/imports/${imp.id}/check`);
  const b = new Browser(t.app);
  await b.get("/login");
  await b.post("/login", { email: org.email, password: PASSWORD });
  // The import runs in the background: wait for it by time, not by a count of polls (a loaded
  // CI machine took longer than 200 × 20 ms).
  const until = Date.now() + 30_000;
  let page = "";
  while (Date.now() < until && !page.includes('data-testid="import-list"')) {
    await new Promise((r) => setTimeout(r, 20));
    page = await (await b.get(`/people/import/${imp.id}`)).text();
  }
  assert.ok(page.includes("Staff import list"), "the report page offers the lists");
  assert.equal((await b.post(`/people/import/${imp.id}/run`, { list_id: list.id })).status, 303);
  let status = "";
  while (Date.now() < until + 30_000) {
    status = (await api("GET", `/imports/${imp.id}`)).body.status;
    if (status === "done") break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(status, "done");
  await triggerEventOf(rule.id);
  assert.equal((await worker.tick()).triggered, 1);
  const [run] = await runsOf(rule.id);
  const p = await t.deps.db.selectFrom("person_addresses").select("person_id")
    .where("tenant_id", "=", tid).where("address_key", "=", "staff-import@uni.example")
    .executeTakeFirstOrThrow();
  assert.deepEqual(await recipientsOf(run.send_id), [p.person_id]);
  await api("POST", `/automation/rules/${rule.id}/stop`);
});

Deno.test("waiting period: one mailing, two triggers and a segment — a person gets it once within N days", async () => {
  const m = await mailing("Offer");
  const w = await api("PUT", "/automation/waiting-periods", { mailing_id: m, days: 30 });
  assert.equal(w.status, 200, JSON.stringify(w.body));
  const l1 = await createList(t.deps, tid, { name: "Fair visitors" }, "t");
  const l2 = await createList(t.deps, tid, { name: "Webinar guests" }, "t");
  const mk = (name: string, list_id: string) =>
    api("POST", "/automation/rules", { kind: "trigger", name, mailing_id: m, list_id });
  const r1 = (await mk("Fair", l1.id)).body;
  const r2 = (await mk("Webinar", l2.id)).body;
  t.advance(1000);
  const p = await person(["offer"]);
  const q = await person(["offer"]);
  await api("POST", `/lists/${l1.id}/members`, { person_ids: [p.id] });
  await worker.tick();
  t.advance(60_000);
  await api("POST", `/lists/${l2.id}/members`, { person_ids: [p.id, q.id] });
  await worker.tick();
  const first = await runsOf(r1.id);
  const second = await runsOf(r2.id);
  assert.deepEqual(await recipientsOf(first[0].send_id), [p.id]);
  assert.deepEqual(await recipientsOf(second[0].send_id), [q.id]);
  assert.deepEqual(second[0].excluded, { "automation.waiting_period": 1 });

  // A recurring run of the same mailing to a segment leaves both out too…
  const seg = await segment("offer");
  const r3 = (await api("POST", "/automation/rules", {
    kind: "recurring",
    name: "Offer weekly",
    mailing_id: m,
    segment_ids: [seg.id],
    weekdays: [1, 2, 3, 4, 5, 6, 7],
    times: ["00:00", "06:00", "12:00", "18:00"],
  })).body;
  setClock(r3.next_run_at);
  t.advance(1000);
  await worker.tick();
  const run = (await runsOf(r3.id))[0];
  assert.equal(run.total, 0);
  assert.deepEqual(run.excluded, { "automation.waiting_period": 2 });
  // …until the period is over.
  await api("POST", `/automation/rules/${r3.id}/stop`);
  setClock(new Date(new Date(r3.next_run_at).getTime() + 31 * 86_400_000).toISOString());
  await api("POST", `/automation/rules/${r3.id}/start`);
  setClock((await api("GET", `/automation/rules/${r3.id}`)).body.next_run_at);
  t.advance(1000);
  await worker.tick();
  const later = (await runsOf(r3.id)).at(-1);
  assert.equal(later.total, 2);
  await api("POST", `/automation/rules/${r3.id}/stop`);
  for (const r of [r1, r2]) await api("POST", `/automation/rules/${r.id}/stop`);
});

Deno.test("waiting period: the recipient count before a manual send agrees with it", async () => {
  const seg = await segment("count");
  await person(["count"]);
  await person(["count"]);
  const created = await api("POST", "/mailings", {
    from_address: "news@uni.example",
    subject: "Counted",
    body_html: "<p>Hi</p>",
    recipients: { segments: [seg.id] },
  });
  const m = created.body.id as string;
  await api("PUT", "/automation/waiting-periods", { mailing_id: m, days: 7 });
  const before = await api("GET", `/mailings/${m}/recipients/count`);
  assert.equal(before.body.total, 2, JSON.stringify(before.body));
  await startMailingRun(t.deps, tid, m, { actor: "t", audience: { segments: [seg.id] } });
  const after = await api("GET", `/mailings/${m}/recipients/count`);
  assert.equal(after.body.total, 0, JSON.stringify(after.body));
  assert.equal(after.body.excluded["automation.waiting_period"], 2);
});

Deno.test("sampling: a random sample is reproducible from its seed; systematic takes every k-th", async () => {
  const seg = await segment("sample");
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) ids.push((await person(["sample"])).id);
  ids.sort();
  const m = await mailing("Survey");
  const run = async (options: unknown) => {
    const r = await startMailingRun(t.deps, tid, m, {
      actor: "t",
      kind: "mass",
      audience: { segments: [seg.id], plugins: { automation: options } },
    });
    return { ...r, persons: await recipientsOf(r.send_id) };
  };
  const random = { mode: "random", count: 5 };
  const a = await run({ sample: random, seed: "seed-one" });
  const b = await run({ sample: random, seed: "seed-one" });
  const c = await run({ sample: random, seed: "seed-two" });
  assert.equal(a.total, 5);
  assert.deepEqual(a.excluded, { "automation.sample": 15 });
  assert.deepEqual(b.persons, a.persons, "same seed, same sample");
  assert.notDeepEqual(c.persons, a.persons, "another seed, another sample");

  const pct = await run({ sample: { mode: "random", percent: 25 }, seed: "x" });
  assert.equal(pct.total, 5);

  const sys = await run({ sample: { mode: "systematic", every: 3, start: 2 } });
  assert.deepEqual(sys.persons, ids.filter((_, i) => i % 3 === 1));
  const sysCount = await run({ sample: { mode: "systematic", every: 3, start: 2, count: 2 } });
  assert.deepEqual(sysCount.persons, [ids[1], ids[4]]);

  // A recurring rule with a random sample draws a new seed per run and shows it on the run.
  const rule = (await api("POST", "/automation/rules", {
    kind: "recurring",
    name: "Survey sample",
    mailing_id: m,
    segment_ids: [seg.id],
    weekdays: [1, 2, 3, 4, 5, 6, 7],
    times: ["00:00", "06:00", "12:00", "18:00"],
    sample: { mode: "random", count: 4 },
  })).body;
  setClock(rule.next_run_at);
  t.advance(1000);
  await worker.tick();
  const [r] = await runsOf(rule.id);
  assert.match(r.seed, /^[A-Za-z0-9_-]+$/);
  assert.equal(r.total, 4);
  const replay = await run({ sample: { mode: "random", count: 4 }, seed: r.seed });
  assert.deepEqual(replay.persons, await recipientsOf(r.send_id), "reproduced from the seed");
  await api("POST", `/automation/rules/${rule.id}/stop`);
});

Deno.test("automation honours unsubscribes and undeliverable addresses without any condition", async () => {
  const seg = await segment("hygiene");
  const ok = await person(["hygiene"]);
  const unsub = await person(["hygiene"]);
  await person(["hygiene"], "gone@bounce.example");
  await unsubscribe(t.deps, {
    tenantId: tid,
    personId: unsub.id,
    scope: { kind: "all" },
    source: "staff",
  });
  await markUndeliverable(t.deps, tid, "gone@bounce.example", "550 5.1.1 no such user");
  const m = await mailing("Hygiene");
  const rule = (await api("POST", "/automation/rules", {
    kind: "recurring",
    name: "Hygiene",
    mailing_id: m,
    segment_ids: [seg.id],
    weekdays: [1, 2, 3, 4, 5, 6, 7],
    times: ["00:00", "06:00", "12:00", "18:00"],
  })).body;
  setClock(rule.next_run_at);
  t.advance(1000);
  await worker.tick();
  const [r] = await runsOf(rule.id);
  assert.equal(r.total, 1);
  assert.deepEqual(r.excluded, { unsubscribed: 1, undeliverable: 1 });
  assert.deepEqual(await recipientsOf(r.send_id), [ok.id]);
  // A triggered send is mass mail too: an unsubscribed person added to a list gets nothing.
  const list = await createList(t.deps, tid, { name: "Hygiene list" }, "t");
  const trig = (await api("POST", "/automation/rules", {
    kind: "trigger",
    name: "Hygiene trigger",
    mailing_id: m,
    list_id: list.id,
  })).body;
  t.advance(1000);
  await api("POST", `/lists/${list.id}/members`, { person_ids: [unsub.id] });
  await worker.tick();
  const [tr] = await runsOf(trig.id);
  assert.equal(tr.total, 0);
  assert.deepEqual(tr.excluded, { unsubscribed: 1 });
  await api("POST", `/automation/rules/${rule.id}/stop`);
  await api("POST", `/automation/rules/${trig.id}/stop`);
});

Deno.test("validation: each wrong field is named", async () => {
  const r = await api("POST", "/automation/rules", {
    kind: "recurring",
    name: "Bad",
    mailing_id: crypto.randomUUID(),
    segment_ids: [crypto.randomUUID()],
    weekdays: [8],
    times: ["25:00"],
  });
  assert.equal(r.status, 400);
  const paths = r.body.error.details.map((d: { path: string }) => d.path).sort();
  assert.deepEqual(paths, ["times.0", "weekdays.0"]);
  const refs = await api("POST", "/automation/rules", {
    kind: "trigger",
    name: "Bad refs",
    mailing_id: crypto.randomUUID(),
    list_id: crypto.randomUUID(),
  });
  assert.equal(refs.status, 400);
  assert.deepEqual(
    refs.body.error.details.map((d: { path: string }) => d.path).sort(),
    ["list_id", "mailing_id"],
  );
});

Deno.test("the worker wakes on a list add (NOTIFY) and stops cleanly", async () => {
  const list = await createList(t.deps, tid, { name: "Live" }, "t");
  const m = await mailing("Live welcome");
  const rule = (await api("POST", "/automation/rules", {
    kind: "trigger",
    name: "Live",
    mailing_id: m,
    list_id: list.id,
  })).body;
  t.advance(1000);
  const live = new AutomationWorker(t.deps, { id: "live", maxIdleMs: 60_000 });
  await live.start();
  try {
    // Let the first round finish and the worker go to sleep (a minute, unless woken).
    await new Promise((r) => setTimeout(r, 300));
    const p = await person([]);
    await api("POST", `/lists/${list.id}/members`, { person_ids: [p.id] });
    let runs: unknown[] = [];
    for (let i = 0; i < 100 && !runs.length; i++) {
      await new Promise((r) => setTimeout(r, 50));
      runs = await runsOf(rule.id);
    }
    assert.equal(runs.length, 1, "woken by the notification, not the minute-long sleep");
  } finally {
    await live.stop();
  }
  await api("POST", `/automation/rules/${rule.id}/stop`);
});

/** A rule due at every 6-hour mark, so the next occurrence is never far. */
async function frequentRule(name: string, mailingId: string, segmentId: string, extra = {}) {
  const r = await api("POST", "/automation/rules", {
    kind: "recurring",
    name,
    mailing_id: mailingId,
    segment_ids: [segmentId],
    weekdays: [1, 2, 3, 4, 5, 6, 7],
    times: ["00:00", "06:00", "12:00", "18:00"],
    ...extra,
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

Deno.test("a plugin's veto (sendData skip) records the run as skipped with the reason, sending nothing", async () => {
  const seg = await segment("veto");
  await person(["veto"]);
  const m = await mailing("Feed digest [veto]", "<p>{{veto_test.note}}</p>");
  const rule = await frequentRule("Digest", m, seg.id);
  setClock(rule.next_run_at);
  t.advance(1000);
  await worker.tick();
  const [run] = await runsOf(rule.id);
  assert.deepEqual([run.status, run.reason, run.reason_params, run.send_id], [
    "skipped",
    "vetoed",
    { plugin: "veto_test", reason: "nothing new" },
    null,
  ]);
  assert.equal(run.reason_message, "Skipped by veto_test: nothing new");
  const sends = await t.deps.db.selectFrom("sends").select("id").where("tenant_id", "=", tid)
    .where("mailing_id", "=", m).execute();
  assert.equal(sends.length, 0);
  // The next occurrence is still planned: a skip is one run, not the end of the recurrence.
  const after = (await api("GET", `/automation/rules/${rule.id}`)).body;
  assert.ok(new Date(after.next_run_at) > new Date(run.occurrence_at));
  await api("POST", `/automation/rules/${rule.id}/stop`);
});

Deno.test("a run that cannot start (its mailing was cancelled) is recorded as failed with why", async () => {
  const seg = await segment("cancelled");
  await person(["cancelled"]);
  const m = await mailing("Cancelled later");
  const rule = await frequentRule("Cancelled", m, seg.id);
  assert.equal((await cancelMailing(t.deps, tid, m, "t")).status, "cancelled");
  setClock(rule.next_run_at);
  t.advance(1000);
  await worker.tick();
  const [run] = await runsOf(rule.id);
  assert.equal(run.status, "failed");
  assert.equal(run.reason, "error");
  assert.equal(run.reason_params.error, "conflict");
  // Said from the catalogue, not as the code.
  assert.match(run.reason_message, /^This conflicts with existing data\./);
  assert.equal(run.send_id, null);
  await api("POST", `/automation/rules/${rule.id}/stop`);
});

Deno.test("a tenant moved below Advanced keeps its rules, but they stop sending", async () => {
  const seg = await segment("tier");
  await person(["tier"]);
  const m = await mailing("Tier");
  const rule = await frequentRule("Tier", m, seg.id);
  await t.deps.db.updateTable("tenants").set({ tier: "standard", updated_at: new Date() })
    .where("id", "=", tid).execute();
  try {
    setClock(rule.next_run_at);
    t.advance(1000);
    await worker.tick();
  } finally {
    await t.deps.db.updateTable("tenants").set({ tier: "advanced", updated_at: new Date() })
      .where("id", "=", tid).execute();
  }
  const [run] = await runsOf(rule.id);
  assert.deepEqual([run.status, run.reason, run.send_id], ["skipped", "not_enabled", null]);
  await api("POST", `/automation/rules/${rule.id}/stop`);
});

Deno.test("lead time: the audience is taken early and the messages wait for the occurrence", async () => {
  const seg = await segment("lead");
  await person(["lead"]);
  const m = await mailing("Lead");
  const rule = await frequentRule("Lead", m, seg.id, { lead_minutes: 30 });
  const occ = new Date(rule.next_run_at);
  setClock(new Date(occ.getTime() - 31 * 60_000).toISOString());
  assert.equal((await worker.tick()).runs, 0);
  setClock(new Date(occ.getTime() - 29 * 60_000).toISOString());
  assert.equal((await worker.tick()).runs, 1);
  const [run] = await runsOf(rule.id);
  assert.equal(run.occurrence_at, occ.toISOString());
  const rows = await t.deps.db.selectFrom("send_queue").select("ready_at")
    .where("tenant_id", "=", tid).where("send_id", "=", run.send_id).execute();
  assert.deepEqual(rows.map((r) => new Date(r.ready_at).toISOString()), [occ.toISOString()]);
  await api("POST", `/automation/rules/${rule.id}/stop`);
});

Deno.test("recovery: a run whose worker died after creating its send is expanded once, later", async () => {
  const seg = await segment("crash");
  const p = await person(["crash"]);
  const m = await mailing("Crash");
  const rule = await frequentRule("Crash", m, seg.id);
  await api("POST", `/automation/rules/${rule.id}/stop`);
  // What a worker leaves when it dies between creating the send and expanding it.
  const send = await createSend(t.deps, tid, {
    kind: "mass",
    content: { from: { address: "news@uni.example" }, subject: "Crash", html: "<p>x</p>" },
    audience: { segments: [seg.id] },
  }, "t");
  await t.deps.db.updateTable("sends").set({ mailing_id: m }).where("tenant_id", "=", tid)
    .where("id", "=", send.id).execute();
  const now = t.deps.clock();
  await sql`insert into automation_runs (tenant_id, id, rule_id, occurrence_at, status, send_id,
      claimed_by, claimed_at)
    values (${tid}, ${uuidv7()}, ${rule.id}, ${now}, 'started', ${send.id}, 'dead', ${now})`
    .execute(t.deps.db);
  await worker.tick();
  assert.equal((await runsOf(rule.id))[0].status, "started", "left alone while the lease holds");
  t.advance(11 * 60_000);
  await worker.tick();
  await worker.tick();
  const [run] = await runsOf(rule.id);
  assert.deepEqual([run.status, run.send_id, run.total], ["sent", send.id, 1]);
  assert.deepEqual(await recipientsOf(send.id), [p.id]);
});

Deno.test("a triggered welcome goes out over SMTP, merged for the person who joined", async () => {
  const server = await startSmtpServer();
  try {
    const list = await createList(t.deps, tid, { name: "SMTP list" }, "t");
    const m = await mailing("Welcome {{firstname}}");
    await api("POST", "/automation/rules", {
      kind: "trigger",
      name: "SMTP welcome",
      mailing_id: m,
      list_id: list.id,
    });
    t.advance(1000);
    const p = await person([], "joiner@uni.example");
    await api("POST", `/lists/${list.id}/members`, { person_ids: [p.id] });
    assert.equal((await worker.tick()).triggered, 1);
    const sender = new SendWorker(
      t.deps,
      new RelayTransport(`smtp://127.0.0.1:${server.port}`, { pool: { tls: "off" } }),
      { batchSize: 50 },
    );
    let sent = 0;
    for (let k = await sender.runOnce(); k > 0; k = await sender.runOnce()) sent += k;
    assert.ok(sent >= 1);
    const mail = server.received.filter((r) => r.to.includes("joiner@uni.example"));
    assert.equal(mail.length, 1);
    const raw = new TextDecoder().decode(mail[0]!.body);
    assert.match(raw, new RegExp(`Subject: Welcome ${p.first_name}`));
  } finally {
    await server.close();
  }
});

Deno.test("a key without the send scope cannot make rules send (403); stopping needs only write", async () => {
  const writeOnly = await createApiKey(t.deps, {
    tenantId: tid,
    name: "write only",
    scopes: ["read", "write"],
  });
  const w = apiClient(t, writeOnly.key);
  const seg = await segment("scope");
  const m = await mailing("Scope");
  const list = await createList(t.deps, tid, { name: "Scope list" }, "t");
  const recurring = {
    kind: "recurring",
    name: "Scope",
    mailing_id: m,
    segment_ids: [seg.id],
    weekdays: [1],
    times: ["09:00"],
  };
  const denied = await w("POST", "/automation/rules", recurring);
  assert.equal(denied.status, 403);
  assert.equal(denied.body.error.details.required_scope, "send");
  const trigger = { kind: "trigger", name: "Scope", mailing_id: m, list_id: list.id };
  assert.equal((await w("POST", "/automation/rules", trigger)).status, 403);
  const rule = (await api("POST", "/automation/rules", recurring)).body;
  assert.equal((await w("PUT", `/automation/rules/${rule.id}`, recurring)).status, 403);
  assert.equal((await w("POST", `/automation/rules/${rule.id}/stop`)).status, 200);
  assert.equal((await w("POST", `/automation/rules/${rule.id}/start`)).status, 403);
  assert.equal((await w("GET", `/automation/rules/${rule.id}`)).body.active, false);
  const wait = await w("PUT", "/automation/waiting-periods", { mailing_id: m, days: 3 });
  assert.equal(wait.status, 403);
  assert.equal((await w("GET", "/automation/rules")).status, 200, "reading needs read only");
  const rules = await sql`select id from automation_rules
    where tenant_id = ${tid} and name = 'Scope'`.execute(t.deps.db);
  assert.equal(rules.rows.length, 1, "only the send key's rule exists");
});

Deno.test("validation: refinements give codes with messages from the catalogue", async () => {
  const seg = await segment("codes");
  const m = await mailing("Codes");
  const r = await api("POST", "/automation/rules", {
    kind: "recurring",
    name: "Codes",
    mailing_id: m,
    segment_ids: [seg.id],
    weekdays: [1],
    times: ["9.00"],
    sample: { mode: "random" },
  });
  assert.equal(r.status, 400);
  const issues = Object.fromEntries(
    r.body.error.details.map((d: { path: string; code: string; message: string }) => [d.path, d]),
  );
  assert.equal(issues["times.0"].code, "time");
  assert.equal(issues["times.0"].message, "Expected a time as HH:MM.");
  assert.equal(issues["sample.count"].code, "sample_size");
  assert.equal(issues["sample.count"].message, "Give a count, a percentage or every k-th.");
  // The pages say them in the reader's language.
  await t.deps.db.updateTable("users").set({ locale: "sv" }).where("id", "=", org.user.id)
    .execute();
  try {
    const b = new Browser(t.app);
    await b.get("/login");
    await b.post("/login", { email: org.email, password: PASSWORD });
    await b.get("/p/automation");
    const res = await b.post("/p/automation/rules", {
      kind: "recurring",
      name: "Kod",
      mailing_id: m,
      segment_ids: seg.id,
      weekdays: "1",
      times: "9.00",
    });
    assert.equal(res.status, 400);
    const html = await res.text();
    assert.ok(html.includes("Förväntade en tid som tt:mm."), "the time issue in Swedish");
  } finally {
    await t.deps.db.updateTable("users").set({ locale: null }).where("id", "=", org.user.id)
      .execute();
  }
});

Deno.test("a suspended organisation's due runs are skipped and its triggers not sent", async () => {
  const seg = await segment("suspended");
  await person(["suspended"]);
  const m = await mailing("Suspended recurring");
  const rule = await frequentRule("Suspended", m, seg.id);
  const list = await createList(t.deps, tid, { name: "Suspended list" }, "t");
  const m2 = await mailing("Suspended welcome");
  const trig = (await api("POST", "/automation/rules", {
    kind: "trigger",
    name: "Suspended welcome",
    mailing_id: m2,
    list_id: list.id,
  })).body;
  t.advance(1000);
  const joiner = await person([]);
  await api("POST", `/lists/${list.id}/members`, { person_ids: [joiner.id] });
  await t.deps.db.updateTable("tenants").set({ status: "suspended", updated_at: new Date() })
    .where("id", "=", tid).execute();
  try {
    setClock(rule.next_run_at);
    t.advance(1000);
    await worker.tick();
  } finally {
    await t.deps.db.updateTable("tenants").set({ status: "active", updated_at: new Date() })
      .where("id", "=", tid).execute();
  }
  const [run] = await runsOf(rule.id);
  assert.deepEqual([run.status, run.reason, run.send_id], ["skipped", "tenant_suspended", null]);
  assert.equal(run.reason_message, "The organisation is suspended");
  const [event] = await runsOf(trig.id);
  assert.deepEqual([event.status, event.reason, event.send_id], [
    "failed",
    "tenant_suspended",
    null,
  ]);
  const sends = await t.deps.db.selectFrom("sends").select("id").where("tenant_id", "=", tid)
    .where("mailing_id", "in", [m, m2]).execute();
  assert.equal(sends.length, 0);
  // The runs page says the reason in the reader's language.
  await t.deps.db.updateTable("users").set({ locale: "sv" }).where("id", "=", org.user.id)
    .execute();
  try {
    const b = new Browser(t.app);
    await b.get("/login");
    await b.post("/login", { email: org.email, password: PASSWORD });
    const html = await (await b.get(`/p/automation/rules/${rule.id}`)).text();
    assert.ok(html.includes("Organisationen är avstängd"), "the reason in Swedish");
    assert.ok(!html.includes("tenant_suspended"), "not the code");
  } finally {
    await t.deps.db.updateTable("users").set({ locale: null }).where("id", "=", org.user.id)
      .execute();
  }
  // Reactivated, the next occurrence runs; the membership from the suspension stays unsent.
  setClock((await api("GET", `/automation/rules/${rule.id}`)).body.next_run_at);
  t.advance(1000);
  assert.equal((await worker.tick()).triggered, 0);
  assert.deepEqual((await runsOf(rule.id)).map((r) => r.status), ["skipped", "sent"]);
  assert.deepEqual((await runsOf(trig.id)).map((r) => r.status), ["failed"]);
  await api("POST", `/automation/rules/${rule.id}/stop`);
  await api("POST", `/automation/rules/${trig.id}/stop`);
});

Deno.test("the list sweep: one statement over all triggers, marks moved only when stale", async () => {
  const m = await mailing("Sweep");
  const lists = [
    await createList(t.deps, tid, { name: "Sweep 1" }, "t"),
    await createList(t.deps, tid, { name: "Sweep 2" }, "t"),
  ];
  const rules: { id: string }[] = [];
  for (const list of lists) {
    const r = await api("POST", "/automation/rules", {
      kind: "trigger",
      name: `Sweep ${list.name}`,
      mailing_id: m,
      list_id: list.id,
    });
    rules.push({ id: r.body.id });
  }
  t.advance(1000);
  // Memberships the hook never heard of, one per list.
  const lost = [await person([]), await person([])];
  for (const [i, list] of lists.entries()) {
    await sql`insert into list_members (tenant_id, list_id, person_id, added_at)
      values (${tid}, ${list.id}, ${lost[i]!.id}, ${t.deps.clock()})`.execute(t.deps.db);
  }
  const marks = async () =>
    (await sql<{ id: string; swept_until: Date | string }>`
      select id, swept_until from automation_rules
      where tenant_id = ${tid} and id = any(${rules.map((r) => r.id)}::uuid[]) order by id`
      .execute(t.deps.db)).rows.map((r) => new Date(r.swept_until).getTime());
  const fresh = await marks();
  const step = { minStepMs: 5 * 60_000 };
  assert.equal(await sweepLists(t.deps, step), 0, "marks younger than the step: left alone");
  assert.deepEqual(await marks(), fresh, "no rule row rewritten");
  t.advance(5 * 60_000);
  assert.equal(await sweepLists(t.deps, step), 2);
  const now = t.deps.clock().getTime();
  assert.ok((await marks()).every((x) => Math.abs(x - now) < 1000), "marks moved to now");
  const moved = await marks();
  t.advance(60_000);
  assert.equal(await sweepLists(t.deps, step), 0);
  assert.deepEqual(await marks(), moved, "a minute later nothing is rewritten");
  assert.equal((await worker.tick()).triggered, 2);
  for (const r of rules) await api("POST", `/automation/rules/${r.id}/stop`);
});

Deno.test("processed trigger events are pruned after the retention period; pending ones stay", async () => {
  const list = await createList(t.deps, tid, { name: "Prune" }, "t");
  const m = await mailing("Prune");
  const rule = (await api("POST", "/automation/rules", {
    kind: "trigger",
    name: "Prune",
    mailing_id: m,
    list_id: list.id,
    active: false,
  })).body;
  const now = t.deps.clock().getTime();
  const ago = (days: number) => new Date(now - days * 86_400_000);
  const rows: [string, Date, Date | null][] = [
    ["sent", ago(100), ago(100)],
    ["failed", ago(95), ago(95)],
    ["sent", ago(2), ago(2)],
    ["pending", ago(100), null],
  ];
  for (const [status, created, processed] of rows) {
    await sql`insert into automation_trigger_events
        (tenant_id, id, rule_id, person_id, added_at, status, created_at, processed_at)
      values (${tid}, ${uuidv7()}, ${rule.id}, ${crypto.randomUUID()}, ${created}, ${status},
        ${created}, ${processed})`.execute(t.deps.db);
  }
  const left = async () =>
    (await sql<{ status: string }>`select status from automation_trigger_events
      where tenant_id = ${tid} and rule_id = ${rule.id} order by created_at, status`
      .execute(t.deps.db)).rows.map((r) => r.status);
  assert.equal(await pruneTriggerEvents(t.deps, { days: 90, batch: 1 }), 2, "in batches of one");
  assert.deepEqual((await left()).sort(), ["pending", "sent"]);
  // The worker prunes in its loop, with its own retention.
  const pruner = new AutomationWorker(t.deps, { id: "pruner", retainTriggerEventsDays: 1 });
  await pruner.tick();
  // The pending one was closed meanwhile (its rule is off) and is kept: processed just now.
  assert.deepEqual(await left(), ["failed"]);
  await sql`delete from automation_trigger_events where tenant_id = ${tid}
    and rule_id = ${rule.id}`.execute(t.deps.db);
});

Deno.test({
  name: "cleanup",
  fn: async () => await t.close(),
  sanitizeResources: false,
  sanitizeOps: false,
});
