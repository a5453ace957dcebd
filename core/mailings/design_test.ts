// Design templates: slot filling and escaping, the compile cache, MJML validation with line
// numbers, immutable versions and the one-template limit without the plugin.
import assert from "node:assert/strict";
import Handlebars from "handlebars";
import { relative } from "node:path";
import { AppError } from "../errors.ts";
import { seedTenant, testApp } from "../../tests/helpers/app.ts";
import { fillDesign, renderDesign } from "./design.ts";
import { designHash, mjmlCompileRuns, validateMjml } from "./design_mjml.ts";
import { uuidv7 } from "../db/ids.ts";
import {
  addDesignVersion,
  archiveDesignTemplate,
  createDesignTemplate,
  getDesignTemplate,
  getDesignVersion,
  listDesignTemplates,
  setDefaultDesign,
} from "./design_store.ts";

const t = await testApp();
const A = (await seedTenant(t, { slug: "design-a" })).tenant.id;
const B = (await seedTenant(t, { slug: "design-b" })).tenant.id;

/** A unique design each call, so cache counts are not disturbed by other tests. */
function design(marker: string, extra = "") {
  return `<mjml>
  <mj-head><mj-preview>[[preheader]]</mj-preview></mj-head>
  <mj-body>
    <mj-section><mj-column><mj-text>${marker} [[header]]</mj-text></mj-column></mj-section>
    <mj-section><mj-column><mj-text>[[content]]</mj-text></mj-column></mj-section>
    <mj-section><mj-column><mj-text>${extra}[[footer]]</mj-text></mj-column></mj-section>
  </mj-body>
</mjml>`;
}

async function codeOf(f: () => Promise<unknown>): Promise<string> {
  try {
    await f();
  } catch (e) {
    if (e instanceof AppError) return e.code;
    throw e;
  }
  return "no error";
}

