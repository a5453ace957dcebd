// REST conventions end to end: API keys, tenant isolation, tier gating, idempotency, pagination.
import assert from "node:assert/strict";
import { z } from "zod";
import { createRoute } from "@hono/zod-openapi";
import type { Plugin } from "../core/plugin.ts";
import { requireTenant } from "../core/http/context.ts";
import { createOperatorKey } from "../core/auth/api_keys.ts";
import { ensureOperator } from "../core/bootstrap.ts";
import { bearer, Browser, PASSWORD, seedTenant, testApp } from "./helpers/app.ts";

/** A stand-in for an Advanced-tier feature: one API route, one page, one nav item. */
const reports: Plugin = {
  name: "reports_demo",
  tier: "advanced",
  messages: { en: { nav: "Demo reports" } },
  routes(app) {
    app.openapi(
      createRoute({
        method: "get",
        path: "/summary",
        responses: {
          200: {
            description: "ok",
            content: { "application/json": { schema: z.object({ tenant: z.string() }) } },
          },
        },
      }),
      (c) => c.json({ tenant: requireTenant(c).slug }, 200),
    );
  },
  ui: {
    nav: [{ path: "", label: "nav" }],
    routes(app) {
      app.get("/", (c) => c.html("<h1>Demo reports page</h1>"));
    },
  },
};
/** An add-on any tier can be given. */
const typed: Plugin = {
  name: "typed_demo",
  tier: "addon",
  routes(app) {
    app.get("/ping", (c) => c.json({ ok: true }));
  },
};

const t = await testApp({ plugins: [reports, typed] });
const light = await seedTenant(t, { slug: "light-org", tier: "light" });
const advanced = await seedTenant(t, { slug: "adv-org", tier: "advanced" });
await ensureOperator(t.deps);
const { id: operatorId } = await t.deps.db.selectFrom("operators").select("id")
  .executeTakeFirstOrThrow();
const opKey = (await createOperatorKey(t.deps, { operatorId, name: "test" })).key;

const api = (path: string, init: RequestInit = {}) => t.app.request(`/api/v1${path}`, init);
const send = (key: string, method: string, path: string, body?: unknown, h = {}) =>
  api(path, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...h },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
async function errorOf(res: Response) {
  const body = await res.json();
  return body.error as { code: string; message: string; details?: unknown };
}

Deno.test("a valid API key identifies its tenant and scopes", async () => {
  const res = await api("/me", bearer(light.key));
  assert.equal(res.status, 200);
  const me = await res.json();
  assert.equal(me.tenant.slug, "light-org");
  assert.deepEqual(me.scopes, ["read", "write", "admin"]);
});

Deno.test("missing, malformed, unknown and revoked keys are refused with 401", async () => {
  const none = await api("/me");
  assert.equal(none.status, 401);
  assert.equal((await errorOf(none)).code, "unauthenticated");

  const malformed = await api("/me", bearer("not-a-key"));
  assert.equal(malformed.status, 401);
  assert.equal((await errorOf(malformed)).code, "api_key_invalid");

  // Right shape and prefix, wrong secret.
  const forged = light.key.slice(0, -4) + (light.key.endsWith("AAAA") ? "BBBB" : "AAAA");
  assert.equal((await api("/me", bearer(forged))).status, 401);

  const created = await send(light.key, "POST", "/api-keys", { name: "temp", scopes: ["read"] });
  assert.equal(created.status, 201);
  const temp = await created.json();
  assert.equal((await api("/me", bearer(temp.key))).status, 200);
  const revoked = await send(light.key, "DELETE", `/api-keys/${temp.id}`);
  assert.equal(revoked.status, 200);
  const after = await api("/me", bearer(temp.key));
  assert.equal(after.status, 401);
  assert.equal((await errorOf(after)).code, "api_key_invalid");
});

Deno.test("a key's scopes limit what it may do", async () => {
  const readOnly = await seedTenant(t, { slug: "ro-org", scopes: ["read"] });
  assert.equal((await api("/me", bearer(readOnly.key))).status, 200);
  const res = await send(readOnly.key, "POST", "/api-keys", { name: "x" });
  assert.equal(res.status, 403);
  const err = await errorOf(res);
  assert.equal(err.code, "forbidden");
  assert.deepEqual(err.details, { required_scope: "admin" });
});

