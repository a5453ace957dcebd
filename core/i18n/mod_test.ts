import assert from "node:assert/strict";
import { t } from "./mod.ts";

Deno.test("a numeric n picks the plural form, formatted for the locale", () => {
  assert.equal(t("en", "segments.people", { n: 1 }), "1 person");
  assert.equal(t("en", "segments.people", { n: 2 }), "2 people");
  assert.equal(t("en", "segments.people", { n: 1234567 }), "1,234,567 people");
  assert.equal(t("sv", "segments.people", { n: 1 }), "1 person");
  assert.equal(
    t("sv", "segments.people", { n: 1234567 }).replace(/\s/g, " "),
    "1 234 567 personer",
  );
});

Deno.test("messages without plural forms and unknown keys", () => {
  assert.equal(t("en", "people.title", { n: 1 }), "People");
  assert.equal(t("en", "no.such.key"), "no.such.key");
  assert.equal(t("en", "import.line", { line: 12 }), "Line 12");
});
