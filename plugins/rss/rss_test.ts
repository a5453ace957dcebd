// rss plugin end to end against a local feed server: tier gating, feeds through the API,
// conditional requests, limits (time, size, redirects, private targets in IPv4 and IPv6 forms),
// error messages without internals, long guids, the poller claiming each feed once, and feed
// blocks in mailings — preview, "since last send" (items stored mid-send, cancelled sends),
// skip when empty.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { sql } from "kysely";
import { simpleParser } from "mailparser";
import { apiClient, Browser, PASSWORD, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { createSender, verifySender } from "../../core/mailings/senders.ts";
import { SendWorker } from "../../core/send/worker.ts";
import { captureTransport } from "../../core/send/transport.ts";
import { fetchFeed } from "./fetch.ts";
import { pollOnce } from "./poller.ts";
import { refreshFeedNow } from "./refresh.ts";
import { createFeed } from "./store.ts";
import { feedServer, rssDocument } from "./_test_feed_server.ts";
import { rssPlugin } from "./mod.ts";
import type { Plugin } from "../../core/plugin.ts";
import { cancelMailing } from "../../core/mailings/send.ts";

const server = feedServer();
/**
 * Asked after the rss plugin when a mailing names it: runs `between` while the send is being
 * frozen — after the feed blocks were read, before the send exists (as a poller could).
 */
let between: (() => Promise<void>) | null = null;
const meanwhile: Plugin = {
  name: "meanwhile",
  tier: "advanced",
  hooks: {
    async sendData() {
      await between?.();
      return {};
    },
  },
};
const t = await testApp({
  plugins: [rssPlugin, meanwhile],
  env: { RSS_ALLOW_PRIVATE: "true" },
});
const org = await seedTenant(t, {
  tier: "advanced",
  slug: "rss-org",
  scopes: ["read", "write", "send"],
});
const api = apiClient(t, org.key);
const tid = org.tenant.id;
const sender = await createSender(t.deps, tid, { name: "News", address: "news@uni.example" }, "t");
await verifySender(t.deps, tid, sender.id, "test");

const MIN = 60_000;

/** DELETE answers 204 without a body, which apiClient would try to read as JSON. */
async function remove(feedId: string): Promise<number> {
  const res = await t.app.request(`/api/v1/rss/${feedId}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${org.key}` },
  });
  await res.body?.cancel();
  return res.status;
}

Deno.test("tier gating: a Standard tenant gets 403 on the API and the staff page", async () => {
  const std = await seedTenant(t, { tier: "standard", slug: "rss-std" });
  const r = await apiClient(t, std.key)("GET", "/rss");
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, "plugin_not_enabled");
  const ok = await api("GET", "/rss");
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  // The staff page too: a Standard admin is refused, an Advanced one sees it.
  const visit = async (email: string) => {
    const b = new Browser(t.app);
    await b.get("/login");
    assert.equal((await b.post("/login", { email, password: PASSWORD })).status, 303);
    const res = await b.get("/p/rss");
    await res.body?.cancel();
    return res.status;
  };
  assert.equal(await visit(std.email), 403);
  assert.equal(await visit(org.email), 200);
  const doc = await (await t.app.request("/api/v1/openapi.json")).json();
  assert.ok(doc.paths["/rss/{id}/fetch"], "documented in OpenAPI");
});

Deno.test("add a feed: validated, fetched at once, items stored; list shows the status", async () => {
  const bad = await api("POST", "/rss", { url: "ftp://x.example/feed", slug: "Bad Slug" });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body.error.details.map((d: { path: string }) => d.path).sort(), [
    "slug",
    "url",
  ]);
  const url = await server.fixture("university_news.xml");
  const r = await api("POST", "/rss", { url, slug: "uni" });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.status, "ok");
  assert.equal(r.body.added, 3);
  assert.equal(r.body.feed.title, "Åbo Akademi University – News");
  assert.equal(r.body.feed.item_count, 3);
  const dup = await api("POST", "/rss", { url });
  assert.equal(dup.status, 400);
  assert.equal(dup.body.error.details[0].code, "duplicate_feed");
  const list = await api("GET", "/rss");
  assert.deepEqual(list.body.items.map((f: { slug: string }) => f.slug), ["uni"]);
  assert.equal(list.body.items[0].last_status, "ok");
  const items = await api("GET", `/rss/${r.body.feed.id}/items`);
  assert.equal(items.body.items[0].guid, "abo-news-4711");
  // Another tenant cannot see it.
  const other = await seedTenant(t, { tier: "advanced", slug: "rss-other" });
  assert.equal((await apiClient(t, other.key)("GET", `/rss/${r.body.feed.id}`)).status, 404);
});

