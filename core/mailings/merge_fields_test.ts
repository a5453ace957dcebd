// Merge fields: discovery from the AST, fallbacks rewritten for any environment or installed.
import assert from "node:assert/strict";
import Handlebars from "handlebars";
import { expandFallbacks, findMergeFields, installMergeHelpers } from "./merge_fields.ts";

Deno.test("findMergeFields() lists fields from mustaches, helpers and blocks, with fallbacks", () => {
  const fields = findMergeFields([
    { path: "subject", source: 'Hi {{firstname default="friend"}}' },
    {
      path: "body_html",
      source: "<p>{{firstname}} {{#if organisation}}at {{organisation}}{{/if}}</p>" +
        '<a href="{{unsubscribe_url}}">x</a> {{member_no default="-"}} {{!-- {{hidden}} --}}',
    },
  ]);
  const by = Object.fromEntries(fields.map((f) => [f.name, f]));
  assert.deepEqual(Object.keys(by).sort(), [
    "firstname",
    "member_no",
    "organisation",
    "unsubscribe_url",
  ]);
  assert.equal(by.firstname!.has_default, false, "one use without a fallback");
  assert.equal(by.member_no!.has_default, true);
  assert.equal(by.member_no!.kind, "custom");
  assert.equal(by.unsubscribe_url!.kind, "system");
  assert.equal(by.organisation!.kind, "person");
});

Deno.test("findMergeFields() names the field of a template that does not parse", () => {
  assert.throws(
    () => findMergeFields([{ path: "subject", source: "Hi {{firstname" }]),
    (e: { details: { path: string; code: string }[] }) =>
      e.details[0]!.path === "subject" && e.details[0]!.code === "merge_syntax",
  );
  assert.throws(() => findMergeFields([{ path: "body_html", source: "{{> evil}}" }]));
});

Deno.test("expandFallbacks() output renders the fallback only when the value is empty", () => {
  const hb = Handlebars.create();
  const src = "<p>Hej {{firstname default=\"vän <3\"}}!</p>\n<p>{{ title default='Dr' }}</p>";
  const html = hb.compile(expandFallbacks(src, "html"));
  assert.equal(html({ firstname: "Anna", title: "" }), "<p>Hej Anna!</p>\n<p>Dr</p>");
  assert.equal(html({ firstname: "" }), "<p>Hej vän &lt;3!</p>\n<p>Dr</p>");
  const text = hb.compile(expandFallbacks('Hej {{firstname default="vän <3"}}', "text"), {
    noEscape: true,
  });
  assert.equal(text({}), "Hej vän <3");
});

Deno.test("installMergeHelpers() makes fallbacks work in an isolated environment", () => {
  const hb = Handlebars.create();
  installMergeHelpers(hb);
  const tpl = hb.compile('Hi {{firstname default="friend"}}, {{org default="<none>"}}');
  assert.equal(tpl({ firstname: "Anna", org: "<b>" }), "Hi Anna, &lt;b&gt;");
  assert.equal(tpl({ firstname: "" }), "Hi friend, &lt;none&gt;");
  assert.equal(tpl({}), "Hi friend, &lt;none&gt;");
  // Other environments are untouched.
  assert.throws(() => Handlebars.create().compile('{{x default="y"}}')({ x: "z" }));
  assert.throws(() => hb.compile("{{nohelper 1}}")({}), /Missing helper/);
});
