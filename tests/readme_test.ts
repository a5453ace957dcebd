// The README is how a newcomer configures Skicka: its table must match what the code reads.
import assert from "node:assert/strict";
import { ENV_VARS } from "../core/config.ts";

const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));

Deno.test("README documents every environment variable with its real default", () => {
  const rows = new Map(
    [...readme.matchAll(/^\| `([A-Z_]+)`\s*\| (.+?)\s*\| (.+?)\s*\|$/gm)].map((m) => [m[1], m[2]]),
  );
  for (const [name, spec] of Object.entries(ENV_VARS)) {
    assert.ok(rows.has(name), `README lacks ${name}`);
    assert.equal(rows.get(name), spec.default ? `\`${spec.default}\`` : "(empty)", name);
  }
  for (const name of rows.keys()) {
    assert.ok(name! in ENV_VARS, `README documents ${name}, which Skicka does not read`);
  }
});

Deno.test("README gives the two set-up commands with the pinned Deno", async () => {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.ok(denoJson.tasks.start && denoJson.tasks.test);
  assert.match(readme, /npx -y deno@2\.9\.6 task start/);
  assert.match(readme, /npx -y deno@2\.9\.6 task test/);
});
