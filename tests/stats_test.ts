// Statistics on a known scenario: what each number counts, fed through the real recorders
// (delivery outcomes, tracking events, bounces, unsubscribes), and the pages that show them.
import assert from "node:assert/strict";
import { Browser, PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { createPerson } from "../core/people/persons.ts";
import { addListMembers, createList } from "../core/people/lists.ts";
import { createSend, expandSend } from "../core/send/queue.ts";
import { captureTransport } from "../core/send/transport.ts";
import { SendWorker } from "../core/send/worker.ts";
import { type TrackingEvent, writeEvents } from "../core/feedback/events.ts";
import { recordBounces } from "../core/feedback/bounces.ts";
import { unsubscribe } from "../core/feedback/unsubscribe.ts";
import { periodStats, sendRecipients, sendStats, sendTimeline } from "../core/feedback/stats.ts";

const t = await testApp();

async function signedIn(email: string) {
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email, password: PASSWORD })).status, 303);
  return b;
}

async function scenario(slug: string) {
  const { tenant, email, key } = await seedTenant(t, { slug });
  const browser = await signedIn(email);
  const list = await createList(t.deps, tenant.id, { name: "Alumni" }, "test");
  const ids: string[] = [];
  for (let i = 1; i <= 6; i++) {
    const p = await createPerson(t.deps, tenant.id, {
      first_name: `P${i}`,
      last_name: "Stat",
      addresses: [{ address: `p${i}@uni.example` }],
    }, "test");
    ids.push(p.id);
  }
  await addListMembers(t.deps, tenant.id, list.id, { person_ids: ids }, "test");
  // p6 unsubscribed before the send: excluded, not a recipient.
  await unsubscribe(t.deps, {
    tenantId: tenant.id,
    personId: ids[5]!,
    scope: { kind: "all" },
    source: "staff",
  });
  const s = await createSend(t.deps, tenant.id, {
    kind: "mass",
    content: { from: { address: "news@uni.example" }, subject: "Nyheter", html: "<p>Hej</p>" },
    audience: { lists: [list.id] },
  }, "test");
  await expandSend(t.deps, tenant.id, s.id, "test");
  const worker = new SendWorker(t.deps, captureTransport(t.deps), { batchSize: 100 });
  while (await worker.runOnce() > 0) { /* drain */ }
  const rows = await t.deps.db.selectFrom("send_queue").select(["id", "address", "sent_at"])
    .where("tenant_id", "=", tenant.id).where("send_id", "=", s.id).orderBy("address").execute();
  const q = (n: number) => rows.find((r) => r.address === `p${n}@uni.example`)!;
  const base = q(1).sent_at!.getTime();
  const ev = (n: number, kind: "open" | "click", minutes: number, machine = false) => ({
    tenantId: tenant.id,
    queueId: q(n).id,
    kind,
    link: kind === "click" ? 0 : null,
    url: kind === "click" ? "https://uni.example/a" : null,
    userAgent: machine ? "Mozilla/5.0 (Apple MPP proxy)" : "Mozilla/5.0",
    ip: null,
    machine,
    reason: machine ? "apple_mpp" : null,
    at: new Date(base + minutes * 60_000),
  } satisfies TrackingEvent);
  // p1 opens twice and clicks; p2 opens once; p3 only a privacy proxy; p4 hard-bounces; p5
  // soft-bounces and then unsubscribes.
  await writeEvents(t.deps, [
    ev(1, "open", 5),
    ev(1, "open", 70),
    ev(1, "click", 71),
    ev(2, "open", 8),
    ev(3, "open", 1, true),
  ]);
  await recordBounces(t.deps, [
    {
      tenantId: tenant.id,
      queueId: q(4).id,
      address: "p4@uni.example",
      kind: "hard",
      status: "5.1.1",
      reason: "unknown_user",
      source: "async_dsn",
    },
    {
      tenantId: tenant.id,
      queueId: q(5).id,
      address: "p5@uni.example",
      kind: "soft",
      status: "4.2.2",
      reason: "mailbox_full",
      source: "async_dsn",
    },
  ]);
  await unsubscribe(t.deps, {
    tenantId: tenant.id,
    queueId: q(5).id,
    scope: { kind: "all" },
    source: "one_click",
  });
  return { tenant, browser, key, send: s, q };
}

