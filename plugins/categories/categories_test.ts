// categories plugin: tier gating, admin-only management, assignment (replace, unknown ids,
// other tenants), the filter of mailings, and period statistics per category on a known set
// of sends (counters set directly, so the arithmetic is checked to the unit).
import assert from "node:assert/strict";
import { apiClient, Browser, PASSWORD, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { createApiKey } from "../../core/auth/api_keys.ts";
import { createUser } from "../../core/tenants/users.ts";
import { updateTenant } from "../../core/tenants/tenants.ts";
import { setPassword } from "../../core/auth/login.ts";
import { sql } from "kysely";
import { createSend } from "../../core/send/queue.ts";
import { periodStats } from "../../core/feedback/stats.ts";
import { categoriesPlugin } from "./mod.ts";

const t = await testApp({ plugins: [categoriesPlugin] });
const org = await seedTenant(t, { tier: "advanced", slug: "cat-adv" });
const api = apiClient(t, org.key);
const tid = org.tenant.id;

async function mailing(subject: string) {
  const r = await api("POST", "/mailings", { subject });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.id as string;
}

async function signIn(email: string) {
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email, password: PASSWORD })).status, 303);
  await b.get("/"); // the signed-in page's CSRF token
  return b;
}

Deno.test("tier gating: a Standard tenant gets 403 and no panel; Advanced gets both", async () => {
  const std = await seedTenant(t, { tier: "standard", slug: "cat-std" });
  const r = await apiClient(t, std.key)("GET", "/categories");
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, "plugin_not_enabled");
  const m = (await apiClient(t, std.key)("POST", "/mailings", { subject: "x" })).body.id;
  const b = await signIn(std.email);
  const html = await (await b.get(`/mailings/${m}/review`)).text();
  assert.ok(html.includes(`/mailings/${m}/send`));
  assert.ok(!html.includes("categories-panel"));
  assert.equal((await b.get("/p/categories")).status, 403);
  assert.equal((await api("GET", "/categories")).status, 200);
});

Deno.test("admins manage categories; staff and non-admin keys may not", async () => {
  const made = await api("POST", "/categories", { name: "Research", colour: "#1F6FEB" });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.equal(made.body.colour, "#1f6feb");
  const dup = await api("POST", "/categories", { name: "  research " });
  assert.equal(dup.status, 409);
  assert.equal(dup.body.error.details[0].path, "name");
  const bad = await api("POST", "/categories", { name: "X", colour: "red; background:url(x)" });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.details[0].path, "colour");
  const bad7 = await api("POST", "/categories", { name: "X", colour: "#12345g" });
  assert.equal(bad7.body.error.details[0].code, "colour_format");
  assert.equal(bad7.body.error.details[0].message, "Expected a colour as #rrggbb.");
  // In the reader's language, in the UI too.
  await updateTenant(t.deps, tid, { locale: "sv" }, "test");
  const sv = await api("POST", "/categories", { name: "X", colour: "red" });
  assert.equal(sv.body.error.details[0].message, "Ange en färg som #rrggbb.");
  const admin = await signIn(org.email);
  await admin.post("/p/categories/new", { name: "X", colour: "red" });
  const flashed = await (await admin.get("/p/categories")).text();
  await updateTenant(t.deps, tid, { locale: "en" }, "test");
  assert.match(flashed, /colour: Ange en färg som #rrggbb\./);
  const renamed = await api("PATCH", `/categories/${made.body.id}`, { name: "Research & dev" });
  assert.equal(renamed.body.name, "Research & dev");
  assert.equal(renamed.body.colour, "#1f6feb");

  const writer = await createApiKey(t.deps, {
    tenantId: tid,
    name: "w",
    scopes: ["read", "write"],
  });
  const w = apiClient(t, writer.key);
  assert.equal((await w("POST", "/categories", { name: "Nope" })).status, 403);
  assert.equal((await w("GET", "/categories")).status, 200);

  const { user } = await createUser(t.deps, tid, { email: "staff@cat.example", role: "user" }, "t");
  await setPassword(t.deps, { kind: "user", tenantId: tid, userId: user.id }, PASSWORD);
  const staff = await signIn("staff@cat.example");
  const page = await (await staff.get("/p/categories")).text();
  assert.ok(page.includes("Research &amp; dev"));
  assert.ok(!page.includes('data-testid="new-category"'), "no management form for staff");
  assert.equal((await staff.post("/p/categories/new", { name: "Sneaky" })).status, 403);

  const del = await t.app.request(`/api/v1/categories/${made.body.id}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${org.key}` },
  });
  assert.equal(del.status, 204);
  assert.equal((await api("GET", `/categories/${made.body.id}`)).status, 404);
});

