// The design pages as staff use them (plain forms): create, errors by line, check and preview,
// versions; read-only for Light staff; the plugin's list page for Standard tenants.
import assert from "node:assert/strict";
import { Browser, PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { createUser } from "../core/tenants/users.ts";
import { setPassword } from "../core/auth/login.ts";
import { designTemplatesPlugin } from "../plugins/design_templates/mod.ts";

const t = await testApp({ plugins: [designTemplatesPlugin] });
const light = await seedTenant(t, { slug: "dui-light", tier: "light" });
const standard = await seedTenant(t, { slug: "dui-std", tier: "standard" });

async function signIn(email: string) {
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email, password: PASSWORD })).status, 303);
  return b;
}

async function staffOf(tenantId: string, slug: string) {
  const email = `staff@${slug}.example`;
  const { user } = await createUser(t.deps, tenantId, { email, role: "user" }, "test");
  await setPassword(t.deps, { kind: "user", tenantId, userId: user.id }, PASSWORD);
  return await signIn(email);
}

const design = (marker: string) =>
  `<mjml>
  <mj-body>
    <mj-section><mj-column><mj-text>${marker}</mj-text></mj-column></mj-section>
    <mj-section><mj-column><mj-text>[[content]]</mj-text></mj-column></mj-section>
  </mj-body>
</mjml>`;

const decode = (s: string) =>
  s.replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&quot;", '"')
    .replaceAll("&#39;", "'").replaceAll("&amp;", "&");

Deno.test("Light admin: create with errors shown by line, then versions with preview", async () => {
  const b = await signIn(light.email);
  const none = await b.get("/design");
  assert.equal(none.status, 200);
  const noneHtml = await none.text();
  assert.match(noneHtml, /built-in neutral design/);
  assert.match(noneHtml, /data-testid="preview-desktop"[^>]*srcdoc="[^"]*Sample header text/);

  const broken = design("BAD").replace("<mj-section>", "<mj-sectio>").replace(
    "</mj-section>",
    "</mj-sectio>",
  );
  const bad = await b.post("/design", { name: "Brand", mjml: broken });
  assert.equal(bad.status, 400);
  const badHtml = decode(await bad.text());
  assert.match(badHtml, /<li data-line="3">Line 3 \(mj-sectio\): /);
  assert.match(badHtml, /value="Brand"/, "what was typed is kept");

  const created = await b.post("/design", { name: "Brand", mjml: design("FIRST") });
  assert.equal(created.status, 303);
  const url = created.headers.get("location")!;
  assert.equal((await b.get("/design")).headers.get("location"), url);
  let html = await (await b.get(url)).text();
  assert.match(html, /Design template created/);
  assert.match(html, /srcdoc="[^"]*FIRST[^"]*Hello \{\{firstname\}\}/);

  // Check and preview neither saves nor hides the problem.
  const check = await b.post(url, {
    action: "check",
    mjml: design("X").replace("[[content]]", ""),
  });
  assert.equal(check.status, 400);
  assert.match(await check.text(), /content slot \[\[content\]\]/);
  const fine = await b.post(url, { action: "check", mjml: design("CHECKED") });
  assert.equal(fine.status, 200);
  const fineHtml = await fine.text();
  assert.match(fineHtml, /The design is valid/);
  assert.match(fineHtml, /srcdoc="[^"]*CHECKED/);

  const saved = await b.post(url, { action: "save", mjml: design("SECOND") });
  assert.equal(saved.status, 303);
  html = await (await b.get(url)).text();
  assert.match(html, /Saved as version 2/);
  assert.match(html, /Version 2<\/a>.*current/s);
  const v1 = /href="\/design\/[0-9a-f-]+\?version=([0-9a-f-]+)">Version 1</.exec(html)?.[1];
  assert.ok(v1);
  const old = decode(await (await b.get(`${url}?version=${v1}`)).text());
  assert.match(old, /You are looking at version 1/);
  assert.match(old, /<mj-text>FIRST<\/mj-text>/);

  // The live preview's endpoint: JSON with lines, CSRF-protected.
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
  const live = await t.app.request("/design/preview", {
    method: "POST",
    body: new URLSearchParams({ mjml: design("LIVE").replace("<mj-text>", '<mj-text x="1">') }),
    headers: {
      cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
      "x-csrf-token": csrf,
      "content-type": "application/x-www-form-urlencoded",
    },
  });
  assert.equal(live.status, 200);
  const out = await live.json();
  assert.equal(out.valid, false);
  assert.match(out.lines[0], /^Line 3 \(mj-text\): Attribute x is illegal/);
});

Deno.test("Light staff read the design but cannot change it or reach the plugin", async () => {
  const s = await staffOf(light.tenant.id, "dui-light");
  const res = await s.get("/design");
  assert.equal(res.status, 303);
  const url = res.headers.get("location")!;
  const html = await (await s.get(url)).text();
  assert.match(html, /<textarea[^>]*readonly/);
  assert.match(html, /Only administrators change the design/);
  assert.ok(!html.includes('value="save"'));
  assert.equal((await s.post(url, { action: "save", mjml: design("STAFF") })).status, 403);
  assert.equal((await s.post("/design", { name: "Mine", mjml: design("MINE") })).status, 403);
  assert.equal((await s.get("/p/design_templates")).status, 403);
});

Deno.test("Standard staff keep several designs on the plugin's page", async () => {
  const s = await staffOf(standard.tenant.id, "dui-std");
  const list = await s.get("/p/design_templates");
  assert.equal(list.status, 200);
  assert.match(await list.text(), /href="\/p\/design_templates"[^>]*>Design templates/);
  const a = await s.post("/p/design_templates/new", { name: "Alumni", mjml: design("ALUMNI") });
  assert.equal(a.status, 303);
  const bad = await s.post("/p/design_templates/new", { name: "Broken", mjml: "<mjml>" });
  assert.equal(bad.status, 400);
  const b = await s.post("/p/design_templates/new", { name: "Research", mjml: design("RES") });
  assert.equal(b.status, 303);
  const idB = b.headers.get("location")!.split("/").pop()!;
  const idA = a.headers.get("location")!.split("/").pop()!;
  await s.get("/p/design_templates");
  assert.equal((await s.post(`/p/design_templates/${idB}/default`, {})).status, 303);
  assert.equal((await s.post(`/p/design_templates/${idA}/archive`, {})).status, 303);
  const html = await (await s.get("/p/design_templates")).text();
  assert.match(html, /Research<\/a> <span class="badge">Default/);
  assert.match(html, /Alumni<\/a> <span class="badge revoked">Archived/);
  // Staff of a Standard tenant edit designs too.
  await s.get(`/design/${idB}`);
  assert.equal(
    (await s.post(`/design/${idB}`, { action: "save", mjml: design("R2") })).status,
    303,
  );
});

Deno.test.afterAll(() => t.close());
