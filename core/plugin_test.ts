import assert from "node:assert/strict";
import { PluginError, PluginRegistry } from "./plugin.ts";

Deno.test("the registry refuses two plugins answering at the same API path", () => {
  assert.throws(
    () =>
      new PluginRegistry([
        { name: "content_templates", tier: "standard", apiPath: "templates" },
        { name: "templates", tier: "standard" },
      ]),
    (e) => e instanceof PluginError && /both answer at \/api\/v1\/templates/.test(e.message),
  );
  assert.throws(
    () => new PluginRegistry([{ name: "a_b", tier: "light" }, { name: "a_b", tier: "light" }]),
    /Two plugins are named "a_b"/,
  );
  new PluginRegistry([{ name: "one", tier: "light", apiPath: "one-x" }, {
    name: "two",
    tier: "addon",
  }]);
});