Deno.test("conditional fetch: If-None-Match and If-Modified-Since sent, 304 keeps the items", async () => {
  const url = await server.fixture("blog_atom.xml");
  const created = await api("POST", "/rss", { url, slug: "blog" });
  assert.equal(created.body.feed.item_count, 2);
  const first = server.log.filter((x) => x.path === "/blog_atom.xml");
  assert.equal(first.length, 1);
  assert.equal(first[0]!.ifNoneMatch, null);
  const again = await api("POST", `/rss/${created.body.feed.id}/fetch`);
  assert.equal(again.status, 200, JSON.stringify(again.body));
  const second = server.log.filter((x) => x.path === "/blog_atom.xml")[1]!;
  assert.match(second.ifNoneMatch ?? "", /^"[0-9a-f]{40}"$/);
  assert.equal(second.ifModifiedSince, server.lastModified);
  assert.equal(again.body.status, "not_modified");
  assert.equal(again.body.added, 0);
  assert.equal(again.body.feed.item_count, 2);
  assert.equal(again.body.feed.last_status, "not_modified");
});

Deno.test("limits: a slow feed times out, a huge one is cut off, too many redirects fail; items kept", async () => {
  // Added without the first fetch (that would wait the full default time limit).
  const slow = await createFeed(t.deps, tid, { url: `${server.base}/slow.xml`, slug: "slow" }, "t");
  const timedOut = await refreshFeedNow(t.deps, tid, slow.id, { timeoutMs: 300 });
  assert.equal(timedOut?.status, "error");
  assert.match(timedOut!.error!, /^timeout/);

  const huge = (await api("POST", "/rss", { url: `${server.base}/huge.xml`, slug: "huge" })).body;
  assert.equal(huge.status, "error");
  assert.match(huge.error, /^too_large/);
  assert.equal(huge.feed.last_status, "error");

  const hops = (await api("POST", "/rss", { url: `${server.base}/hop/2`, slug: "hops" })).body;
  assert.equal(hops.status, "ok", "three redirects are followed");
  assert.equal(hops.feed.item_count, 3);
  const loop = (await api("POST", "/rss", { url: `${server.base}/hop/3`, slug: "loop" })).body;
  assert.match(loop.error, /^too_many_redirects/);

  // A feed that fails later keeps what it had.
  server.set(
    "/flaky.xml",
    rssDocument("Flaky", [{ guid: "f1", title: "One", date: "2026-11-01" }]),
  );
  const flaky = (await api("POST", "/rss", { url: `${server.base}/flaky.xml` })).body;
  assert.equal(flaky.feed.slug, "feed", "a slug made up when the host gives none");
  server.set("/flaky.xml", "<rss><channel><item><title>broken");
  const failed = (await api("POST", `/rss/${flaky.feed.id}/fetch`)).body;
  assert.equal(failed.status, "error");
  assert.equal(failed.feed.item_count, 1);
  for (const slug of ["slow", "huge", "hops", "loop"]) {
    const f = (await api("GET", "/rss")).body.items.find((x: { slug: string }) => x.slug === slug);
    assert.equal(await remove(f.id), 204);
  }
  assert.equal(await remove(flaky.feed.id), 204);
  assert.equal((await api("GET", `/rss/${flaky.feed.id}`)).status, 404);
});