Deno.test("tenant A cannot see or touch tenant B's resources: 404, not 403", async () => {
  const a = light;
  const b = advanced;
  const bKey = await send(a.key, "GET", `/api-keys/${b.keyId}`);
  assert.equal(bKey.status, 404);
  assert.equal((await errorOf(bKey)).code, "not_found");
  assert.equal((await send(a.key, "GET", `/users/${b.user.id}`)).status, 404);
  assert.equal((await send(a.key, "DELETE", `/api-keys/${b.keyId}`)).status, 404);
  // B's key still works, and A's list shows only A's keys.
  assert.equal((await api("/me", bearer(b.key))).status, 200);
  const list = await (await send(a.key, "GET", "/api-keys")).json();
  assert.ok(list.items.every((k: { id: string }) => k.id !== b.keyId));
  // A non-existent id answers exactly like another tenant's.
  const missing = await send(a.key, "GET", `/api-keys/0193e5a0-0000-7000-8000-000000000000`);
  assert.equal(missing.status, 404);
  // A tenant key is not an operator key.
  const ops = await send(a.key, "GET", "/tenants");
  assert.equal(ops.status, 403);
});

Deno.test("tier gating: an Advanced plugin's route is 403 for Light and 200 for Advanced", async () => {
  const denied = await api("/reports_demo/summary", bearer(light.key));
  assert.equal(denied.status, 403);
  const err = await errorOf(denied);
  assert.equal(err.code, "plugin_not_enabled");
  assert.match(err.message, /reports_demo/);

  const allowed = await api("/reports_demo/summary", bearer(advanced.key));
  assert.equal(allowed.status, 200);
  assert.deepEqual(await allowed.json(), { tenant: "adv-org" });

  // An add-on is off until the operator grants it, whatever the tier.
  assert.equal((await api("/typed_demo/ping", bearer(advanced.key))).status, 403);
  const granted = await send(opKey, "PATCH", `/tenants/${light.tenant.id}`, {
    addons: ["typed_demo"],
  });
  assert.equal(granted.status, 200);
  assert.equal((await api("/typed_demo/ping", bearer(light.key))).status, 200);
  // Raising the tier takes effect at once (the per-tenant cache follows the tenant row).
  await send(opKey, "PATCH", `/tenants/${light.tenant.id}`, { tier: "advanced" });
  assert.equal((await api("/reports_demo/summary", bearer(light.key))).status, 200);
  await send(opKey, "PATCH", `/tenants/${light.tenant.id}`, { tier: "light", addons: [] });
  assert.equal((await api("/reports_demo/summary", bearer(light.key))).status, 403);
});

Deno.test("tier gating in the UI: the plugin's nav item and page exist only where enabled", async () => {
  async function home(email: string) {
    const b = new Browser(t.app);
    await b.get("/login");
    const res = await b.post("/login", { email, password: PASSWORD });
    assert.equal(res.status, 303);
    return { b, html: await (await b.get("/")).text() };
  }
  const adv = await home(advanced.email);
  assert.match(adv.html, /href="\/p\/reports_demo"[^>]*>Demo reports</);
  assert.equal((await adv.b.get("/p/reports_demo")).status, 200);

  const missing = await adv.b.get("/no/such/page");
  assert.equal(missing.status, 404);
  assert.match(missing.headers.get("content-type") ?? "", /html/);
  assert.match(await missing.text(), /href="\/p\/reports_demo"/, "a 404 page keeps the menu");
  const apiMissing = await api("/no/such/route", bearer(advanced.key));
  assert.equal(apiMissing.status, 404);
  assert.equal((await errorOf(apiMissing)).code, "not_found");

  const lite = await home(light.email);
  assert.doesNotMatch(lite.html, /Demo reports/);
  const page = await lite.b.get("/p/reports_demo");
  assert.equal(page.status, 403);
  assert.match(await page.text(), /not enabled for your organisation/);
});