Deno.test("statistics: each number counts what its help text says, on a known scenario", async () => {
  const { tenant, send } = await scenario("stats-org");
  const s = await sendStats(t.deps, tenant.id, send.id);
  assert.equal(s.recipients, 5, "six on the list, one unsubscribed beforehand");
  assert.deepEqual(s.excluded, { unsubscribed: 1 });
  assert.equal(s.sent, 5);
  assert.deepEqual(s.bounced, { hard: 1, soft: 1, policy: 0 });
  assert.equal(s.delivered, 3, "sent minus hard and soft bounces");
  assert.deepEqual(s.opens.human, { total: 3, unique: 2 });
  assert.deepEqual(s.opens.machine, { total: 1, unique: 1 });
  assert.deepEqual(s.clicks.human, { total: 1, unique: 1 });
  assert.equal(s.unsubscribes, 1, "only the unsubscribe made through this send");
  assert.equal(s.pending, 0);
  assert.equal(s.rates.open, 2 / 3);
  assert.equal(s.rates.click, 1 / 3);
  assert.equal(s.rates.clickToOpen, 1 / 2);
  assert.equal(s.rates.bounce, 2 / 5);

  const tl = await sendTimeline(t.deps, tenant.id, send.id);
  assert.equal(tl.unit, "hour");
  assert.equal(tl.points.reduce((a, p) => a + p.opens, 0), 3);
  assert.equal(tl.points.reduce((a, p) => a + p.machineOpens, 0), 1);
  assert.equal(tl.points.reduce((a, p) => a + p.clicks, 0), 1);
  assert.ok(tl.points.length >= 2, "the events span more than one hour");

  const opened = await sendRecipients(t.deps, tenant.id, send.id, { filter: "opened" });
  assert.deepEqual(opened.map((r) => r.address).sort(), ["p1@uni.example", "p2@uni.example"]);
  const bounced = await sendRecipients(t.deps, tenant.id, send.id, { filter: "bounced" });
  assert.deepEqual(bounced.map((r) => [r.address, r.bounce]).sort(), [
    ["p4@uni.example", "hard"],
    ["p5@uni.example", "soft"],
  ]);
  const unsub = await sendRecipients(t.deps, tenant.id, send.id, { filter: "unsubscribed" });
  assert.deepEqual(unsub.map((r) => r.address), ["p5@uni.example"]);

  const now = t.deps.clock();
  const period = await periodStats(
    t.deps,
    tenant.id,
    new Date(now.getTime() - 86_400_000),
    new Date(now.getTime() + 86_400_000),
  );
  assert.equal(period.sends, 1);
  assert.equal(period.recipients, 5);
  assert.equal(period.uniqueOpens, 2);
  assert.equal(period.machineOpens, 1);
});

Deno.test("statistics pages: numbers, chart, recipients by status, CSV; other tenants get 404", async () => {
  const { send, browser, key } = await scenario("stats-page-org");
  const page = await (await browser.get(`/sends/${send.id}/stats`)).text();
  assert.match(page, /data-testid="timeline"/);
  assert.match(page, /data-stat="opened"[\s\S]*?<strong>2<\/strong>/);
  assert.match(page, /Privacy proxies|privacy proxies/);
  const bounced = await (await browser.get(`/sends/${send.id}/stats?status=bounced`)).text();
  assert.match(bounced, /p4@uni\.example/);
  assert.doesNotMatch(bounced, /p1@uni\.example/);
  const csv = await browser.get(`/sends/${send.id}/recipients.csv?status=opened`);
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get("content-type") ?? "", /text\/csv/);
  const lines = (await csv.text()).trim().split("\r\n");
  assert.equal(lines.length, 3, "header and the two openers");
  assert.match(lines[0]!, /^address,person_id,status/);
  const period = await (await browser.get(`/stats`)).text();
  assert.match(period, /data-testid="period"/);

  const api = await t.app.request(`/api/v1/sends/${send.id}/stats`, {
    headers: { authorization: `Bearer ${key}` },
  });
  assert.equal(api.status, 200);
  const body = await api.json();
  assert.equal(body.delivered, 3);
  assert.deepEqual(body.opens.machine, { total: 1, unique: 1 });

  const other = await signedIn((await seedTenant(t, { slug: "stats-other-org" })).email);
  assert.equal((await other.get(`/sends/${send.id}/stats`)).status, 404);
  assert.equal((await other.get(`/sends/${send.id}/recipients.csv`)).status, 404);
});

