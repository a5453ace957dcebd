// Parsing the committed feed samples (tests/fixtures/rss/): RSS 2.0, Atom with HTML, media and
// enclosures, charsets that lie, missing dates, hostile markup, truncated XML, long guids.
import assert from "node:assert/strict";
import {
  decodeFeed,
  FeedParseError,
  GUID_DISPLAY_CHARS,
  parseFeed,
  sanitizeItemHtml,
} from "./parse.ts";

const FIXTURES = new URL("../../tests/fixtures/rss/", import.meta.url);
const bytes = (name: string) => Deno.readFile(new URL(name, FIXTURES));
const parseFixture = async (name: string) => parseFeed(decodeFeed(await bytes(name)));

Deno.test("RSS 2.0 university news: titles, links, guids, dates, plain summaries, first image", async () => {
  const f = await parseFixture("university_news.xml");
  assert.equal(f.title, "Åbo Akademi University – News");
  assert.equal(f.site_url, "https://www.abo.example/news/");
  assert.deepEqual(f.items.map((i) => i.guid), ["abo-news-4711", "abo-news-4710", "abo-news-4709"]);
  const [first, second, third] = f.items;
  assert.equal(first!.title, "New research centre for Baltic Sea studies opens in Turku");
  assert.equal(first!.link, "https://www.abo.example/news/2026/11/baltic-sea-centre");
  assert.equal(first!.published_at?.toISOString(), "2026-11-24T07:00:00.000Z");
  assert.equal(first!.image, "https://www.abo.example/media/baltic-centre.jpg");
  assert.match(first!.summary, /^The centre brings together marine biologists, chemists/);
  assert.ok(!first!.summary.includes("<"), first!.summary);
  assert.match(first!.content_html, /<strong>marine biologists<\/strong>/);
  assert.equal(second!.title, 'Alumni evening & lecture: "Democracy in the Nordics"');
  assert.equal(second!.image, null);
  assert.match(third!.summary, /^Apply through the national application system/);
});

Deno.test("Atom blog: html title flattened, html content sanitised, summary kept, xhtml content", async () => {
  const f = await parseFixture("blog_atom.xml");
  assert.equal(f.title, "The Library Blog");
  const [post, hours] = f.items;
  assert.equal(post!.guid, "tag:blog.library.example,2026:post-88");
  assert.equal(post!.title, "Open access week: what changed");
  assert.equal(post!.link, "https://blog.library.example/2026/11/open-access-week");
  assert.equal(post!.published_at?.toISOString(), "2026-11-25T10:00:00.000Z");
  assert.equal(
    post!.summary,
    "Five things we learned during open access week, and what they mean for your thesis.",
  );
  assert.match(post!.content_html, /<h2>Five things<\/h2>/);
  assert.match(post!.content_html, /<a href="https:\/\/openaccess.example\/week">/);
  assert.ok(!post!.content_html.includes("position"), "disallowed style dropped");
  assert.equal(post!.image, "https://blog.library.example/img/oa-chart.png");
  assert.equal(hours!.title, "Extended opening hours in December");
  assert.equal(hours!.published_at?.toISOString(), "2026-11-18T08:30:00.000Z");
  assert.match(hours!.summary, /open until 22:00/);
});

Deno.test("enclosures and media: image enclosure, media:thumbnail, media:content of medium image", async () => {
  const f = await parseFixture("podcast_media.xml");
  assert.deepEqual(f.items.map((i) => i.image), [
    "https://cdn.campus.example/img/ep12-thumb.jpg", // audio enclosure is no image
    "https://cdn.campus.example/img/graduation.jpg",
    "https://cdn.campus.example/img/lab-poster.jpg", // the video is skipped
  ]);
  assert.equal(f.items[0]!.guid, "https://radio.campus.example/episodes/12");
});