Deno.test("private targets are refused unless RSS_ALLOW_PRIVATE allows them", async () => {
  const url = `${server.base}/university_news.xml`;
  await assert.rejects(() => fetchFeed(url, { allowPrivate: false }), /private_address/);
  await assert.rejects(
    () => fetchFeed(url.replace("127.0.0.1", "localhost"), { allowPrivate: false }),
    /private_address/,
  );
  await assert.rejects(
    () =>
      fetchFeed("http://intranet.example/feed", {
        allowPrivate: false,
        resolve: () => Promise.resolve(["10.0.0.5"]),
      }),
    /private_address/,
  );
  // IPv6 spellings of loopback and private IPv4 (the URL parser turns [::ffff:127.0.0.1] into
  // [::ffff:7f00:1]); none is fetched, all are refused before any connection.
  for (
    const host of [
      "[::ffff:127.0.0.1]",
      "[::ffff:7f00:1]",
      "[::7f00:1]",
      "[::1]",
      "[64:ff9b::7f00:1]",
      "[64:ff9b::a9fe:a9fe]",
      "[2002:7f00:1::]",
      "[2002:c0a8:101::1]",
      "[fd00::1]",
      "[fe80::1]",
      "0x7f.1",
      "2130706433",
    ]
  ) {
    await assert.rejects(
      () => fetchFeed(`http://${host}:${new URL(server.base).port}/feed`, { allowPrivate: false }),
      /private_address/,
      host,
    );
  }
  // A name whose answers include one such address is refused as a whole.
  await assert.rejects(
    () =>
      fetchFeed("http://sneaky.example/feed", {
        allowPrivate: false,
        resolve: () => Promise.resolve(["93.184.216.34", "::ffff:7f00:1"]),
      }),
    /private_address/,
  );
  const ok = await fetchFeed(url, { allowPrivate: true });
  assert.equal(ok.kind, "ok");
});

Deno.test("fetch errors are shown as messages without internal details; the API gives codes", async () => {
  const missing = (await api("POST", "/rss", { url: `${server.base}/missing.xml`, slug: "gone" }))
    .body;
  assert.equal(missing.status, "error");
  assert.equal(missing.error, "http_status:404");
  assert.equal(missing.feed.last_error, "http_status:404");
  // A closed port: the resolver's or socket's wording (addresses, "Connection refused") stays
  // in the operator's log.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const down = (await api("POST", "/rss", { url: `http://127.0.0.1:${port}/f`, slug: "down" }))
    .body;
  assert.equal(down.error, "network");
  assert.equal(down.feed.last_error, "network");
  server.set("/page.html", "<html><body>Not a feed</body></html>");
  const page = (await api("POST", "/rss", { url: `${server.base}/page.html`, slug: "page" })).body;
  assert.equal(page.error, "not_a_feed");

  const b = new Browser(t.app);
  await b.get("/login");
  await b.post("/login", { email: org.email, password: PASSWORD });
  const html = await (await b.get("/p/rss")).text();
  const status = (slug: string) =>
    new RegExp(`data-slug="${slug}"[\\s\\S]*?data-testid="rss-status">([^<]*)<`).exec(html)?.[1]
      ?.trim();
  assert.match(status("gone") ?? "", /^Failed \(.*\): HTTP status 404$/);
  assert.match(status("down") ?? "", /^Failed \(.*\): could not connect$/);
  assert.match(status("page") ?? "", /^Failed \(.*\): not an RSS or Atom feed$/);
  assert.ok(!html.includes("http_status") && !/refused|os error|tcp connect/i.test(html));
  // "Fetch now" says the same in its notice.
  const fetched = await b.post(`/p/rss/${missing.feed.id}/fetch`, {});
  assert.equal(fetched.status, 303);
  const after = await (await b.get("/p/rss")).text();
  assert.match(after, /“gone” could not be fetched: HTTP status 404/);
  for (const f of [missing.feed, down.feed, page.feed]) assert.equal(await remove(f.id), 204);
});

Deno.test("long guids: two sharing a 3,000-character prefix and a 10,000-character multi-byte one are stored once each", async () => {
  const prefix = "https://long.example/".padEnd(3000, "x");
  const wide = "ä€😀".repeat(2500);
  const doc = `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>L</title>` +
    [`${prefix}-a`, `${prefix}-b`, wide].map((g, i) =>
      `<item><title>Long ${i}</title><guid>${g}</guid><pubDate>${
        new Date(Date.UTC(2026, 10, 10 + i)).toUTCString()
      }</pubDate></item>`
    ).join("") + `</channel></rss>`;
  server.set("/long.xml", doc);
  const r = (await api("POST", "/rss", { url: `${server.base}/long.xml`, slug: "long" })).body;
  assert.equal(r.status, "ok", JSON.stringify(r));
  assert.equal(r.added, 3);
  // A changed body (new ETag) with the same guids: fetched again, nothing new, no failure.
  server.set("/long.xml", doc.replace("<title>L</title>", "<title>L2</title>"));
  const again = (await api("POST", `/rss/${r.feed.id}/fetch`)).body;
  assert.equal(again.status, "ok", JSON.stringify(again));
  assert.equal(again.added, 0);
  assert.equal(again.feed.item_count, 3);
  const items = (await api("GET", `/rss/${r.feed.id}/items`)).body.items;
  assert.deepEqual(items.map((i: { title: string }) => i.title), ["Long 2", "Long 1", "Long 0"]);
  assert.ok(wide.startsWith(items[0].guid) && items[0].guid.length > 0);
  assert.ok(items[1].guid.startsWith("https://long.example/x"));
  assert.equal(await remove(r.feed.id), 204);
});