Deno.test("Idempotency-Key: a retried POST returns the first answer and creates nothing twice", async () => {
  const key = `retry-${crypto.randomUUID()}`;
  const body = { name: "ci key", scopes: ["read"] };
  const first = await send(light.key, "POST", "/api-keys", body, { "idempotency-key": key });
  assert.equal(first.status, 201);
  const a = await first.json();
  const second = await send(light.key, "POST", "/api-keys", body, { "idempotency-key": key });
  assert.equal(second.status, 201);
  assert.equal(second.headers.get("idempotent-replayed"), "true");
  assert.deepEqual(await second.json(), a);
  const list = await (await send(light.key, "GET", "/api-keys")).json();
  assert.equal(list.items.filter((k: { name: string }) => k.name === "ci key").length, 1);

  const changed = await send(light.key, "POST", "/api-keys", { ...body, name: "other" }, {
    "idempotency-key": key,
  });
  assert.equal(changed.status, 422);
  assert.equal((await errorOf(changed)).code, "idempotency_mismatch");
  // Keys are per tenant: another tenant may use the same key for its own request.
  const other = await send(advanced.key, "POST", "/api-keys", body, { "idempotency-key": key });
  assert.equal(other.status, 201);
  assert.notEqual((await other.json()).id, a.id);
});

Deno.test("operator API: validation names the field; lists page with a cursor", async () => {
  const bad = await send(opKey, "POST", "/tenants", { name: "", tier: "gold" });
  assert.equal(bad.status, 400);
  const err = await errorOf(bad);
  assert.equal(err.code, "validation");
  const paths = (err.details as { path: string }[]).map((d) => d.path).sort();
  assert.deepEqual(paths, ["name", "tier"]);
  // Said from the message catalogue, not in zod's own words.
  const tier = (err.details as { path: string; message: string }[]).find((d) => d.path === "tier");
  assert.equal(tier?.message, "Expected one of: light, standard, advanced.");

  for (let i = 0; i < 5; i++) {
    const res = await send(opKey, "POST", "/tenants", { name: `Page Org ${i}`, tier: "light" });
    assert.equal(res.status, 201);
  }
  const seen: string[] = [];
  let cursor: string | null = "";
  let pages = 0;
  while (cursor !== null) {
    const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const page = await (await send(opKey, "GET", `/tenants?limit=2${q}`)).json();
    assert.ok(page.items.length <= 2);
    seen.push(...page.items.map((x: { id: string }) => x.id));
    cursor = page.next_cursor;
    pages++;
  }
  const all = await t.deps.db.selectFrom("tenants").select("id").orderBy("id").execute();
  assert.deepEqual(seen, all.map((r) => r.id), "every tenant once, in order");
  assert.ok(pages >= Math.ceil(all.length / 2), `${pages} pages for ${all.length} tenants`);

  const badCursor = await send(opKey, "GET", "/tenants?cursor=zzz");
  assert.equal(badCursor.status, 400);
  assert.equal((await errorOf(badCursor)).code, "bad_cursor");
});

Deno.test("a suspended tenant's keys stop working until it is reactivated", async () => {
  const s = await seedTenant(t, { slug: "suspend-org" });
  await send(opKey, "PATCH", `/tenants/${s.tenant.id}`, { status: "suspended" });
  const res = await api("/me", bearer(s.key));
  assert.equal(res.status, 403);
  assert.equal((await errorOf(res)).code, "tenant_suspended");
  await send(opKey, "PATCH", `/tenants/${s.tenant.id}`, { status: "active" });
  assert.equal((await api("/me", bearer(s.key))).status, 200);
});

Deno.test("the OpenAPI document describes the routes, including plugins'", async () => {
  const res = await api("/openapi.json");
  assert.equal(res.status, 200);
  const doc = await res.json();
  assert.equal(doc.openapi, "3.1.0");
  for (const path of ["/me", "/api-keys", "/api-keys/{id}", "/tenants", "/tenants/{id}"]) {
    assert.ok(doc.paths[path], `documents ${path}`);
  }
  assert.ok(doc.paths["/reports_demo/summary"], "documents plugin routes");
  for (const name of ["Person", "SegmentDefinition", "TagCondition", "Send", "Import"]) {
    assert.ok(doc.components.schemas[name], `documents the ${name} schema`);
  }
  const docs = await api("/docs");
  assert.equal(docs.status, 200);
  assert.match(await docs.text(), /swagger-ui/);
});