Deno.test("assign categories to mailings; filter mailings by category", async () => {
  const a = (await api("POST", "/categories", { name: "Alumni" })).body;
  const b = (await api("POST", "/categories", { name: "Board" })).body;
  const m1 = await mailing("Alumni news");
  const m2 = await mailing("Board and alumni");
  const m3 = await mailing("Nothing");
  assert.deepEqual(
    (await api("PUT", `/categories/mailings/${m1}`, { category_ids: [a.id] })).body.items
      .map((x: { name: string }) => x.name),
    ["Alumni"],
  );
  await api("PUT", `/categories/mailings/${m2}`, { category_ids: [b.id, a.id, a.id] });
  assert.deepEqual(
    (await api("GET", `/categories/mailings/${m2}`)).body.items.map((x: { name: string }) =>
      x.name
    ),
    ["Alumni", "Board"],
  );
  const unknown = await api("PUT", `/categories/mailings/${m3}`, {
    category_ids: [a.id, "01900000-0000-7000-8000-000000000000"],
  });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error.details[0].path, "category_ids.1");
  assert.deepEqual((await api("GET", `/categories/mailings/${m3}`)).body.items, [], "all or none");

  const inA = (await api("GET", `/categories/${a.id}/mailings`)).body.items.map(
    (x: { id: string }) => x.id,
  );
  assert.deepEqual(inA, [m2, m1], "newest first");
  assert.deepEqual(
    (await api("GET", `/categories/${b.id}/mailings`)).body.items.map((x: { id: string }) => x.id),
    [m2],
  );
  const listed = (await api("GET", "/categories")).body.items;
  assert.equal(listed.find((x: { id: string }) => x.id === a.id).mailings, 2);

  // Replacing: m2 keeps only Board.
  await api("PUT", `/categories/mailings/${m2}`, { category_ids: [b.id] });
  assert.deepEqual(
    (await api("GET", `/categories/${a.id}/mailings`)).body.items.map((x: { id: string }) => x.id),
    [m1],
  );

  // Another tenant can neither see nor use them.
  const other = await seedTenant(t, { tier: "advanced", slug: "cat-other" });
  const o = apiClient(t, other.key);
  assert.equal((await o("GET", `/categories/${a.id}`)).status, 404);
  assert.equal((await o("GET", `/categories/mailings/${m1}`)).status, 404);
  const own = (await o("POST", "/mailings", { subject: "theirs" })).body.id;
  assert.equal(
    (await o("PUT", `/categories/mailings/${own}`, { category_ids: [a.id] })).status,
    400,
  );
  assert.equal((await o("PUT", `/categories/mailings/${m1}`, { category_ids: [] })).status, 404);
});