Deno.test("poller: two workers polling at once fetch each due feed exactly once; next round after RSS_POLL_MINUTES", async () => {
  await sql`delete from rss_feeds where tenant_id = ${tid}`.execute(t.deps.db);
  const paths = ["/p1.xml", "/p2.xml", "/p3.xml"];
  for (const [i, p] of paths.entries()) {
    server.set(
      p,
      rssDocument(`Feed ${i}`, [{ guid: `p${i}`, title: `P${i}`, date: "2026-11-02" }]),
    );
    await api("POST", "/rss", { url: `${server.base}${p}`, slug: `poll${i}` });
  }
  // Added feeds were fetched once already; make them due again.
  await sql`update rss_feeds set next_fetch_at = ${t.deps.clock()} where tenant_id = ${tid}`
    .execute(t.deps.db);
  const before = server.log.length;
  const [a, b] = await Promise.all([pollOnce(t.deps), pollOnce(t.deps)]);
  assert.equal(a + b, 3);
  const fetched = server.log.slice(before).map((x) => x.path).sort();
  assert.deepEqual(fetched, paths);
  assert.equal(await pollOnce(t.deps), 0, "nothing is due before the period has passed");
  t.advance(t.deps.config.rssPollMs + 1000);
  assert.equal(await pollOnce(t.deps), 3);
});

Deno.test("start() polls in the background and stop() ends it cleanly", async () => {
  await sql`update rss_feeds set next_fetch_at = ${t.deps.clock()} where tenant_id = ${tid}`
    .execute(t.deps.db);
  const before = server.log.length;
  await rssPlugin.start!(t.deps);
  while (server.log.length < before + 3) await new Promise((r) => setTimeout(r, 20));
  await rssPlugin.stop!();
  const after = server.log.length;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(server.log.length, after, "no fetch after stop()");
  const row = await sql<{ n: number | string }>`select count(*) as n from rss_feeds
    where tenant_id = ${tid} and next_fetch_at > ${t.deps.clock()}`.execute(t.deps.db);
  assert.equal(Number(row.rows[0]!.n), 3, "each refreshed feed waits a period");
});

async function deliver(): Promise<string[]> {
  const transport = captureTransport(t.deps);
  const worker = new SendWorker(t.deps, transport, { batchSize: 50 });
  while (await worker.runOnce() > 0) { /* until the queue is empty */ }
  await transport.close();
  const rows = await t.deps.db.selectFrom("captured_mail").select("raw")
    .where("tenant_id", "=", tid).orderBy("id").execute();
  const out: string[] = [];
  for (const r of rows) out.push(String((await simpleParser(Buffer.from(r.raw))).html));
  await t.deps.db.deleteFrom("captured_mail").where("tenant_id", "=", tid).execute();
  return out;
}

const BLOCK = '<h2>News</h2>{{#each rss.news.new_items_5}}<p><a href="{{link}}">{{title}}</a> ' +
  "{{date}}<br>{{summary}}</p>{{/each}}<p>Hi {{email}}</p>";