Deno.test("period statistics count days in the reader's time zone, not UTC's", async () => {
  const { tenant, email } = await seedTenant(t, { slug: "stats-tz-org" });
  const p = await createPerson(t.deps, tenant.id, {
    first_name: "Tz",
    addresses: [{ address: "tz@uni.example" }],
  }, "test");
  const content = { from: { address: "news@uni.example" }, subject: "Tz", html: "<p>x</p>" };
  const at = (iso: string) => new Date(iso);
  // Two sends, started 21:00 and 22:30 UTC on 1 March: 23:00 and 00:30 (2 March) in Helsinki.
  const sends: { id: string; queueId: string }[] = [];
  for (const started of ["2026-03-01T21:00:00Z", "2026-03-01T22:30:00Z"]) {
    const s = await createSend(t.deps, tenant.id, {
      kind: "mass",
      content,
      audience: { persons: [p.id] },
    }, "test");
    await expandSend(t.deps, tenant.id, s.id, "test");
    await t.deps.db.updateTable("send_queue").set({ status: "cancelled" })
      .where("tenant_id", "=", tenant.id).where("send_id", "=", s.id).execute();
    await t.deps.db.updateTable("sends").set({ started_at: at(started), status: "done", sent: 1 })
      .where("tenant_id", "=", tenant.id).where("id", "=", s.id).execute();
    const q = await t.deps.db.selectFrom("send_queue").select("id")
      .where("tenant_id", "=", tenant.id).where("send_id", "=", s.id).executeTakeFirstOrThrow();
    sends.push({ id: s.id, queueId: q.id });
  }
  const open = (queueId: string, iso: string) => ({
    tenantId: tenant.id,
    queueId,
    kind: "open" as const,
    link: null,
    url: null,
    userAgent: "Mozilla/5.0",
    ip: null,
    machine: false,
    reason: null,
    at: at(iso),
  });
  // 21:30 UTC is 23:30 on 1 March in Helsinki; 23:30 UTC is already 01:30 on 2 March there.
  await writeEvents(t.deps, [
    open(sends[0]!.queueId, "2026-03-01T21:30:00Z"),
    open(sends[0]!.queueId, "2026-03-01T23:30:00Z"),
  ]);

  const b = await signedIn(email);
  const page = async (query: string) => await (await b.get(`/stats?${query}`)).text();
  const stat = (html: string, name: string) =>
    new RegExp(`data-stat="${name}"[\\s\\S]*?<strong>(\\d+)</strong>`).exec(html)?.[1];
  const day = (html: string, d: string) =>
    [...(new RegExp(`<tr data-day="${d}">([\\s\\S]*?)</tr>`).exec(html)?.[1] ?? "")
      .matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((m) => m[1]).slice(1);

  await t.deps.db.updateTable("users").set({ time_zone: "Europe/Helsinki" })
    .where("tenant_id", "=", tenant.id).execute();
  let html = await page("from=2026-03-02&to=2026-03-02");
  assert.equal(stat(html, "sends"), "1", "the 22:30 UTC send started on 2 March in Helsinki");
  assert.match(html, /Day by day \(Europe\/Helsinki\)/);
  html = await page("from=2026-03-01&to=2026-03-02");
  assert.equal(stat(html, "sends"), "2");
  // sends, messages, opens, clicks, machine
  assert.deepEqual(day(html, "2026-03-01"), ["1", "1", "1", "0", "0"]);
  assert.deepEqual(day(html, "2026-03-02"), ["1", "1", "1", "0", "0"]);

  await t.deps.db.updateTable("users").set({ time_zone: "UTC" })
    .where("tenant_id", "=", tenant.id).execute();
  html = await page("from=2026-03-02&to=2026-03-02");
  assert.equal(stat(html, "sends"), "0", "in UTC both started on 1 March");
  html = await page("from=2026-03-01&to=2026-03-02");
  assert.deepEqual(day(html, "2026-03-01"), ["2", "2", "2", "0", "0"]);
  assert.deepEqual(day(html, "2026-03-02"), ["0", "0", "0", "0", "0"]);

  // A period the wrong way round is said so, not silently empty.
  assert.match(await page("from=2026-03-05&to=2026-03-01"), /data-testid="period-invalid"/);

  // The send's own chart buckets by the reader's day too (events more than four days apart).
  await writeEvents(t.deps, [open(sends[0]!.queueId, "2026-03-06T23:30:00Z")]);
  const tl = await sendTimeline(t.deps, tenant.id, sends[0]!.id, { timeZone: "Europe/Helsinki" });
  assert.equal(tl.unit, "day");
  assert.equal(tl.points[0]!.at.toISOString(), "2026-02-28T22:00:00.000Z", "1 March, Helsinki");
  assert.deepEqual(tl.points.map((x) => x.opens), [1, 1, 0, 0, 0, 0, 1]);
  const utc = await sendTimeline(t.deps, tenant.id, sends[0]!.id, { timeZone: "UTC" });
  assert.deepEqual(utc.points.map((x) => x.opens), [2, 0, 0, 0, 0, 1]);
});