Deno.test("renderDesign fills slots: body as given, text slots escaped", async () => {
  const tpl = await createDesignTemplate(
    t.deps,
    A,
    {
      name: "Brand",
      mjml: design("BRAND-A"),
    },
    "test",
    { multiple: false },
  );
  const out = await renderDesign(t.deps, A, null, {
    content: '<p class="b">Hello <b>{{firstname default="friend"}}</b></p>',
    preheader: 'Sale <now> & "then"',
    header: "<script>alert(1)</script>",
    footer: "Unsubscribe [[content]]",
  });
  assert.equal(out.versionId, tpl.current_version_id);
  assert.ok(out.html.includes("BRAND-A"));
  assert.ok(out.html.includes('<p class="b">Hello <b>{{firstname default="friend"}}</b></p>'));
  assert.ok(out.html.includes("Sale &lt;now&gt; &amp; &quot;then&quot;"));
  assert.ok(out.html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
  assert.ok(!out.html.includes("<script>alert(1)"));
  // A slot value is never filled again: the footer's "[[content]]" stays literal.
  assert.ok(out.html.includes("Unsubscribe [[content]]"));
  assert.ok(!/\[\[(header|preheader)\]\]/.test(out.html));
  // Responsive output: MJML's media queries are there.
  assert.ok(out.html.includes("@media"));
});

Deno.test("the design's own {{ prints literally; the body's merge fields still merge", async () => {
  const r = await createDesignTemplate(
    t.deps,
    B,
    {
      name: "Braces",
      mjml: design("BRACES", "Literal {{firstname}} and \\{{lastname}} here. "),
    },
    "test",
    { multiple: false },
  );
  const out = await renderDesign(t.deps, B, r.current_version_id, {
    content: "<p>Hi {{firstname}}</p>",
  });
  const merged = Handlebars.create().compile(out.html)({ firstname: "Ada", lastname: "L" });
  assert.ok(merged.includes("<p>Hi Ada</p>"));
  assert.ok(merged.includes("Literal {{firstname}} and"));
  assert.ok(merged.includes("&#92;{{lastname}} here."));
  assert.ok(!merged.includes("Literal Ada"));
});

Deno.test("text slots keep their merge fields: escaped around them, merged escaped", async () => {
  const out = await renderDesign(t.deps, A, null, {
    content: "",
    header: 'Hi {{firstname default="friend"}} & <b>',
    footer: "{{{lastname}}} said",
  });
  assert.ok(out.html.includes('Hi {{firstname default="friend"}} &amp; &lt;b&gt;'));
  assert.ok(out.html.includes("{{lastname}} said"));
  assert.ok(!out.html.includes("{{{lastname}}}"));
  const merged = Handlebars.create().compile(out.html.replace('default="friend"', ""))({
    firstname: "<i>Ada</i>",
    lastname: "<script>x</script>",
  });
  assert.ok(merged.includes("Hi &lt;i&gt;Ada&lt;/i&gt;"));
  assert.ok(merged.includes("&lt;script&gt;x&lt;/script&gt; said"));
});

Deno.test("MJML runs once per version, however many mailings render it", async () => {
  const before = mjmlCompileRuns();
  const tpl = await createDesignTemplate(
    t.deps,
    A,
    {
      name: "Cached",
      mjml: design(`CACHE-${crypto.randomUUID()}`),
    },
    "test",
    { multiple: true },
  );
  for (let i = 0; i < 5; i++) {
    const out = await renderDesign(t.deps, A, tpl.current_version_id, { content: `<p>m${i}</p>` });
    assert.ok(out.html.includes(`<p>m${i}</p>`));
  }
  // Saving compiled it once (validation); five renders reuse that compile.
  assert.equal(mjmlCompileRuns() - before, 1);
  const v2 = await addDesignVersion(t.deps, A, tpl.id, {
    mjml: design(`CACHE2-${crypto.randomUUID()}`),
  }, "test");
  assert.equal(mjmlCompileRuns() - before, 2);
  const a = await renderDesign(t.deps, A, v2.id, { content: "x" });
  assert.ok(a.html.includes("CACHE2-") && !a.html.includes("CACHE-"));
  assert.equal(mjmlCompileRuns() - before, 2);
});

Deno.test("a version compiled in another process is compiled once here, then cached", async () => {
  // Written straight to the table, as another process would have saved it.
  const tpl = await createDesignTemplate(
    t.deps,
    B,
    {
      name: "Elsewhere",
      mjml: design("ELSEWHERE-0"),
    },
    "test",
    { multiple: true },
  );
  const source = design(`ELSEWHERE-${crypto.randomUUID()}`);
  const id = uuidv7();
  await t.deps.db.insertInto("design_template_versions").values({
    tenant_id: B,
    id,
    template_id: tpl.id,
    version: 2,
    mjml: source,
    content_hash: await designHash(source),
    created_at: new Date(),
  }).execute();
  const before = mjmlCompileRuns();
  const outs = await Promise.all(
    [1, 2, 3].map((i) => renderDesign(t.deps, B, id, { content: `<i>${i}</i>` })),
  );
  assert.ok(
    outs.every((o, i) => o.html.includes(`<i>${i + 1}</i>`) && o.html.includes("ELSEWHERE-")),
  );
  await renderDesign(t.deps, B, id, { content: "again" });
  assert.equal(mjmlCompileRuns() - before, 1);
});

Deno.test("without a design the built-in neutral design is used", async () => {
  const { tenant } = await seedTenant(t, { slug: "design-none" });
  const out = await renderDesign(t.deps, tenant.id, null, { content: "<p>plain</p>" });
  assert.equal(out.versionId, null);
  assert.ok(out.html.includes("<p>plain</p>"));
  assert.ok(out.html.startsWith("<!doctype html>"));
  // Another tenant's version is not found.
  const theirs = (await listDesignTemplates(t.deps, A))[0]!;
  assert.equal(
    await codeOf(() => renderDesign(t.deps, tenant.id, theirs.current_version_id, { content: "" })),
    "not_found",
  );
});

Deno.test("strict validation reports MJML errors with line numbers and tags", async () => {
  const bad = `<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text colour="red">[[content]]</mj-text>
        <mj-buton>Go</mj-buton>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;
  const r = await validateMjml(bad);
  assert.equal(r.ok, false);
  const lines = r.issues.map((i) => [i.line, i.tag]);
  assert.deepEqual(lines, [[5, "mj-text"], [6, "mj-buton"]]);
  assert.match(r.issues[0]!.message, /colour/);

  const noSlot = await validateMjml(design("X").replace("[[content]]", "nothing"));
  assert.deepEqual(noSlot.issues.map((i) => i.code), ["missing_content_slot"]);
  assert.equal((await validateMjml("<mjml><mj-body>")).ok, false);
  assert.equal((await validateMjml(design("OK"))).ok, true);
});

Deno.test("an invalid design cannot be saved; the error names line and tag", async () => {
  const before = await listDesignTemplates(t.deps, A);
  try {
    await createDesignTemplate(
      t.deps,
      A,
      {
        name: "Broken",
        mjml: "<mjml>\n<mj-body>\n<mj-section><mj-column><mj-txt>[[content]]</mj-txt>" +
          "</mj-column></mj-section></mj-body></mjml>",
      },
      "test",
      { multiple: true },
    );
    assert.fail("saved an invalid design");
  } catch (e) {
    assert.ok(e instanceof AppError);
    assert.equal(e.code, "validation");
    const d = (e.details as unknown as { path: string; line: number; tag: string }[])[0]!;
    assert.deepEqual([d.path, d.line, d.tag], ["mjml", 3, "mj-txt"]);
  }
  assert.equal((await listDesignTemplates(t.deps, A)).length, before.length);
});

Deno.test("versions are immutable: editing adds one, older versions render as they were", async () => {
  const tpl = await createDesignTemplate(
    t.deps,
    A,
    {
      name: "Versioned",
      mjml: design("VERSION-ONE"),
    },
    "test",
    { multiple: true },
  );
  const v1 = tpl.current_version_id!;
  const v2 = await addDesignVersion(t.deps, A, tpl.id, { mjml: design("VERSION-TWO") }, "test");
  assert.equal(v2.version, 2);
  assert.equal((await getDesignVersion(t.deps, A, v1)).version, 1);
  assert.ok((await getDesignVersion(t.deps, A, v1)).mjml.includes("VERSION-ONE"));
  const full = await getDesignTemplate(t.deps, A, tpl.id);
  assert.equal(full.current_version_id, v2.id);
  assert.deepEqual(full.versions.map((v) => v.version), [2, 1]);
  assert.ok(full.mjml.includes("VERSION-TWO"));
  const old = await renderDesign(t.deps, A, v1, { content: "c" });
  assert.ok(old.html.includes("VERSION-ONE") && !old.html.includes("VERSION-TWO"));
  // An invalid edit adds no version.
  assert.equal(
    await codeOf(() => addDesignVersion(t.deps, A, tpl.id, { mjml: "<mjml>" }, "test")),
    "validation",
  );
  assert.equal((await getDesignTemplate(t.deps, A, tpl.id)).versions.length, 2);
  // Another tenant cannot add versions to it.
  assert.equal(
    await codeOf(() => addDesignVersion(t.deps, B, tpl.id, { mjml: design("X") }, "test")),
    "not_found",
  );
});

Deno.test("one design template without the plugin; several with it; one default", async () => {
  const { tenant } = await seedTenant(t, { slug: "design-tier" });
  const first = await createDesignTemplate(
    t.deps,
    tenant.id,
    {
      name: "Only",
      mjml: design("ONLY"),
    },
    "test",
    { multiple: false },
  );
  assert.equal(first.is_default, true);
  assert.equal(
    await codeOf(() =>
      createDesignTemplate(t.deps, tenant.id, { name: "Second", mjml: design("2") }, "test", {
        multiple: false,
      })
    ),
    "plugin_not_enabled",
  );
  const second = await createDesignTemplate(
    t.deps,
    tenant.id,
    {
      name: "Second",
      mjml: design("SECOND"),
    },
    "test",
    { multiple: true },
  );
  assert.equal(second.is_default, false);
  assert.equal(
    await codeOf(() =>
      createDesignTemplate(t.deps, tenant.id, { name: "second", mjml: design("3") }, "test", {
        multiple: true,
      })
    ),
    "conflict",
  );
  await setDefaultDesign(t.deps, tenant.id, second.id, "test");
  const out = await renderDesign(t.deps, tenant.id, null, { content: "" });
  assert.equal(out.versionId, second.current_version_id);
  assert.ok(out.html.includes("SECOND"));
  assert.equal(
    await codeOf(() => archiveDesignTemplate(t.deps, tenant.id, second.id, "t")),
    "conflict",
  );
  await archiveDesignTemplate(t.deps, tenant.id, first.id, "test");
  assert.deepEqual((await listDesignTemplates(t.deps, tenant.id)).map((x) => x.name), ["Second"]);
  // A sent mailing's version still renders after its template was archived.
  assert.ok(
    (await renderDesign(t.deps, tenant.id, first.current_version_id, { content: "" })).html
      .includes("ONLY"),
  );
});

Deno.test.afterAll(() => t.close());

Deno.test("a design without [[preheader]] still carries the preheader, hidden", async () => {
  const src = design("NOPRE").replace(
    "<mj-head><mj-preview>[[preheader]]</mj-preview></mj-head>",
    "",
  );
  const r = await validateMjml(src);
  assert.ok(r.ok);
  const html = fillDesign(r.compiled, { content: "<p>c</p>", preheader: "Peek & see" });
  assert.match(html, /<body[^>]*><div style="display:none[^"]*"[^>]*>Peek &amp; see<\/div>/);
});

Deno.test("mj-include never reads the server's files", async () => {
  // Inside the working directory: MJML resolves relative paths there and refuses ones outside.
  const dir = await Deno.makeTempDir({ dir: Deno.cwd(), prefix: ".design_include_test_" });
  const secret = `${dir}/secret.mjml`;
  await Deno.writeTextFile(
    secret,
    "<mj-section><mj-column><mj-text>TOPSECRET</mj-text></mj-column></mj-section>",
  );
  const path = relative(Deno.cwd(), secret);
  const src = design("INC").replace("<mj-body>", `<mj-body><mj-include path="${path}" />`);
  try {
    const r = await validateMjml(src);
    assert.ok(r.ok);
    assert.ok(!fillDesign(r.compiled, { content: "" }).includes("TOPSECRET"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
