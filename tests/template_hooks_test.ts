// The transformTemplate hook as the core runs it: only the tenant's enabled plugins, in registry
// order, each under the time limit; one that fails or hangs loses its own change, never the send.
import assert from "node:assert/strict";
import { seedTenant, testApp } from "./helpers/app.ts";
import type { Plugin } from "../core/plugin.ts";
import { transformTemplate } from "../core/mailings/template_hooks.ts";

const seen: string[] = [];
const plugin = (
  name: string,
  tier: Plugin["tier"],
  hook: (html: string) => Promise<string>,
): Plugin => ({
  name,
  tier,
  hooks: {
    transformTemplate: (html, ctx) => {
      seen.push(`${name}:${ctx.templateId}`);
      return hook(html);
    },
  },
});

const t = await testApp({
  plugins: [
    plugin("first", "light", (h) => Promise.resolve(h + "<!--first-->")),
    plugin("broken", "light", () => Promise.reject(new Error("boom"))),
    plugin("hangs", "light", () => new Promise(() => {})),
    plugin("advanced_only", "advanced", (h) => Promise.resolve(h + "<!--advanced-->")),
    plugin("last", "light", (h) => Promise.resolve(h + "<!--last-->")),
  ],
});

Deno.test("transformTemplate: enabled plugins in order; failing or hanging hooks are skipped", async () => {
  const { tenant } = await seedTenant(t, { slug: "hooks-light", tier: "light" });
  const html = await transformTemplate(
    t.deps,
    { tenantId: tenant.id, templateId: "m1" },
    "<p>x</p>",
    { timeoutMs: 50 },
  );
  assert.equal(html, "<p>x</p><!--first--><!--last-->");
  assert.deepEqual(seen, ["first:m1", "broken:m1", "hangs:m1", "last:m1"]);

  const adv = await seedTenant(t, { slug: "hooks-advanced", tier: "advanced" });
  const out = await transformTemplate(
    t.deps,
    { tenantId: adv.tenant.id, templateId: "m2" },
    "",
    { timeoutMs: 50 },
  );
  assert.equal(out, "<!--first--><!--advanced--><!--last-->");
});
