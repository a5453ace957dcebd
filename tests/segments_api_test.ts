// Segments and lists over HTTP: scopes, validation paths, conflicts, paging, tenant isolation.
import assert from "node:assert/strict";
import { Hono } from "hono";
import { uuidv7 } from "../core/db/ids.ts";
import { jsonb } from "../core/db/json.ts";
import { AppError } from "../core/errors.ts";
import { authenticate, requestContext } from "../core/http/context.ts";
import { jsonError } from "../core/http/errors.ts";
import { idempotency } from "../core/http/idempotency.ts";
import { newApi } from "../routes/api/mod.ts";
import { listRoutes } from "../routes/api/lists.ts";
import { segmentRoutes } from "../routes/api/segments.ts";
import { seedTenant, testApp } from "./helpers/app.ts";

const t = await testApp();
const a = await seedTenant(t, { slug: "segapi-a" });
const b = await seedTenant(t, { slug: "segapi-b" });
const readOnly = await seedTenant(t, { slug: "segapi-ro", scopes: ["read"] });

/** The app's own /api/v1 once routes/api/mod.ts mounts these routes; until then, the same stack. */
async function appUnderTest(): Promise<Hono> {
  const doc = await (await t.app.request("/api/v1/openapi.json")).json();
  if (doc.paths?.["/segments"]) return t.app;
  const api = newApi();
  api.use("*", authenticate(t.deps, "bearer"));
  api.use("*", idempotency(t.deps));
  segmentRoutes(api, t.deps);
  listRoutes(api, t.deps);
  api.doc31("/openapi.json", { openapi: "3.1.0", info: { title: "test", version: "0" } });
  api.notFound(() => {
    throw new AppError("not_found");
  });
  api.onError((err, c) => jsonError(c, err));
  const root = new Hono();
  root.use("*", requestContext(t.deps));
  root.route("/api/v1", api);
  return root;
}
const app = await appUnderTest();

