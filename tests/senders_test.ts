// Sender identities: admins add and verify them (API and settings page); mailings may only use
// verified ones; addresses are unique per tenant case-insensitively; header-safe names.
import assert from "node:assert/strict";
import { apiClient, Browser, PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { createApiKey } from "../core/auth/api_keys.ts";
import { createUser } from "../core/tenants/users.ts";
import { setPassword } from "../core/auth/login.ts";
import { AppError } from "../core/errors.ts";
import { getVerifiedSender } from "../core/mailings/senders.ts";

const t = await testApp();
const org = await seedTenant(t, { slug: "senders-a" });
const other = await seedTenant(t, { slug: "senders-b" });
const api = apiClient(t, org.key);

Deno.test("admins add senders; duplicates, bad addresses and header injection are refused", async () => {
  const created = await api("POST", "/senders", {
    name: "Alumni\r\nBcc: evil@example.com",
    address: "Alumni@Uni.example",
  });
  assert.equal(created.status, 201);
  assert.equal(created.body.name, "Alumni Bcc: evil@example.com");
  assert.equal(created.body.verified_at, null);
  const dupe = await api("POST", "/senders", { name: "Again", address: "alumni@uni.EXAMPLE" });
  assert.equal(dupe.status, 409);
  const bad = await api("POST", "/senders", { name: "Bad", address: "not an address" });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.details[0].path, "address");
  const noName = await api("POST", "/senders", { address: "x@uni.example" });
  assert.equal(noName.status, 400);
  assert.equal(noName.body.error.details[0].path, "name");

  // The same address is fine for another organisation, which cannot see ours.
  const theirs = await apiClient(t, other.key)("POST", "/senders", {
    name: "Theirs",
    address: "alumni@uni.example",
  });
  assert.equal(theirs.status, 201);
  assert.equal((await apiClient(t, other.key)("GET", `/senders/${created.body.id}`)).status, 404);

  // Keys without the admin scope read, but do not manage.
  const staff = await createApiKey(t.deps, {
    tenantId: org.tenant.id,
    name: "staff",
    scopes: ["read", "write"],
  });
  const staffApi = apiClient(t, staff.key);
  assert.equal((await staffApi("GET", "/senders")).body.items.length, 1);
  assert.equal(
    (await staffApi("POST", "/senders", { name: "S", address: "s@uni.example" })).status,
    403,
  );
  assert.equal((await staffApi("POST", `/senders/${created.body.id}/verify`)).status, 403);
});

Deno.test("only verified senders can be used; a changed address must be verified again", async () => {
  const s = await api("POST", "/senders", { name: "News", address: "news@uni.example" });
  const id = s.body.id;
  await assert.rejects(
    () => getVerifiedSender(t.deps, org.tenant.id, id),
    (e) => e instanceof AppError && e.code === "validation",
  );
  assert.ok(
    !(await api("GET", "/senders?verified=true")).body.items.some((x: { id: string }) =>
      x.id === id
    ),
  );
  const v = await api("POST", `/senders/${id}/verify`);
  assert.equal(v.status, 200);
  assert.ok(v.body.verified_at);
  assert.equal(v.body.verified_by, `api_key:${org.keyId}`);
  assert.equal((await getVerifiedSender(t.deps, org.tenant.id, id)).address, "news@uni.example");
  assert.ok(
    (await api("GET", "/senders?verified=true")).body.items.some((x: { id: string }) =>
      x.id === id
    ),
  );

  const renamed = await api("PATCH", `/senders/${id}`, { name: "Newsroom" });
  assert.ok(renamed.body.verified_at, "a new name keeps the verification");
  const moved = await api("PATCH", `/senders/${id}`, { address: "press@uni.example" });
  assert.equal(moved.status, 200);
  assert.equal(moved.body.verified_at, null);
  const gone = await t.app.request(`/api/v1/senders/${id}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${org.key}` },
  });
  assert.equal(gone.status, 204);
  assert.equal((await api("GET", `/senders/${id}`)).status, 404);
  // Another tenant's sender cannot be used.
  const theirs = (await apiClient(t, other.key)("GET", "/senders")).body.items[0];
  await assert.rejects(
    () => getVerifiedSender(t.deps, org.tenant.id, theirs.id),
    (e) => e instanceof AppError && e.code === "not_found",
  );
});

Deno.test("the settings page: an admin adds and verifies; staff users may not", async () => {
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email: org.email, password: PASSWORD })).status, 303);
  await b.get("/settings/senders");
  const bad = await b.post("/settings/senders", { name: "X", address: "nope" });
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /not a valid email address/);
  const added = await b.post("/settings/senders", {
    name: "Events",
    address: "events@uni.example",
  });
  assert.equal(added.status, 303);
  let html = await (await b.get("/settings/senders")).text();
  assert.match(html, /Sender added/);
  const id = /events@uni\.example<\/td>.*?action="\/settings\/senders\/([0-9a-f-]+)\/verify"/
    .exec(html)?.[1];
  assert.ok(id, "an unverified sender offers Mark verified");
  assert.equal((await b.post(`/settings/senders/${id}/verify`, {})).status, 303);
  html = await (await b.get("/settings/senders")).text();
  assert.match(html, /events@uni\.example is verified/);
  assert.ok(!html.includes(`/settings/senders/${id}/verify`));

  const { user } = await createUser(t.deps, org.tenant.id, {
    email: "staff@senders-a.example",
    role: "user",
  }, "test");
  await setPassword(t.deps, { kind: "user", tenantId: org.tenant.id, userId: user.id }, PASSWORD);
  const s = new Browser(t.app);
  await s.get("/login");
  await s.post("/login", { email: "staff@senders-a.example", password: PASSWORD });
  assert.equal((await s.get("/settings/senders")).status, 403);
});

Deno.test.afterAll(() => t.close());
