// Reports per stream and tag, in the API and on the staff page /p/transactional: what was sent,
// delivered, bounced and opened, by day in the reader's time zone; only for the add-on.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { apiClient, Browser, PASSWORD, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { enqueueRaw } from "./enqueue.ts";
import { transactionalPlugin } from "./mod.ts";

const t = await testApp({ plugins: [transactionalPlugin] });
Deno.test.afterAll(() => t.close());

const RAW = "From: orders@shop.example\r\nSubject: Receipt\r\n\r\nThanks\r\n";

/** Messages on two streams with tags, then outcomes written as the worker and feedback would. */
async function seed(slug: string) {
  const o = await seedTenant(t, { slug, addons: ["transactional"], scopes: ["read", "send"] });
  const q = (rcptTo: string[], stream: string, tags: string[]) =>
    enqueueRaw(t.deps, o.tenant.id, {
      mailFrom: "orders@shop.example",
      rcptTo,
      raw: RAW,
      stream,
      tags,
    });
  const a = await q(["a@x.example", "b@x.example", "c@x.example"], "transactional", ["receipt"]);
  const b = await q(["d@x.example"], "password", ["reset", "security"]);
  const [a1, a2, a3] = a.ids;
  const now = new Date();
  await t.deps.db.updateTable("send_queue").set({ status: "sent", sent_at: now })
    .where("tenant_id", "=", o.tenant.id).where("id", "in", [a1!, a2!, b.ids[0]!]).execute();
  await t.deps.db.updateTable("send_queue").set({ opened_at: now })
    .where("tenant_id", "=", o.tenant.id).where("id", "=", a1!).execute();
  await t.deps.db.updateTable("send_queue").set({ status: "failed", last_reply: "550 5.1.1" })
    .where("tenant_id", "=", o.tenant.id).where("id", "=", a3!).execute();
  await sql`insert into bounces (tenant_id, id, queue_id, address, address_key, kind, status,
      reason, source, created_at)
    values (${o.tenant.id}, skicka_uuidv7(), ${a3}, 'c@x.example', 'c@x.example', 'hard',
      '5.1.1', 'unknown_user', 'sync', now())`.execute(t.deps.db);
  return o;
}

Deno.test("GET /messages/reports: totals per stream, per tag and per day", async () => {
  const o = await seed("rep-api");
  const api = apiClient(t, o.key);
  const r = await api("GET", "/messages/reports?days=7");
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const byStream = Object.fromEntries(
    r.body.streams.map((s: { stream: string }) => [s.stream, s]),
  );
  assert.deepEqual(
    [
      byStream.transactional.messages,
      byStream.transactional.delivered,
      byStream.transactional.bounced,
    ],
    [3, 2, 1],
  );
  assert.equal(byStream.transactional.bounce_rate, 0.3333);
  assert.equal(byStream.transactional.open_rate, 0.5);
  assert.equal(byStream.password.delivered, 1);
  const byTag = Object.fromEntries(
    r.body.tags.map((x: { tag: string; messages: number }) => [x.tag, x.messages]),
  );
  assert.deepEqual(byTag, { receipt: 3, reset: 1, security: 1 });
  assert.equal(r.body.days.length, 1);
  assert.equal(r.body.total.messages, 4);
  const tagged = await api("GET", "/messages/reports?tag=reset");
  assert.equal(tagged.body.total.messages, 1);
  const streamOnly = await api("GET", "/messages/reports?stream=password");
  assert.deepEqual(streamOnly.body.streams.map((s: { stream: string }) => s.stream), ["password"]);
  const bad = await api("GET", "/messages/reports?time_zone=Mars/Olympus");
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.details[0].path, "time_zone");
});

Deno.test("/p/transactional shows the report to staff; tenants without the add-on get 403", async () => {
  const o = await seed("rep-ui");
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email: o.email, password: PASSWORD })).status, 303);
  const res = await b.get("/p/transactional?days=7");
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /data-testid="report-streams"/);
  assert.match(html, /<td>password<\/td>/);
  assert.match(html, /<td>receipt<\/td>/);
  assert.match(html, /Bounce rate/);
  const filtered = await (await b.get("/p/transactional?days=7&tag=nothing-like-this")).text();
  assert.match(filtered, /data-testid="report-empty"/);

  const other = await seedTenant(t, { slug: "rep-none" });
  const ob = new Browser(t.app);
  await ob.get("/login");
  await ob.post("/login", { email: other.email, password: PASSWORD });
  assert.equal((await ob.get("/p/transactional")).status, 403);
});