Deno.test("statistics per category and period add up the sends of its mailings", async () => {
  const t2 = await testApp({ plugins: [categoriesPlugin] });
  try {
    const o = await seedTenant(t2, { tier: "advanced", slug: "cat-stats" });
    const a2 = apiClient(t2, o.key);
    const x = (await a2("POST", "/categories", { name: "X" })).body.id;
    const y = (await a2("POST", "/categories", { name: "Y" })).body.id;
    const z = (await a2("POST", "/categories", { name: "Z (empty)" })).body.id;
    const mk = async (subject: string, cats: string[]) => {
      const id = (await a2("POST", "/mailings", { subject })).body.id;
      await a2("PUT", `/categories/mailings/${id}`, { category_ids: cats });
      return id;
    };
    const m1 = await mk("one", [x]);
    const m2 = await mk("two", [x, y]);
    const m3 = await mk("three", []);
    // A send of a mailing with its counters and when it started (Stockholm: UTC+1 in January).
    const send = async (
      mailing: string,
      startedAt: string,
      c: Record<string, number>,
      isTest = false,
    ) => {
      const s = await createSend(t2.deps, o.tenant.id, {
        kind: "mass",
        content: { from: { address: "a@b.example" }, subject: "s", text: "t" },
        audience: {},
      }, "test");
      await t2.deps.db.updateTable("sends").set({
        mailing_id: mailing,
        started_at: new Date(startedAt),
        is_test: isTest,
        ...c,
      }).where("tenant_id", "=", o.tenant.id).where("id", "=", s.id).execute();
    };
    const c = (
      total: number,
      sent: number,
      hard: number,
      soft: number,
      uo: number,
      uc: number,
    ) => ({
      total,
      sent,
      bounced_hard: hard,
      bounced_soft: soft,
      unique_opens: uo,
      unique_clicks: uc,
      complaints: 1,
    });
    await send(m1, "2027-01-10T12:00:00Z", c(100, 98, 2, 1, 40, 10));
    await send(m2, "2027-01-20T12:00:00Z", c(50, 50, 0, 2, 20, 5));
    await send(m2, "2027-01-20T13:00:00Z", c(5, 5, 0, 0, 5, 5), true); // a test send: left out
    await send(m3, "2027-01-15T12:00:00Z", c(999, 999, 0, 0, 0, 0)); // no category
    // 23:30 UTC on 31 January is already 1 February in Stockholm: outside.
    await send(m1, "2027-01-31T23:30:00Z", c(7, 7, 0, 0, 0, 0));
    // 23:30 UTC on 31 December is 1 January in Stockholm: inside.
    await send(m2, "2026-12-31T23:30:00Z", c(3, 3, 0, 0, 1, 0));

    const r = await a2("GET", "/categories/stats?from=2027-01-01&to=2027-01-31");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.time_zone, "Europe/Stockholm");
    assert.equal(r.body.from, "2026-12-31T23:00:00.000Z");
    assert.equal(r.body.to, "2027-01-31T23:00:00.000Z");
    const by = Object.fromEntries(
      r.body.items.map((
        i: { category: { id: string }; stats: unknown },
      ) => [i.category.id, i.stats]),
    );
    assert.deepEqual(by[x], {
      sends: 3,
      recipients: 153,
      sent: 151,
      failed: 0,
      bouncedHard: 2,
      bouncedSoft: 3,
      complaints: 3,
      uniqueOpens: 61,
      uniqueClicks: 15,
      machineOpens: 0,
      machineClicks: 0,
    });
    assert.equal(by[y].sends, 2);
    assert.equal(by[y].recipients, 53);
    assert.equal(by[y].uniqueOpens, 21);
    assert.equal(by[z].sends, 0);
    assert.equal(by[z].recipients, 0);

    const bad = await a2("GET", "/categories/stats?from=2027-02-01&to=2027-01-01");
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.details[0].path, "to");
    assert.equal(bad.body.error.details[0].code, "period_order");
    assert.equal(bad.body.error.details[0].message, "Must not be before the start date.");

    // The one grouped query gives what the core's periodStats gives for each category alone.
    for (const id of [x, y, z]) {
      const alone = await periodStats(
        t2.deps,
        o.tenant.id,
        new Date(r.body.from),
        new Date(r.body.to),
        {
          onlySends: sql`select s.id from sends s join mailing_categories mc
            on mc.tenant_id = s.tenant_id and mc.mailing_id = s.mailing_id
            where s.tenant_id = ${o.tenant.id} and mc.category_id = ${id}`,
        },
      );
      assert.deepEqual(by[id], alone);
    }
    // The period filter can use the index on (tenant_id, started_at) instead of a scan.
    const plan = await t2.deps.db.transaction().execute(async (trx) => {
      await sql`set local enable_seqscan = off`.execute(trx);
      return (await sql<Record<string, string>>`explain select count(*) from sends
        where tenant_id = ${o.tenant.id} and started_at >= ${new Date(r.body.from)}
          and started_at < ${new Date(r.body.to)}`.execute(trx)).rows.map((p) =>
        Object.values(p)[0]
      ).join("\n");
    });
    assert.match(plan, /sends_started/);

    // The page shows the same numbers for the chosen period.
    const b = new Browser(t2.app);
    await b.get("/login");
    await b.post("/login", { email: o.email, password: PASSWORD });
    const html = await (await b.get("/p/categories?from=2027-01-01&to=2027-01-31")).text();
    const row = html.slice(html.indexOf('data-testid="category-stats"'));
    assert.match(row, /data-category="X">.*?data-k="recipients">153<.*?data-k="delivered">146</s);
  } finally {
    await t2.close();
  }
});

Deno.test("the panel on a mailing ticks its categories and returns to the same page", async () => {
  const m = await mailing("Panel");
  const cats = (await api("GET", "/categories")).body.items as { id: string; name: string }[];
  const b = await signIn(org.email);
  const review = await (await b.get(`/mailings/${m}/review`)).text();
  assert.ok(review.includes('data-testid="categories-panel"'));
  const res = await b.post(`/p/categories/mailings/${m}`, {
    category_id: cats.slice(0, 2).map((c) => c.id),
    back: "review",
  });
  assert.equal(res.headers.get("location"), `/mailings/${m}/review`);
  const after = await (await b.get(`/mailings/${m}/review`)).text();
  for (const c of cats.slice(0, 2)) assert.match(after, new RegExp(`value="${c.id}" checked`));
  // Only our own pages are returned to, whatever "back" says.
  const evil = await b.post(`/p/categories/mailings/${m}`, { back: "https://evil.example" });
  assert.equal(evil.headers.get("location"), `/mailings/${m}`);
});

Deno.test("the API is documented in the OpenAPI document", async () => {
  const doc = await (await t.app.request("/api/v1/openapi.json")).json();
  assert.ok(doc.paths["/categories/stats"].get);
  assert.ok(doc.paths["/categories/mailings/{id}"].put);
  assert.ok(doc.paths["/categories/{id}/mailings"].get);
});

Deno.test("another tenant's mailing is not found from the panel's form either", async () => {
  const other = await seedTenant(t, { tier: "advanced", slug: "cat-other-ui" });
  const b = await signIn(other.email);
  const m = await mailing("Mine");
  assert.equal((await b.post(`/p/categories/mailings/${m}`, { back: "page" })).status, 404);
  assert.equal((await b.post(`/p/categories/mailings/not-a-uuid`, {})).status, 404);
});
