// content_templates plugin: tier gating, save a mailing as a template, sharing, new mailings
// from a template carrying its subscription type.
import assert from "node:assert/strict";
import { apiClient, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { createApiKey } from "../../core/auth/api_keys.ts";
import { contentTemplatesPlugin } from "./mod.ts";

const t = await testApp({ plugins: [contentTemplatesPlugin] });
const standard = await seedTenant(t, { tier: "standard", slug: "ct-standard" });
const api = apiClient(t, standard.key);

Deno.test("tier gating: a Light tenant gets 403 plugin_not_enabled, Standard gets the API", async () => {
  const light = await seedTenant(t, { tier: "light", slug: "ct-light" });
  const r = await apiClient(t, light.key)("GET", "/content-templates");
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, "plugin_not_enabled");
  const ok = await api("GET", "/content-templates");
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.deepEqual(ok.body.items, []);
  // The add-on switch works too: a Light tenant given the plugin.
  const addon = await seedTenant(t, {
    tier: "light",
    addons: ["content_templates"],
    slug: "ct-addon",
  });
  assert.equal((await apiClient(t, addon.key)("GET", "/content-templates")).status, 200);
});

Deno.test("save a mailing as a template; a new mailing from it has its content and type", async () => {
  const m = (await api("POST", "/mailings", {
    subject: "Alumni news {{firstname}}",
    preheader: "This month",
    body_html: '<h1>News</h1><script>x</script><p>Hej {{firstname default="vän"}}</p>',
  })).body;
  const tpl = await api("POST", "/content-templates", {
    name: "Alumni newsletter",
    mailing_id: m.id,
    subscription_type_name: "Alumni newsletter",
    shared: true,
  });
  assert.equal(tpl.status, 201, JSON.stringify(tpl.body));
  assert.equal(tpl.body.subject, "Alumni news {{firstname}}");
  assert.equal(tpl.body.body_html, '<h1>News</h1><p>Hej {{firstname default="vän"}}</p>');
  assert.equal(tpl.body.subscription_type_name, "Alumni newsletter");
  // A second template naming the same type reuses it.
  const again = await api("POST", "/content-templates", {
    name: "Alumni short",
    body_html: "<p>x</p>",
    subscription_type_name: "alumni NEWSLETTER",
  });
  assert.equal(again.body.subscription_type_id, tpl.body.subscription_type_id);

  const fresh = await api("POST", `/content-templates/${tpl.body.id}/mailings`);
  assert.equal(fresh.status, 201, JSON.stringify(fresh.body));
  assert.equal(fresh.body.status, "draft");
  assert.equal(fresh.body.subject, "Alumni news {{firstname}}");
  assert.equal(fresh.body.preheader, "This month");
  assert.equal(fresh.body.content_template_id, tpl.body.id);
  assert.equal(fresh.body.subscription_type_id, tpl.body.subscription_type_id);
  const types = await t.deps.db.selectFrom("subscription_types").select("name")
    .where("tenant_id", "=", standard.tenant.id).execute();
  assert.deepEqual(types.map((x) => x.name), ["Alumni newsletter"]);
});

Deno.test("sharing: private templates are the author's; shared ones everyone's", async () => {
  const other = await createApiKey(t.deps, {
    tenantId: standard.tenant.id,
    name: "colleague",
    scopes: ["read", "write"],
  });
  const colleague = apiClient(t, other.key);
  const mine = (await api("POST", "/content-templates", { name: "Private", body_html: "<p>a</p>" }))
    .body;
  assert.equal(mine.shared, false);
  assert.equal((await colleague("GET", `/content-templates/${mine.id}`)).status, 404);
  assert.ok(
    !(await colleague("GET", "/content-templates")).body.items.some(
      (x: { id: string }) => x.id === mine.id,
    ),
  );
  assert.equal(
    (await colleague("PATCH", `/content-templates/${mine.id}`, { shared: true })).status,
    404,
  );
  const shared = await api("PATCH", `/content-templates/${mine.id}`, { shared: true });
  assert.equal(shared.body.shared, true);
  assert.equal((await colleague("GET", `/content-templates/${mine.id}`)).status, 200);
  assert.equal((await colleague("POST", `/content-templates/${mine.id}/mailings`)).status, 201);
  // Only the author may unshare or delete it.
  assert.equal(
    (await colleague("PATCH", `/content-templates/${mine.id}`, { shared: false })).status,
    403,
  );
  const other2 = await seedTenant(t, { tier: "standard", slug: "ct-other" });
  assert.equal(
    (await apiClient(t, other2.key)("GET", `/content-templates/${mine.id}`)).status,
    404,
  );
});

Deno.test("validation names the field; OpenAPI lists the plugin's paths", async () => {
  const r = await api("POST", "/content-templates", { name: "", subscription_type_id: "x" });
  assert.equal(r.status, 400);
  const paths = r.body.error.details.map((d: { path: string }) => d.path).sort();
  assert.deepEqual(paths, ["name", "subscription_type_id"]);
  const doc = await (await t.app.request("/api/v1/openapi.json")).json();
  assert.ok(Object.keys(doc.paths).some((p) => p.startsWith("/content-templates")));
});
