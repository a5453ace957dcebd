// The operator sets up a Light tenant's one design template (UI and operator API): MJML checked
// with line numbers, versions, audited as the operator; the tenant's mailings then use it, its
// staff see it read-only, and another tenant's admin can neither read nor change it. The CLI too.
import assert from "node:assert/strict";
import { apiClient, Browser, PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { ensureOperator } from "../core/bootstrap.ts";
import { setPassword } from "../core/auth/login.ts";
import { createOperatorKey } from "../core/auth/api_keys.ts";
import { createUser } from "../core/tenants/users.ts";
import { createMailing } from "../core/mailings/mailings.ts";
import { previewMailing } from "../core/mailings/send.ts";
import { main } from "../cli/operator.ts";
import { processEnv } from "./helpers/db.ts";

const t = await testApp();
const light = await seedTenant(t, { slug: "opd-light", tier: "light" });
const viaApi = await seedTenant(t, { slug: "opd-api", tier: "light" });
const other = await seedTenant(t, { slug: "opd-other", tier: "light" });
await ensureOperator(t.deps);
const operator = await t.deps.db.selectFrom("operators").select(["id", "email"])
  .executeTakeFirstOrThrow();
await setPassword(t.deps, { kind: "operator", operatorId: operator.id }, PASSWORD);
const opKey = await createOperatorKey(t.deps, { operatorId: operator.id, name: "test" });
const opApi = apiClient(t, opKey.key);

async function signIn(email: string) {
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email, password: PASSWORD })).status, 303);
  return b;
}

const design = (marker: string) =>
  `<mjml>
  <mj-body>
    <mj-section><mj-column><mj-text>${marker}</mj-text></mj-column></mj-section>
    <mj-section><mj-column><mj-text>[[content]]</mj-text></mj-column></mj-section>
  </mj-body>
</mjml>`;

const broken = design("BAD").replace("<mj-section>", "<mj-sectio>").replace(
  "</mj-section>",
  "</mj-sectio>",
);

const decode = (s: string) =>
  s.replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&quot;", '"')
    .replaceAll("&#39;", "'").replaceAll("&amp;", "&");

const auditOf = (tenantId: string) =>
  t.deps.db.selectFrom("audit_log").select(["actor", "action", "target"])
    .where("tenant_id", "=", tenantId).where("action", "like", "design_template.%")
    .orderBy("at").orderBy("id").execute();

async function mailingHtml(tenantId: string) {
  const m = await createMailing(t.deps, tenantId, {
    subject: "Hi",
    body_html: "<p>Body of the mailing</p>",
  }, "test");
  return (await previewMailing(t.deps, tenantId, m.id, { address: "x@example.org" })).html;
}