Deno.test("charset: UTF-8 declared ISO-8859-1 read as UTF-8; real Latin-1 as Latin-1; UTF-16 by its BOM", async () => {
  const lying = await parseFixture("wrong_encoding.xml");
  assert.equal(lying.items[0]!.title, "Julfest på Göteborgs nation – anmälan öppen");
  assert.equal(lying.items[0]!.summary, "Välkommen till årets julfest! Pris 250 €.");
  const latin1 = await parseFixture("latin1.xml");
  assert.equal(latin1.items[0]!.title, "Julfest på Göteborgs nation - anmälan öppen");
  // UTF-16 with a byte order mark (made from the UTF-8 sample).
  const text = new TextDecoder().decode(await bytes("wrong_encoding.xml"))
    .replace('encoding="ISO-8859-1"', 'encoding="UTF-16"');
  const utf16 = new Uint8Array(2 + text.length * 2);
  utf16.set([0xff, 0xfe]);
  for (let i = 0; i < text.length; i++) {
    utf16[2 + 2 * i] = text.charCodeAt(i) & 0xff;
    utf16[3 + 2 * i] = text.charCodeAt(i) >> 8;
  }
  const wide = await parseFeed(decodeFeed(utf16));
  assert.equal(wide.items[0]!.title, "Julfest på Göteborgs nation – anmälan öppen");
});

Deno.test("missing dates and guids: date null, a stable guid from the content", async () => {
  const a = await parseFixture("missing_dates.xml");
  const b = await parseFixture("missing_dates.xml");
  assert.equal(a.items.length, 2);
  assert.equal(a.items[0]!.published_at, null);
  assert.equal(a.items[1]!.published_at, null, "an unparseable pubDate is no date");
  assert.equal(a.items[0]!.guid, "https://physics.example/seminars/quantum-sensors");
  assert.match(a.items[1]!.guid, /^sha256:[0-9a-f]{64}$/);
  assert.equal(a.items[1]!.guid, b.items[1]!.guid);
  assert.equal(a.items[1]!.link, null);
});

Deno.test("hostile content: no script, handlers, javascript:, tel:, iframes or merge tags survive", async () => {
  const f = await parseFixture("hostile_content.xml");
  const it = f.items[0]!;
  assert.equal(it.title, "Click here");
  assert.equal(it.link, null, "a javascript: link is no link");
  const html = it.content_html;
  for (
    const bad of [
      "<script",
      "onclick",
      "onmouseover",
      "onerror",
      "javascript:",
      "<iframe",
      "tel:",
      "<style",
      "data:image/svg",
    ]
  ) {
    assert.ok(!html.toLowerCase().includes(bad), `${bad} in ${html}`);
  }
  assert.match(html, /<a href="https:\/\/ok.example\/page">good link<\/a>/);
  assert.match(html, /<a href="mailto:info@hostile.example">mail<\/a>/);
  assert.ok(!html.includes("{{"), "feed text never becomes a merge tag");
  assert.equal(it.image, null);
  assert.ok(!sanitizeItemHtml('<a href="JaVaScRiPt:x">y</a>').includes("avascript"));
});

Deno.test("truncated XML and non-feeds are refused with FeedParseError", async () => {
  await assert.rejects(() => parseFixture("truncated.xml"), FeedParseError);
  await assert.rejects(() => parseFeed("<html><body>Not a feed</body></html>"), FeedParseError);
});

Deno.test("long guids: two sharing a 3,000-character prefix stay apart, a 10,000-character multi-byte one is hashed", async () => {
  const prefix = "https://long.example/".padEnd(3000, "x");
  const a = `${prefix}-a`;
  const b = `${prefix}-b`;
  const wide = "ä€😀".repeat(2500); // 10,000 UTF-16 units, 22,500 bytes of UTF-8
  const xml = `<rss version="2.0"><channel><title>T</title>` +
    [a, b, wide, a].map((g, i) => `<item><title>I${i}</title><guid>${g}</guid></item>`).join("") +
    `</channel></rss>`;
  const f = await parseFeed(xml);
  assert.deepEqual(f.items.map((i) => i.title), ["I0", "I1", "I2"], "the repeated guid once");
  const [ia, ib, iw] = f.items;
  assert.notEqual(ia!.guid_key, ib!.guid_key);
  for (const it of f.items) {
    assert.match(it.guid_key, /^sha256:[0-9a-f]{64}$/);
    assert.ok(it.guid.length <= GUID_DISPLAY_CHARS * 2, "display text is bounded");
  }
  assert.ok(ia!.guid.startsWith("https://long.example/x"));
  // The display cut falls between characters, never inside a surrogate pair.
  assert.equal(Array.from(iw!.guid).length, GUID_DISPLAY_CHARS);
  assert.ok(wide.startsWith(iw!.guid));
  // Short guids are their own key.
  const short = await parseFeed(
    `<rss version="2.0"><channel><title>T</title><item><guid>g-1</guid></item></channel></rss>`,
  );
  assert.equal(short.items[0]!.guid_key, "g-1");
  assert.equal(short.items[0]!.guid, "g-1");
});