Deno.test("mailing: preview shows the feed; each send holds only items new since the last one; none new → skipped", async () => {
  server.set(
    "/news.xml",
    rssDocument("Campus news", [
      { guid: "n3", title: "Third story", date: "2026-11-20T10:00:00Z" },
      { guid: "n2", title: "Second story", date: "2026-11-19T10:00:00Z" },
      { guid: "n1", title: "First story", date: "2026-11-18T10:00:00Z" },
    ]),
  );
  const feed = (await api("POST", "/rss", { url: `${server.base}/news.xml`, slug: "news" })).body;
  assert.equal(feed.added, 3);
  const m = (await api("POST", "/mailings", {
    from_address: "news@uni.example",
    subject: "Campus news",
    body_html: BLOCK,
    recipients: { addresses: ["reader@uni.example"] },
  })).body;
  // The link inside the feed block survives the sanitiser (it reads the feed's item).
  assert.match(m.body_html, /<a href="\{\{safe_url link\}\}">\{\{title\}\}<\/a>/);

  // The pre-send report does not take the items' fields for the person's.
  const report = await api("GET", `/mailings/${m.id}/merge-fields`);
  assert.deepEqual(report.body.fields.map((f: { name: string }) => f.name), ["email"]);

  const p = await api("POST", `/mailings/${m.id}/preview`, { address: "reader@uni.example" });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.match(p.body.html, /<a href="https:\/\/news.example\/n3">Third story<\/a>/);
  assert.ok(p.body.html.indexOf("Third story") < p.body.html.indexOf("First story"));
  assert.match(p.body.html, /About Second story\./);
  // Dates in the tenant's language and time zone (en, Europe/Stockholm): 10:00Z is 11:00.
  assert.match(p.body.html, /Third story<\/a> 20 Nov 2026, 11:00<br \/>About Third story\./);

  t.advance(MIN);
  const first = await api("POST", `/mailings/${m.id}/send`, {});
  assert.equal(first.status, 202, JSON.stringify(first.body));
  const send1 = await t.deps.db.selectFrom("sends").select(["content", "created_at"])
    .where("tenant_id", "=", tid).where("id", "=", first.body.send_id).executeTakeFirstOrThrow();
  const data1 = (send1.content as { data: { rss: { news: { new_items_5: { title: string }[] } } } })
    .data.rss.news.new_items_5;
  assert.deepEqual(data1.map((i) => i.title), ["Third story", "Second story", "First story"]);
  const [mail1] = await deliver();
  assert.match(mail1!, /Third story/);
  assert.match(mail1!, /Hi reader@uni.example/, "merged per recipient as usual");

  // Two new stories appear; the next fetch stores them.
  t.advance(MIN);
  server.set(
    "/news.xml",
    rssDocument("Campus news", [
      { guid: "n5", title: "Fifth story", date: "2026-11-22T10:00:00Z" },
      { guid: "n4", title: "Fourth story", date: "2026-11-21T10:00:00Z" },
      { guid: "n3", title: "Third story", date: "2026-11-20T10:00:00Z" },
      { guid: "n2", title: "Second story", date: "2026-11-19T10:00:00Z" },
    ]),
  );
  const refetch = await api("POST", `/rss/${feed.feed.id}/fetch`);
  assert.equal(refetch.body.added, 2);

  // The same mailing runs again (as a recurring run does): back to draft, send.
  const again = async () => {
    await t.deps.db.updateTable("mailings").set({ status: "draft", send_id: null })
      .where("tenant_id", "=", tid).where("id", "=", m.id).execute();
    t.advance(MIN);
    return await api("POST", `/mailings/${m.id}/send`, {});
  };
  const second = await again();
  assert.equal(second.status, 202, JSON.stringify(second.body));
  const [mail2] = await deliver();
  assert.match(mail2!, /Fifth story/);
  assert.match(mail2!, /Fourth story/);
  assert.ok(!mail2!.includes("Third story"), "only items new since the last send");
  assert.match(mail2!, /href="https:\/\/news.example\/n5"/);

  // Nothing new since: the send is skipped, nothing is created, the mailing stays a draft.
  const sendsBefore = await t.deps.db.selectFrom("sends").select("id")
    .where("tenant_id", "=", tid).where("mailing_id", "=", m.id).execute();
  const third = await again();
  assert.equal(third.status, 409, JSON.stringify(third.body));
  assert.equal(third.body.error.code, "send_skipped");
  assert.equal(third.body.error.details.plugin, "rss");
  assert.match(third.body.error.message, /no new items/);
  const sendsAfter = await t.deps.db.selectFrom("sends").select("id")
    .where("tenant_id", "=", tid).where("mailing_id", "=", m.id).execute();
  assert.equal(sendsAfter.length, sendsBefore.length);
  assert.equal((await api("GET", `/mailings/${m.id}`)).body.status, "draft");
  const skipped = await t.deps.db.selectFrom("audit_log").select("details")
    .where("tenant_id", "=", tid).where("action", "=", "mailing.send_skipped").execute();
  assert.equal(skipped.length, 1);
  // A test send is never skipped: staff see the mailing as it stands.
  const test = await api("POST", `/mailings/${m.id}/test`, { to: ["me@uni.example"] });
  assert.equal(test.status, 202, JSON.stringify(test.body));
});