Deno.test("operator UI: sets up a Light tenant's design (errors by line), versions it; mailings use it", async () => {
  const op = await signIn(operator.email);
  const tenantPage = await (await op.get(`/operator/tenants/${light.tenant.id}`)).text();
  assert.match(tenantPage, /data-testid="tenant-design"[\s\S]*No design template yet/);
  const url = `/operator/tenants/${light.tenant.id}/design`;
  assert.match(tenantPage, new RegExp(`href="${url}"[^>]*>Set up the design template`));

  const empty = await op.get(url);
  assert.equal(empty.status, 200);
  assert.match(await empty.text(), /Create design template/);
  assert.doesNotMatch(await mailingHtml(light.tenant.id), /OPERATOR-ONE/);

  const bad = await op.post(url, { name: "Brand", mjml: broken });
  assert.equal(bad.status, 400);
  const badHtml = decode(await bad.text());
  assert.match(badHtml, /<li data-line="3">Line 3 \(mj-sectio\): /);
  assert.match(badHtml, /value="Brand"/, "what was typed is kept");
  assert.deepEqual(await auditOf(light.tenant.id), [], "nothing saved");

  const checked = await op.post(url, { name: "Brand", mjml: design("CHECKED"), action: "check" });
  assert.equal(checked.status, 200);
  assert.match(await checked.text(), /The design is valid\./);

  const created = await op.post(url, { name: "Brand", mjml: design("OPERATOR-ONE") });
  assert.equal(created.status, 303);
  assert.equal(created.headers.get("location"), url);
  const page = await (await op.get(url)).text();
  assert.match(page, /Design template created\./);
  assert.match(page, /data-testid="versions"[\s\S]*Version 1[\s\S]*current/);
  assert.match(page, /data-testid="preview-desktop"[^>]*srcdoc="[^"]*OPERATOR-ONE/);
  assert.match(await mailingHtml(light.tenant.id), /OPERATOR-ONE[\s\S]*Body of the mailing/);

  const again = await op.post(url, { mjml: broken, action: "save" });
  assert.equal(again.status, 400);
  assert.match(decode(await again.text()), /data-line="3"/);
  const saved = await op.post(url, { mjml: design("OPERATOR-TWO"), action: "save" });
  assert.equal(saved.status, 303);
  assert.match(await (await op.get(url)).text(), /Saved as version 2\./);
  assert.match(await mailingHtml(light.tenant.id), /OPERATOR-TWO/);
  assert.doesNotMatch(await mailingHtml(other.tenant.id), /OPERATOR-/, "only that tenant");

  const tpl = await t.deps.db.selectFrom("design_templates").select(["id", "name", "is_default"])
    .where("tenant_id", "=", light.tenant.id).execute();
  assert.deepEqual(tpl.map((x) => [x.name, x.is_default]), [["Brand", true]]);
  assert.deepEqual(await auditOf(light.tenant.id), [
    { actor: `operator:${operator.email}`, action: "design_template.create", target: tpl[0]!.id },
    { actor: `operator:${operator.email}`, action: "design_template.version", target: tpl[0]!.id },
  ]);
  const card = await (await op.get(`/operator/tenants/${light.tenant.id}`)).text();
  assert.match(card, /data-testid="tenant-design"[\s\S]*Brand[\s\S]*Open the design template/);

  // The live preview (the editor's script posts here): lines, nothing saved.
  const live = await op.post("/operator/design/preview", { mjml: broken });
  assert.equal(live.status, 200);
  const out = await live.json();
  assert.equal(out.valid, false);
  assert.match(out.lines[0], /^Line 3 \(mj-sectio\): /);
});

Deno.test("the tenant's staff see the operator's design read-only; its admin may still edit", async () => {
  const email = "staff@opd-light.example";
  const { user } = await createUser(t.deps, light.tenant.id, { email, role: "user" }, "test");
  await setPassword(t.deps, { kind: "user", tenantId: light.tenant.id, userId: user.id }, PASSWORD);
  const staff = await signIn(email);
  const go = await staff.get("/design");
  assert.equal(go.status, 303);
  const at = go.headers.get("location")!;
  const page = decode(await (await staff.get(at)).text());
  assert.match(page, /<textarea[^>]*readonly[^>]*data-testid="mjml-source"[^>]*>[\s\S]*OPERATOR-/);
  assert.match(page, /Only administrators change the design\./);
  assert.equal((await staff.post(at, { mjml: design("STAFF"), action: "save" })).status, 403);
  assert.equal((await staff.get(`/operator/tenants/${light.tenant.id}/design`)).status, 403);

  const admin = await signIn(light.email);
  await admin.get(at);
  assert.equal((await admin.post(at, { mjml: design("ADMIN"), action: "save" })).status, 303);
  assert.match(await mailingHtml(light.tenant.id), /ADMIN/);
});

Deno.test("another tenant's admin can neither open nor change the design, in the UI or the API", async () => {
  const tpl = await t.deps.db.selectFrom("design_templates").select("id")
    .where("tenant_id", "=", light.tenant.id).executeTakeFirstOrThrow();
  const stranger = await signIn(other.email);
  await stranger.get("/design");
  const url = `/operator/tenants/${light.tenant.id}/design`;
  assert.equal((await stranger.get(url)).status, 403);
  assert.equal((await stranger.post(url, { mjml: design("EVIL"), action: "save" })).status, 403);
  assert.equal(
    (await stranger.post("/operator/design/preview", { mjml: design("X") })).status,
    403,
  );
  assert.equal((await stranger.get(`/design/${tpl.id}`)).status, 404);
  assert.equal(
    (await stranger.post(`/design/${tpl.id}`, { mjml: design("EVIL"), action: "save" })).status,
    404,
  );
  const strangerApi = apiClient(t, other.key); // an admin-scoped key of the other tenant
  assert.equal((await strangerApi("GET", `/tenants/${light.tenant.id}/design`)).status, 403);
  assert.equal(
    (await strangerApi("PUT", `/tenants/${light.tenant.id}/design`, { mjml: design("EVIL") }))
      .status,
    403,
  );
  assert.equal(
    (await strangerApi("POST", `/design-templates/${tpl.id}/versions`, { mjml: design("EVIL") }))
      .status,
    404,
  );
  assert.doesNotMatch(await mailingHtml(light.tenant.id), /EVIL/);
  const actors = (await auditOf(light.tenant.id)).map((a) => a.actor);
  assert.ok(!actors.includes(`user:${other.user.id}`));
});

