// /api/v1/design-templates: validation with line numbers, versions, and the tier gating of
// several templates (Light: one, admins only; Standard with the plugin: several).
import assert from "node:assert/strict";
import { apiClient, seedTenant, testApp } from "./helpers/app.ts";
import { createApiKey } from "../core/auth/api_keys.ts";
import { designTemplatesPlugin } from "../plugins/design_templates/mod.ts";

const t = await testApp({ plugins: [designTemplatesPlugin] });
const light = await seedTenant(t, { slug: "dt-light", tier: "light" });
const standard = await seedTenant(t, { slug: "dt-standard", tier: "standard" });
const lightApi = apiClient(t, light.key);
const stdApi = apiClient(t, standard.key);

async function keyWith(tenantId: string, scopes: ("read" | "write" | "admin")[]) {
  const k = await createApiKey(t.deps, { tenantId, name: scopes.join("+"), scopes });
  return apiClient(t, k.key);
}

const design = (marker: string) =>
  `<mjml>
  <mj-body>
    <mj-section>
      <mj-column><mj-text>${marker}</mj-text></mj-column>
      <mj-column><mj-text>[[content]]</mj-text></mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

Deno.test("validate reports MJML errors with line numbers and tags", async () => {
  const bad = design("x").replace("<mj-text>x</mj-text>", '<mj-text padding="lots">x</mj-text>')
    .replace("</mj-section>", "<mj-spacer/></mj-section>");
  const r = await lightApi("POST", "/design-templates/validate", { mjml: bad });
  assert.equal(r.status, 200);
  assert.equal(r.body.valid, false);
  assert.deepEqual(
    r.body.errors.map((e: { line: number; tag: string }) => [e.line, e.tag]),
    [[4, "mj-text"], [6, "mj-spacer"]],
  );
  const missing = await lightApi("POST", "/design-templates/validate", {
    mjml: design("x").replace("[[content]]", ""),
  });
  assert.equal(missing.body.errors[0].code, "mjml_missing_content_slot");
  assert.match(missing.body.errors[0].message, /\[\[content\]\]/);
  const ok = await lightApi("POST", "/design-templates/validate", { mjml: design("fine") });
  assert.deepEqual(ok.body, { valid: true, errors: [] });
});

Deno.test("Light: one template, made and edited by admins; staff keys only read it", async () => {
  const readOnly = await keyWith(light.tenant.id, ["read"]);
  const writer = await keyWith(light.tenant.id, ["read", "write"]);
  const invalid = await lightApi("POST", "/design-templates", {
    name: "Brand",
    mjml: "<mjml>\n<mj-body>\n<mj-sectio></mj-sectio>[[content]]</mj-body></mjml>",
  });
  assert.equal(invalid.status, 400);
  assert.equal(invalid.body.error.details[0].path, "mjml");
  assert.equal(invalid.body.error.details[0].line, 3);
  assert.equal(
    (await writer("POST", "/design-templates", { name: "B", mjml: design("B") }))
      .status,
    403,
  );

  const created = await lightApi("POST", "/design-templates", { name: "Brand", mjml: design("1") });
  assert.equal(created.status, 201);
  assert.equal(created.body.is_default, true);
  const id = created.body.id;
  const second = await lightApi("POST", "/design-templates", { name: "Two", mjml: design("2") });
  assert.equal(second.status, 403);
  assert.equal(second.body.error.code, "plugin_not_enabled");
  assert.equal((await lightApi("POST", `/design-templates/${id}/archive`)).status, 403);
  assert.equal((await lightApi("POST", `/design-templates/${id}/default`)).status, 403);

  assert.equal((await readOnly("GET", "/design-templates")).body.items.length, 1);
  const edit = await writer("POST", `/design-templates/${id}/versions`, { mjml: design("staff") });
  assert.equal(edit.status, 403);
  const v2 = await lightApi("POST", `/design-templates/${id}/versions`, { mjml: design("v2") });
  assert.equal(v2.status, 201);
  assert.equal(v2.body.version, 2);
  const bad = await lightApi("POST", `/design-templates/${id}/versions`, { mjml: "<mjml>" });
  assert.equal(bad.status, 400);

  const got = await readOnly("GET", `/design-templates/${id}`);
  assert.equal(got.status, 200);
  assert.equal(got.body.current_version_id, v2.body.id);
  assert.match(got.body.mjml, /v2/);
  assert.deepEqual(got.body.versions.map((v: { version: number }) => v.version), [2, 1]);
  const v1 = got.body.versions[1].id;
  const old = await readOnly("GET", `/design-templates/${id}/versions/${v1}`);
  assert.equal(old.status, 200);
  assert.match(old.body.mjml, /<mj-text>1<\/mj-text>/, "version 1 is unchanged");

  // Another tenant sees none of it.
  assert.equal((await stdApi("GET", `/design-templates/${id}`)).status, 404);
  assert.equal((await stdApi("GET", `/design-templates/${id}/versions/${v1}`)).status, 404);
  assert.equal(
    (await stdApi("POST", `/design-templates/${id}/versions`, { mjml: design("x") })).status,
    404,
  );
});

Deno.test("Standard with the plugin: staff keep several, pick the default, archive", async () => {
  const writer = await keyWith(standard.tenant.id, ["read", "write"]);
  const a = await writer("POST", "/design-templates", { name: "Alumni", mjml: design("A") });
  const b = await writer("POST", "/design-templates", { name: "Research", mjml: design("R") });
  assert.equal(a.status, 201);
  assert.equal(b.status, 201);
  assert.equal(b.body.is_default, false);
  const dupe = await writer("POST", "/design-templates", { name: "alumni", mjml: design("x") });
  assert.equal(dupe.status, 409);

  const d = await writer("POST", `/design-templates/${b.body.id}/default`);
  assert.equal(d.status, 200);
  assert.equal(d.body.is_default, true);
  const refused = await writer("POST", `/design-templates/${b.body.id}/archive`);
  assert.equal(refused.status, 409);
  const archived = await writer("POST", `/design-templates/${a.body.id}/archive`);
  assert.equal(archived.status, 200);
  assert.ok(archived.body.archived_at);
  const names = (await writer("GET", "/design-templates")).body.items.map(
    (x: { name: string }) => x.name,
  );
  assert.deepEqual(names, ["Research"]);
  const all = await writer("GET", "/design-templates?include_archived=true");
  assert.equal(all.body.items.length, 2);
  const late = await writer("POST", `/design-templates/${a.body.id}/versions`, {
    mjml: design("late"),
  });
  assert.equal(late.status, 409);
});

Deno.test("the OpenAPI document describes the design template routes", async () => {
  const res = await t.app.request("/api/v1/openapi.json");
  const doc = await res.json();
  for (
    const p of [
      "/design-templates",
      "/design-templates/validate",
      "/design-templates/{id}",
      "/design-templates/{id}/versions",
      "/design-templates/{id}/default",
      "/design-templates/{id}/archive",
    ]
  ) assert.ok(doc.paths[p], p);
});

Deno.test.afterAll(() => t.close());