// deno-lint-ignore no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;
async function call(key: string, method: string, path: string, body?: unknown) {
  const res = await app.request(`/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as Json };
}
const api = (method: string, path: string, body?: unknown) => call(a.key, method, path, body);
const details = (r: { body: Json }) =>
  (r.body.error.details as Json[]).map((d) => `${d.path} ${d.code}`);

async function person(tenantId: string, first: string, org: string, tags: string[] = []) {
  const id = uuidv7();
  await t.deps.db.insertInto("persons").values({
    tenant_id: tenantId,
    id,
    first_name: first,
    organisation: org,
    tags,
    custom: jsonb({}),
    created_at: new Date(),
    updated_at: new Date(),
  }).execute();
  await t.deps.db.insertInto("person_addresses").values({
    tenant_id: tenantId,
    id: uuidv7(),
    person_id: id,
    address: `${first.toLowerCase()}@${org.toLowerCase().replace(/\W/g, "")}.example`,
    address_key: `${first.toLowerCase()}@${org.toLowerCase().replace(/\W/g, "")}.example`,
    is_primary: true,
    created_at: new Date(),
  }).execute();
  return id;
}
const anna = await person(a.tenant.id, "Anna", "Acme", ["vip"]);
const bo = await person(a.tenant.id, "Bo", "Acme");
const cia = await person(a.tenant.id, "Cia", "Beta", ["vip"]);
const karl = await person(b.tenant.id, "Karl", "Acme", ["vip"]);

const acmeOrVip = {
  op: "or",
  conditions: [{ field: "organisation", match: "equals", value: "ACME" }, {
    tag: "vip",
    has: true,
  }],
};

Deno.test("POST /segments/count counts live; a read-only key may count but not save", async () => {
  const r = await api("POST", "/segments/count", acmeOrVip);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { count: 3 });
  assert.deepEqual((await call(b.key, "POST", "/segments/count", acmeOrVip)).body, { count: 1 });

  const ro = await call(readOnly.key, "POST", "/segments/count", acmeOrVip);
  assert.equal(ro.status, 200);
  const save = await call(readOnly.key, "POST", "/segments", { name: "x", definition: acmeOrVip });
  assert.equal(save.status, 403);
  assert.deepEqual(save.body.error.details, { required_scope: "write" });
  const list = await call(readOnly.key, "POST", "/lists", { name: "x" });
  assert.equal(list.status, 403);
  assert.equal((await call(readOnly.key, "GET", "/segments")).status, 200);
});

Deno.test("validation errors name the path inside the definition", async () => {
  const bad = await api("POST", "/segments/count", {
    op: "and",
    conditions: [{ tag: "vip", has: true }, { field: "first_name", match: "bogus", value: "x" }],
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, "validation");
  assert.deepEqual(details(bad), ["conditions.1.match invalid_value"]);

  const saved = await api("POST", "/segments", {
    name: "Bad",
    definition: { op: "and", conditions: [{ op: "or", conditions: [{ tag: 3, has: true }] }] },
  });
  assert.equal(saved.status, 400);
  assert.deepEqual(details(saved), ["definition.conditions.0.conditions.0.tag invalid_type"]);

  const unknown = await api("POST", "/segments/count", {
    op: "and",
    conditions: [{ field: "custom.shoe_size", match: "equals", value: "42" }],
  });
  assert.equal(unknown.status, 400);
  assert.deepEqual(details(unknown), ["conditions.0.field unknown_field"]);
  assert.equal(unknown.body.error.details[0].message, "No such custom field; define it first.");

  const mailing = await api("POST", "/segments", {
    name: "Openers",
    definition: { op: "and", conditions: [{ mailing: uuidv7(), event: "opened" }] },
  });
  assert.equal(mailing.status, 400);
  assert.deepEqual(details(mailing), ["definition.conditions.0.mailing mailings_not_available"]);
});

Deno.test("segments: create, conflict, read, page of persons, update, delete", async () => {
  const created = await api("POST", "/segments", { name: "Acme or VIP", definition: acmeOrVip });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id;
  assert.deepEqual(created.body.definition, acmeOrVip);

  const dup = await api("POST", "/segments", { name: "acme OR vip", definition: acmeOrVip });
  assert.equal(dup.status, 409);
  assert.equal(dup.body.error.code, "conflict");
  assert.deepEqual(details(dup), ["name taken"]);

  assert.equal((await api("GET", `/segments/${id}`)).body.name, "Acme or VIP");
  const all = await api("GET", "/segments");
  assert.deepEqual(all.body.items.map((s: Json) => s.id), [id]);

  const p1 = await api("GET", `/segments/${id}/persons?limit=2`);
  assert.equal(p1.status, 200);
  assert.deepEqual(p1.body.items.map((p: Json) => [p.first_name, p.primary_address]), [
    ["Anna", "anna@acme.example"],
    ["Bo", "bo@acme.example"],
  ]);
  const p2 = await api("GET", `/segments/${id}/persons?limit=2&cursor=${p1.body.next_cursor}`);
  assert.deepEqual(p2.body.items.map((p: Json) => p.id), [cia]);
  assert.equal(p2.body.next_cursor, null);

  const patched = await api("PATCH", `/segments/${id}`, {
    definition: { op: "and", conditions: [{ tag: "vip", has: true }] },
  });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.name, "Acme or VIP");
  const now = await api("GET", `/segments/${id}/persons`);
  assert.deepEqual(now.body.items.map((p: Json) => p.id), [anna, cia]);

  // Tenant B sees none of it.
  for (const [method, path] of [["GET", ""], ["PATCH", ""], ["DELETE", ""], ["GET", "/persons"]]) {
    const r = await call(
      b.key,
      method!,
      `/segments/${id}${path}`,
      method === "PATCH" ? {} : undefined,
    );
    assert.equal(r.status, 404, `${method} ${path}`);
    assert.equal(r.body.error.code, "not_found");
  }
  assert.deepEqual((await call(b.key, "GET", "/segments")).body.items, []);

  const del = await api("DELETE", `/segments/${id}`);
  assert.equal(del.status, 204);
  assert.equal((await api("GET", `/segments/${id}`)).status, 404);
  assert.equal((await api("GET", "/segments/not-a-uuid")).status, 404);
});

Deno.test("lists: create, add and remove members, page, tenant isolation, delete", async () => {
  const created = await api("POST", "/lists", { name: "Newsletter" });
  assert.equal(created.status, 201);
  const id = created.body.id;
  assert.equal((await api("POST", "/lists", { name: "NEWSLETTER" })).status, 409);
  assert.equal((await api("PATCH", `/lists/${id}`, { name: "Weekly" })).body.name, "Weekly");

  const added = await api("POST", `/lists/${id}/members`, { person_ids: [anna, bo, cia, karl] });
  assert.equal(added.status, 200);
  assert.deepEqual(added.body, { added: 3, unchanged: 0, not_found: [karl], not_active: [] });
  const bad = await api("POST", `/lists/${id}/members`, { person_ids: [anna, "nope"] });
  assert.equal(bad.status, 400);
  assert.deepEqual(details(bad), ["person_ids.1 invalid_format"]);

  assert.equal((await api("GET", `/lists/${id}`)).body.member_count, 3);
  const page = await api("GET", `/lists/${id}/members?limit=2`);
  assert.deepEqual(page.body.items.map((m: Json) => m.first_name), ["Anna", "Bo"]);
  assert.ok(page.body.items[0].added_at);
  const rest = await api("GET", `/lists/${id}/members?limit=2&cursor=${page.body.next_cursor}`);
  assert.deepEqual(rest.body.items.map((m: Json) => m.first_name), ["Cia"]);

  const removed = await api("DELETE", `/lists/${id}/members`, { person_ids: [bo] });
  assert.deepEqual(removed.body, { removed: 1 });
  assert.equal((await api("GET", `/lists/${id}`)).body.member_count, 2);

  // Tenant B can neither read nor change A's list, nor slip its own person in.
  assert.equal((await call(b.key, "GET", `/lists/${id}`)).status, 404);
  assert.equal((await call(b.key, "GET", `/lists/${id}/members`)).status, 404);
  assert.equal(
    (await call(b.key, "POST", `/lists/${id}/members`, { person_ids: [karl] })).status,
    404,
  );
  assert.equal((await call(b.key, "DELETE", `/lists/${id}`)).status, 404);
  assert.deepEqual((await call(b.key, "GET", "/lists")).body.items, []);
  // B cannot use A's list in a segment either.
  const foreign = await call(b.key, "POST", "/segments/count", {
    op: "and",
    conditions: [{ list: id, member: true }],
  });
  assert.deepEqual(details(foreign), ["conditions.0.list unknown_list"]);

  const seg = await api("POST", "/segments", {
    name: "Weekly readers",
    definition: { op: "and", conditions: [{ list: id, member: true }] },
  });
  assert.equal(seg.status, 201);
  const inUse = await api("DELETE", `/lists/${id}`);
  assert.equal(inUse.status, 409);
  assert.deepEqual(inUse.body.error.details, {
    reason: "list_in_use",
    segments: [{ id: seg.body.id, name: "Weekly readers" }],
  });
  assert.equal((await api("DELETE", `/segments/${seg.body.id}`)).status, 204);
  assert.equal((await api("DELETE", `/lists/${id}`)).status, 204);
  assert.equal((await api("GET", `/lists/${id}`)).status, 404);
});

Deno.test("the OpenAPI document describes segments, lists and the condition shapes", async () => {
  const doc = await (await app.request("/api/v1/openapi.json")).json();
  for (
    const path of ["/segments", "/segments/count", "/segments/{id}/persons", "/lists/{id}/members"]
  ) {
    assert.ok(doc.paths[path], `documents ${path}`);
  }
  const def = doc.components.schemas.SegmentDefinition;
  assert.deepEqual(def.properties.conditions.items.anyOf.at(-1), {
    $ref: "#/components/schemas/SegmentDefinition",
  });
  assert.ok(doc.components.schemas.FieldCondition.properties.match.enum.includes("contains"));
  assert.deepEqual(doc.paths["/segments"].get.tags, ["Segments"]);
  assert.deepEqual(doc.paths["/lists"].get.tags, ["Lists"]);
});

Deno.test.afterAll(() => t.close());