Deno.test("operator API: PUT creates then versions the design; MJML errors carry lines", async () => {
  const path = `/tenants/${viaApi.tenant.id}/design`;
  assert.equal((await opApi("GET", path)).status, 404, "no design yet");

  const invalid = await opApi("PUT", path, { name: "Brand", mjml: broken });
  assert.equal(invalid.status, 400);
  assert.equal(invalid.body.error.details[0].path, "mjml");
  assert.equal(invalid.body.error.details[0].line, 3);
  assert.equal(invalid.body.error.details[0].tag, "mj-sectio");

  const nameless = await opApi("PUT", path, { mjml: design("API-ONE") });
  assert.equal(nameless.status, 400);
  assert.equal(nameless.body.error.details[0].path, "name");

  const created = await opApi("PUT", path, { name: "House style", mjml: design("API-ONE") });
  assert.equal(created.status, 201);
  assert.equal(created.body.created, true);
  assert.equal(created.body.name, "House style");
  assert.equal(created.body.is_default, true);
  assert.equal(created.body.versions.length, 1);
  assert.match(await mailingHtml(viaApi.tenant.id), /API-ONE/);

  const next = await opApi("PUT", path, { mjml: design("API-TWO") });
  assert.equal(next.status, 200);
  assert.equal(next.body.created, false);
  assert.equal(next.body.id, created.body.id);
  assert.deepEqual(next.body.versions.map((v: { version: number }) => v.version), [2, 1]);
  const got = await opApi("GET", path);
  assert.equal(got.status, 200);
  assert.match(got.body.mjml, /API-TWO/);
  assert.match(await mailingHtml(viaApi.tenant.id), /API-TWO/);

  const audit = await auditOf(viaApi.tenant.id);
  assert.deepEqual(audit.map((a) => [a.actor, a.action]), [
    [`operator_key:${opKey.id}`, "design_template.create"],
    [`operator_key:${opKey.id}`, "design_template.version"],
  ]);
  const doc = await (await t.app.request("/api/v1/openapi.json")).json();
  assert.deepEqual(Object.keys(doc.paths["/tenants/{id}/design"]).sort(), ["get", "put"]);
  assert.equal(
    (await opApi("PUT", `/tenants/${crypto.randomUUID()}/design`, {
      mjml: design("X"),
    })).status,
    404,
  );
});

Deno.test("operator CLI: tenant set-design creates, versions, and names MJML errors by line", async () => {
  const { env, cleanup } = await processEnv();
  const dir = await Deno.makeTempDir();
  const cli = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, env, (s) => out.push(s), (s) => err.push(s));
    return { code, out: out.join("\n"), err: err.join("\n") };
  };
  try {
    const made = await cli("tenant", "create", "--name", "Cli Org", "--tier", "light", "--json");
    assert.equal(made.code, 0, made.err);
    await Deno.writeTextFile(`${dir}/bad.mjml`, broken);
    await Deno.writeTextFile(`${dir}/good.mjml`, design("CLI-DESIGN"));

    const bad = await cli(
      "tenant",
      "set-design",
      "cli-org",
      "--file",
      `${dir}/bad.mjml`,
      "--name",
      "B",
    );
    assert.equal(bad.code, 1);
    assert.match(bad.err, /not valid\.\n {2}mjml line 3: Element mj-sectio doesn.t exist/);
    const created = await cli(
      "tenant",
      "set-design",
      "cli-org",
      "--file",
      `${dir}/good.mjml`,
      "--name",
      "Cli brand",
      "--json",
    );
    assert.equal(created.code, 0, created.err);
    assert.equal(JSON.parse(created.out).created, true);
    const next = await cli("tenant", "set-design", "cli-org", "--file", `${dir}/good.mjml`);
    assert.equal(next.code, 0, next.err);
    assert.equal(next.out, 'Tenant cli-org: design "Cli brand" saved as version 2');
    const missing = await cli("tenant", "set-design", "cli-org", "--file", `${dir}/none.mjml`);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /--file: cannot read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await cleanup();
  }
});
