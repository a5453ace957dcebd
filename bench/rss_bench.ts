// Cost of the rss plugin's per-fetch and per-send work: parsing a 200-item feed (rss-parser +
// sanitising each item), and the sanitiser pass over a body with a feed block, which now also
// finds the blocks over plugin data.
// Run: deno bench -A bench/rss_bench.ts
import { decodeFeed, parseFeed } from "../plugins/rss/parse.ts";
import { rssDocument } from "../plugins/rss/_test_feed_server.ts";
import { sanitizeHtmlBody } from "../core/mailings/sanitize.ts";
import { reserveDataNamespace } from "../core/mailings/data_namespaces.ts";

const items = Array.from({ length: 200 }, (_, i) => ({
  guid: `g${i}`,
  title: `Story number ${i} about the university`,
  date: new Date(Date.UTC(2026, 10, 1, 0, i)).toISOString(),
}));
const feed200 = new TextEncoder().encode(rssDocument("Bench", items));
const atom = await Deno.readFile(new URL("../tests/fixtures/rss/blog_atom.xml", import.meta.url));

Deno.bench("parse a 200-item RSS 2.0 feed (decode, parse, sanitise, map)", async () => {
  const f = await parseFeed(decodeFeed(feed200));
  if (f.items.length !== 200) throw new Error("items");
});

Deno.bench("parse the 2-entry Atom fixture with HTML content", async () => {
  await parseFeed(decodeFeed(atom));
});

const body = "<h1>News</h1><p>Dear {{firstname}},</p>" +
  '{{#each rss.news.items_5}}<p><a href="{{link}}">{{title}}</a> {{date}}<br>{{summary}}</p>' +
  "{{/each}}" + "<p>Lorem ipsum dolor sit amet. </p>".repeat(100);

Deno.bench(
  "sanitise a 3.5 KB body with a feed block",
  { group: "sanitise", baseline: true },
  () => {
    sanitizeHtmlBody(body);
  },
);

reserveDataNamespace("rss");
Deno.bench("… with the rss namespace reserved (block spans found)", { group: "sanitise" }, () => {
  sanitizeHtmlBody(body);
});