Deno.test("new items: one stored while a send is frozen comes in the next send; a cancelled send that sent nothing does not count", async () => {
  const one = { guid: "s1", title: "Story one", date: "2026-11-10T10:00:00Z" };
  const two = { guid: "s2", title: "Story two", date: "2026-11-11T10:00:00Z" };
  await deliver(); // what earlier tests left in the queue
  server.set("/fresh.xml", rssDocument("Fresh", [one]));
  const feed = (await api("POST", "/rss", { url: `${server.base}/fresh.xml`, slug: "fresh" }))
    .body;
  const m = (await api("POST", "/mailings", {
    from_address: "news@uni.example",
    subject: "Fresh",
    body_html: "{{#each rss.fresh.new_items}}<p>{{title}}</p>{{/each}}{{meanwhile.x}}<p>.</p>",
    recipients: { addresses: ["reader@uni.example"] },
  })).body;
  const again = async () => {
    await t.deps.db.updateTable("mailings").set({ status: "draft", send_id: null })
      .where("tenant_id", "=", tid).where("id", "=", m.id).execute();
    t.advance(MIN);
    return await api("POST", `/mailings/${m.id}/send`, {});
  };
  // The feed blocks of the first send are read; before its send exists, a refresh stores two.
  between = async () => {
    server.set("/fresh.xml", rssDocument("Fresh", [two, one]));
    assert.equal((await refreshFeedNow(t.deps, tid, feed.feed.id))?.added, 1);
  };
  const first = await api("POST", `/mailings/${m.id}/send`, {});
  between = null;
  assert.equal(first.status, 202, JSON.stringify(first.body));
  const [mail1, ...none] = await deliver();
  assert.equal(none.length, 0);
  assert.match(mail1!, /Story one/);
  assert.ok(!mail1!.includes("Story two"), "stored after the first send's feeds were read");

  const second = await again();
  assert.equal(second.status, 202, JSON.stringify(second.body));
  // Cancelled before a single message went out: as if it had never been sent.
  await cancelMailing(t.deps, tid, m.id, "t");
  const cancelled = await t.deps.db.selectFrom("sends").select(["status", "sent"])
    .where("tenant_id", "=", tid).where("id", "=", second.body.send_id).executeTakeFirstOrThrow();
  assert.deepEqual({ ...cancelled, sent: Number(cancelled.sent) }, {
    status: "cancelled",
    sent: 0,
  });
  const third = await again();
  assert.equal(third.status, 202, JSON.stringify(third.body));
  const mails = await deliver();
  assert.equal(mails.length, 1, "the cancelled send delivered nothing");
  assert.match(mails[0]!, /Story two/);
  assert.ok(!mails[0]!.includes("Story one"));
  // Delivered this time: the next run has nothing new and is skipped.
  assert.equal((await again()).status, 409);
  assert.equal(await remove(feed.feed.id), 204);
});

Deno.test("a block naming an unknown feed stops the send; preview still works", async () => {
  const m = (await api("POST", "/mailings", {
    from_address: "news@uni.example",
    subject: "Oops",
    body_html: "{{#each rss.nosuch.items}}<p>{{title}}</p>{{/each}}<p>x</p>",
    recipients: { addresses: ["reader@uni.example"] },
  })).body;
  assert.equal(
    (await api("POST", `/mailings/${m.id}/preview`, { address: "a@b.example" })).status,
    200,
  );
  const r = await api("POST", `/mailings/${m.id}/send`, {});
  assert.equal(r.status, 409);
  assert.match(r.body.error.message, /nosuch/);
});

Deno.test("sanitiser: a URL made of a merge field is checked where it is rendered", async () => {
  const m = (await api("POST", "/mailings", {
    subject: "x",
    body_html: '<a href="{{link}}">outside</a>{{#each rss.news.items}}<a href="{{link}}">in</a>' +
      '<img src="{{image}}">{{else}}<a href="java{{link}}">else</a>{{/each}}',
  })).body;
  const html: string = m.body_html;
  // Inside or outside a feed block alike: safe_url lets only http(s) and mailto through when
  // the value is known (core/mailings/sanitize_test.ts renders hostile data through it).
  assert.match(html, /<a href="\{\{safe_url link\}\}">outside<\/a>/);
  assert.match(html, /<a href="\{\{safe_url link\}\}">in<\/a>/);
  assert.match(html, /<img src="\{\{safe_url image\}\}" \/>|<img src="\{\{safe_url image\}\}">/);
  assert.match(html, /<a>else<\/a>/);
});

Deno.test("close the feed server and the database", async () => {
  await server.close();
  await t.close();
});
