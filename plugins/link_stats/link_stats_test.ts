// link_stats end to end: a mailing sent through the real send worker, its links labelled once by
// the hook, clicks by people and by a scanner through the public click endpoint, and the
// per-link table on the statistics page, in the API and as CSV; Standard tenants get none of it.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { simpleParser } from "mailparser";
import { sql } from "kysely";
import { apiClient, Browser, PASSWORD, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { createPerson } from "../../core/people/persons.ts";
import { createSender, verifySender } from "../../core/mailings/senders.ts";
import { SendWorker } from "../../core/send/worker.ts";
import { captureTransport } from "../../core/send/transport.ts";
import { trackingRecorder } from "../../core/feedback/events.ts";
import { prepareTracking } from "../../core/feedback/tracking.ts";
import type { Tier } from "../../core/db/schema.ts";
import { labelLinks, linkLabel } from "./label.ts";
import { linkStatsPlugin } from "./mod.ts";

const t = await testApp({ plugins: [linkStatsPlugin] });
const PERSON = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0";
const SCANNER = "curl/8.5.0";
const IP = { remoteAddr: { hostname: "203.0.113.9" } };
const BODY = '<p><a href="https://uni.example/programme">Read the programme</a></p>' +
  '<p><a href="https://uni.example/programme"><img src="https://uni.example/b.png" ' +
  'alt="Programme banner"></a></p>' +
  '<p><a href="https://uni.example/apply?x=1&amp;y=2">Apply &amp; join</a></p>' +
  '<p><a href="mailto:office@uni.example">Write to us</a> ' +
  '<a href="{{unsubscribe_url}}">Unsubscribe</a></p>';

/** A tenant of the tier with three people, one mailing sent and delivered to the capture box. */
async function sentMailing(slug: string, tier: Tier) {
  const org = await seedTenant(t, { slug, tier, scopes: ["read", "write", "send"] });
  const tid = org.tenant.id;
  const sender = await createSender(
    t.deps,
    tid,
    { name: "Office", address: "office@uni.example" },
    "t",
  );
  await verifySender(t.deps, tid, sender.id, "t");
  const persons: string[] = [];
  for (const name of ["anna", "bo", "cia"]) {
    persons.push(
      (await createPerson(t.deps, tid, {
        first_name: name,
        addresses: [{ address: `${name}@${slug}.example` }],
      }, "t")).id,
    );
  }
  const api = apiClient(t, org.key);
  const m = (await api("POST", "/mailings", {
    from_identity_id: sender.id,
    subject: "Programme",
    body_html: BODY,
    recipients: { persons },
  })).body;
  assert.ok(m.id, JSON.stringify(m));
  const sent = await api("POST", `/mailings/${m.id}/send`, {});
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  await sql`update sends set status = 'cancelled'
    where status in ('sending', 'paused') and tenant_id <> ${tid}`.execute(t.deps.db);
  const worker = new SendWorker(t.deps, captureTransport(t.deps), { batchSize: 10 });
  while (await worker.runOnce() > 0) { /* drain */ }
  const rows = await t.deps.db.selectFrom("captured_mail").select(["rcpt_to", "raw"])
    .where("tenant_id", "=", tid).where("send_id", "=", sent.body.send_id).execute();
  const mails = new Map<string, { html: string; clicks: string[]; pixel: string }>();
  for (const r of rows) {
    const html = String((await simpleParser(Buffer.from(r.raw))).html);
    mails.set(r.rcpt_to.split("@")[0]!, {
      html,
      clicks: [...html.matchAll(/href="http:\/\/skicka\.test(\/t\/c\/[\w-]+)"/g)].map((x) => x[1]!),
      pixel: /src="http:\/\/skicka\.test(\/t\/o\/[\w-]+\.gif)"/.exec(html)?.[1] ?? "",
    });
  }
  assert.equal(mails.size, 3);
  const browser = new Browser(t.app);
  await browser.get("/login");
  assert.equal(
    (await browser.post("/login", { email: org.email, password: PASSWORD })).status,
    303,
  );
  return { ...org, api, sendId: sent.body.send_id as string, mails, browser };
}

const hit = (path: string, ua: string) =>
  t.app.request(path, { headers: { "user-agent": ua }, redirect: "manual" }, IP);

const advanced = await sentMailing("links-adv", "advanced");

Deno.test("link_stats: the hook labels each tracked link once per send; order and targets unchanged", () => {
  const anna = advanced.mails.get("anna")!;
  assert.equal(anna.clicks.length, 3, "three tracked links; mailto and unsubscribe are not");
  assert.match(anna.html, /data-skicka-link="Read the programme"/);
  assert.match(anna.html, /data-skicka-link="Programme banner"/);
  assert.match(anna.html, /data-skicka-link="Apply &amp; join"/);
  assert.doesNotMatch(
    anna.html,
    /data-skicka-link="Write to us"/,
    "untracked links stay as written",
  );
});

Deno.test("link_stats: clicks per link, people and machines apart, unique and total (API, page, CSV)", async () => {
  const { mails, sendId } = advanced;
  t.advance(3600_000); // an hour after delivery: people, not the too-soon scanner rule
  const anna = mails.get("anna")!, bo = mails.get("bo")!, cia = mails.get("cia")!;
  for (const m of [anna, bo]) assert.equal((await hit(m.pixel, PERSON)).status, 200);
  const clicks: [string, string][] = [
    [anna.clicks[0]!, PERSON], // Anna: the text link twice and Apply once
    [anna.clicks[0]!, PERSON],
    [anna.clicks[2]!, PERSON],
    [bo.clicks[1]!, PERSON], // Bo: the banner, same URL as the text link
    [cia.clicks[0]!, SCANNER], // Cia's mail gateway follows two links
    [cia.clicks[2]!, SCANNER],
  ];
  for (const [path, ua] of clicks) {
    t.advance(10_000); // people read between clicks (a burst would be a scanner's)
    const res = await hit(path, ua);
    assert.equal(res.status, 302);
  }
  await trackingRecorder(t.deps).flush();

  const r = await advanced.api("GET", `/link-stats/sends/${sendId}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, {
    send_id: sendId,
    links: [
      {
        index: 0,
        url: "https://uni.example/programme",
        label: "Read the programme",
        human: { total: 2, unique: 1 },
        machine: { total: 1, unique: 1 },
      },
      {
        index: 1,
        url: "https://uni.example/programme",
        label: "Programme banner",
        human: { total: 1, unique: 1 },
        machine: { total: 0, unique: 0 },
      },
      {
        index: 2,
        url: "https://uni.example/apply?x=1&y=2",
        label: "Apply & join",
        human: { total: 1, unique: 1 },
        machine: { total: 1, unique: 1 },
      },
    ],
  });

  const page = await (await advanced.browser.get(`/sends/${sendId}/stats`)).text();
  assert.match(page, /data-testid="link-stats"/);
  const row = (i: number) => new RegExp(`<tr data-link="${i}">([\\s\\S]*?)</tr>`).exec(page)?.[1];
  assert.match(row(0)!, /Read the programme[\s\S]*<strong>1<\/strong> unique · 2 total/);
  assert.match(row(0)!, /data-machine[^>]*>1 unique · 1 total/);
  assert.match(row(1)!, /Programme banner[\s\S]*<strong>1<\/strong> unique · 1 total/);
  assert.match(row(2)!, /Apply &amp; join/);

  for (
    const res of [
      await advanced.browser.get(`/p/link_stats/sends/${sendId}/links.csv`),
      await t.app.request(`/api/v1/link-stats/sends/${sendId}/links.csv`, {
        headers: { authorization: `Bearer ${advanced.key}` },
      }),
    ]
  ) {
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/csv/);
    assert.match(res.headers.get("content-disposition") ?? "", /attachment/);
    assert.deepEqual((await res.text()).trim().split("\r\n"), [
      "link,url,label,human_unique,human_total,machine_unique,machine_total",
      "1,https://uni.example/programme,Read the programme,1,2,1,1",
      "2,https://uni.example/programme,Programme banner,1,1,0,0",
      "3,https://uni.example/apply?x=1&y=2,Apply & join,1,1,1,1",
    ]);
  }

  // The core's own per-mailing counts are untouched by the plugin.
  const s = await advanced.api("GET", `/sends/${sendId}/stats`);
  assert.deepEqual(s.body.clicks, {
    human: { total: 4, unique: 2 },
    machine: { total: 2, unique: 1 },
  });
});

Deno.test("link_stats: a Standard tenant gets no labels, no panel, 403 from the API and CSV", async () => {
  const std = await sentMailing("links-std", "standard");
  assert.doesNotMatch(std.mails.get("anna")!.html, /data-skicka-link/, "its hook never ran");
  const api = await std.api("GET", `/link-stats/sends/${std.sendId}`);
  assert.equal(api.status, 403);
  assert.equal(api.body.error.code, "plugin_not_enabled");
  const page = await std.browser.get(`/sends/${std.sendId}/stats`);
  assert.equal(page.status, 200);
  assert.doesNotMatch(await page.text(), /data-testid="link-stats"/);
  assert.equal((await std.browser.get(`/p/link_stats/sends/${std.sendId}/links.csv`)).status, 403);
  // Another Advanced tenant cannot read the first one's send.
  const other = apiClient(t, (await seedTenant(t, { slug: "links-other", tier: "advanced" })).key);
  assert.equal((await other("GET", `/link-stats/sends/${advanced.sendId}`)).status, 404);
  assert.equal((await other("GET", `/link-stats/sends/not-a-uuid`)).status, 404);
});

Deno.test("labelLinks() keeps the core's link positions and cannot inject markup or merge tags", () => {
  const html = `<a href="https://a.example/">A &quot;quoted&quot; <b>'link'</b></a>
<a href="https://b.example/" data-skicka-notrack>kept</a>
<a href='https://c.example/'>Hi {{firstname}} data-skicka-notrack href='https://evil.example/'</a>
<a href="https://d.example/" data-skicka-link="given">given</a>
<a href="https://e.example/"><img src="x.png"></a>`;
  const out = labelLinks(html);
  assert.deepEqual(prepareTracking(out).links, prepareTracking(html).links);
  assert.match(out, /data-skicka-link="A &quot;quoted&quot; &#39;link&#39;"/);
  assert.match(out, /data-skicka-link="Hi … data skicka notrack href=&#39;https:\/\/evil/);
  assert.equal(out.match(/data-skicka-link=/g)?.length, 3, "a given label is kept, no text none");
  assert.equal(linkLabel(`${"x".repeat(150)}`).length, 100);
});
