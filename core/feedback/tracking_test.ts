import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { simpleParser } from "mailparser";
import { decodeEntities, isTrackable, prepareTracking } from "./tracking.ts";
import { TokenSigner } from "./tokens.ts";
import { compileContent, renderMessage, type TrackingSettings } from "../send/render.ts";
import { SendContent } from "../send/queue.ts";
import type { SendKind } from "../db/schema.ts";

const HTML = `<html><body>
<p><a href="https://uni.example/news?a=1&amp;b=2">News</a>
<a class="btn" href='http://shop.example/'>Shop</a>
<a href="mailto:office@uni.example">Mail us</a> <a href="tel:+4612345">Call</a>
<a href="#top">Top</a> <a href="/relative">Relative</a>
<a href="https://private.example/" data-skicka-notrack>Private</a>
<a href="https://uni.example/me?id={{custom_id}}">Personal</a>
<a href="{{unsubscribe_url}}">Unsubscribe</a> <a href="{{view_in_browser_url}}">View</a>
<a href="https://bad.example/a b">Space</a>
{{#each items}}<a href="https://uni.example/item">{{this}}</a>{{/each}}
</p></body></html>`;

Deno.test("prepareTracking() replaces only trackable links and adds the pixel before </body>", () => {
  const t = prepareTracking(HTML);
  assert.deepEqual(t.links, [
    "https://uni.example/news?a=1&b=2",
    "http://shop.example/",
    "https://uni.example/item",
  ]);
  assert.deepEqual(t.raw, [
    "https://uni.example/news?a=1&amp;b=2",
    "http://shop.example/",
    "https://uni.example/item",
  ]);
  assert.match(t.html, /<a href="\{\{\{@root\.__skicka_links\.\[0\]\}\}\}">News/);
  assert.match(t.html, /<a class="btn" href="\{\{\{@root\.__skicka_links\.\[1\]\}\}\}">Shop/);
  for (const kept of ["mailto:office", "tel:+4612345", "#top", "/relative", "private.example"]) {
    assert.ok(t.html.includes(kept), kept);
  }
  assert.ok(t.html.includes('href="https://uni.example/me?id={{custom_id}}"'));
  assert.match(t.html, /\{\{\{@root\.__skicka_pixel\}\}\}<\/body>/);
  // No </body>: the pixel goes at the end.
  assert.ok(prepareTracking("<p>x</p>").html.endsWith("{{{@root.__skicka_pixel}}}"));
});

Deno.test("isTrackable() and decodeEntities()", () => {
  assert.equal(decodeEntities("a&amp;b&#38;c&#x26;d&quot;"), 'a&b&c&d"');
  assert.ok(isTrackable("HTTPS://x.example", ""));
  assert.ok(!isTrackable("javascript:alert(1)", ""));
  assert.ok(!isTrackable("https://x.example/&#10;Location: y", ""));
  assert.ok(!isTrackable("https:///nohost", ""));
});

const settings: TrackingSettings = {
  secret: "unit-test-secret-unit-test-secret",
  baseUrl: "https://mail.uni.example",
  bounceDomain: "bounces.uni.example",
};
const tenantId = "0190a000-0000-7000-8000-000000000001";
const queueId = "0190a000-0000-7000-8000-0000000000aa";
const sendId = "0190a000-0000-7000-8000-0000000000bb";
const signer = new TokenSigner(settings.secret);

async function render(kind: SendKind, extra: Partial<SendContent> = {}) {
  const content = SendContent.parse({
    from: { name: "Uni", address: "news@uni.example" },
    subject: "Hi {{firstname}}",
    html: HTML + "<p>{{unsubscribe_url}} {{view_in_browser_url}}</p>",
    text: "Hi",
    ...extra,
  });
  const r = renderMessage(
    compileContent(content),
    {
      address: "anna@ext.example",
      first_name: "Anna",
      custom: { custom_id: "42", items: ["a", "b"] },
    },
    {
      messageId: `<${queueId}@uni.example>`,
      tracking: settings,
      message: { tenantId, queueId, sendId, kind },
    },
  );
  const html = String((await simpleParser(Buffer.from(r.raw))).html);
  const head = r.raw.split("\r\n\r\n")[0]!.replace(/\r\n\s+/g, " ");
  return { r, html, head };
}

Deno.test("renderMessage(): a mass message gets click URLs, pixel, List-Unsubscribe, VERP", async () => {
  const { r, html, head } = await render("mass");
  const clicks = [...html.matchAll(/href="https:\/\/mail\.uni\.example\/t\/c\/([\w-]+)"/g)]
    .map((m) => signer.verifyClick(m[1]!));
  assert.deepEqual(clicks.map((c) => c?.link), [0, 1, 2, 2]); // the #each link twice
  for (const c of clicks) assert.deepEqual([c?.tenantId, c?.queueId], [tenantId, queueId]);
  const pixel = /<img src="https:\/\/mail\.uni\.example\/t\/o\/([\w-]+)\.gif"/.exec(html);
  assert.deepEqual(signer.verifyMessage("open", pixel![1]!), { tenantId, queueId });
  assert.ok(html.includes('href="https://uni.example/me?id=42"'), "merged link left untracked");
  assert.ok(html.includes("mailto:office@uni.example"));
  const unsub =
    /List-Unsubscribe: <https:\/\/mail\.uni\.example\/u\/([\w-]+)>, <mailto:unsubscribe\+([\w-]+)@bounces\.uni\.example>/
      .exec(head);
  assert.ok(unsub, head);
  assert.deepEqual(signer.verifyMessage("unsubscribe", unsub[1]!), { tenantId, queueId });
  assert.equal(unsub[2], unsub[1]);
  assert.match(head, /List-Unsubscribe-Post: List-Unsubscribe=One-Click/);
  assert.ok(head.includes(`Feedback-ID: ${sendId}:${tenantId}:mass:skicka`));
  assert.ok(head.includes(`Message-ID: <${queueId}@uni.example>`));
  assert.ok(html.includes(`https://mail.uni.example/u/${unsub[1]}`), "unsubscribe_url merged");
  assert.match(html, /https:\/\/mail\.uni\.example\/v\/[\w-]+/);
  assert.deepEqual(signer.parseBounceAddress(r.mailFrom!), { tenantId, queueId });
  assert.match(r.mailFrom!, /^bounce\+[\w-]+@bounces\.uni\.example$/);
});

Deno.test("renderMessage(): single mail is tracked without List-Unsubscribe; transactional opts in", async () => {
  const single = await render("single");
  assert.ok(single.html.includes("/t/c/"));
  assert.ok(!single.head.includes("List-Unsubscribe"));
  assert.ok(single.head.includes(":single:skicka"));

  const tx = await render("transactional");
  assert.ok(!tx.html.includes("/t/c/") && !tx.html.includes("/t/o/"), "no tracking by default");
  assert.ok(tx.html.includes('href="https://uni.example/news?a=1&amp;b=2"'), "links as written");
  assert.ok(tx.r.mailFrom?.startsWith("bounce+"), "VERP for every message");

  const opted = await render("transactional", { tracking: true });
  assert.ok(opted.html.includes("/t/c/") && opted.html.includes("/t/o/"));
});

Deno.test("renderMessage(): without message meta, links stay as written and nothing is signed", async () => {
  const c = compileContent(SendContent.parse({
    from: { address: "a@uni.example" },
    subject: "x",
    html: '<a href="https://uni.example/?a=1&amp;b=2">x</a>',
    headers: { "list-unsubscribe": "<https://evil.example>" },
  }));
  const r = renderMessage(c, { address: "b@ext.example" });
  assert.equal(r.mailFrom, undefined);
  assert.ok(!/list-unsubscribe/i.test(r.raw), "content cannot set List-Unsubscribe");
  assert.ok(String((await simpleParser(Buffer.from(r.raw))).html).includes("a=1&amp;b=2"));
});
