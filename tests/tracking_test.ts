// Open and click tracking end to end: mass mail rendered through the send worker into the capture
// mailbox carries List-Unsubscribe, Feedback-ID, a VERP return path, tracked links and a pixel;
// the public endpoints record opens and clicks (batched), humans and machines counted apart.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { sql } from "kysely";
import { simpleParser } from "mailparser";
import { seedTenant, testApp } from "./helpers/app.ts";
import { createPerson } from "../core/people/persons.ts";
import { createSend, expandSend, getSend } from "../core/send/queue.ts";
import { SendWorker } from "../core/send/worker.ts";
import { captureTransport } from "../core/send/transport.ts";
import { RenderPool } from "../core/send/render_pool.ts";
import { TokenSigner } from "../core/feedback/tokens.ts";
import { stopTracking, trackingRecorder } from "../core/feedback/events.ts";
import type { SendKind } from "../core/db/schema.ts";

const t = await testApp({
  env: { BOUNCE_DOMAIN: "bounces.skicka.test", TRACKING_MACHINE_NETWORKS: "198.51.100.0/24" },
});
const signer = new TokenSigner(t.deps.secret);
const { tenant } = await seedTenant(t, { slug: "tracking-org" });
const tid = tenant.id;
const URLS = [
  "https://uni.example/news?a=1&b=2",
  "https://uni.example/events",
  "http://shop.uni.example/",
];
const content = {
  from: { name: "Alumni Office", address: "alumni@uni.example" },
  subject: "Hej {{firstname}}",
  html: `<html><body><p>Hej {{firstname}}</p>
<a href="https://uni.example/news?a=1&amp;b=2">News</a> <a href="${URLS[1]}">Events</a>
<a href="${URLS[2]}">Shop</a> <a href="https://secret.example/" data-skicka-notrack>No</a>
<a href="mailto:alumni@uni.example">Mail</a> <a href="{{unsubscribe_url}}">Unsubscribe</a>
</body></html>`,
  text: "Hej {{firstname}}",
};
const THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0";
const PERSON_IP = { remoteAddr: { hostname: "203.0.113.77" } };

async function people(n: number, prefix: string) {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = await createPerson(t.deps, tid, {
      first_name: `${prefix}${i}`,
      addresses: [{ address: `${prefix}${i}@ext${i}.example` }],
    }, "test");
    ids.push(p.id);
  }
  return ids;
}

/** Queues a send and delivers it to the capture mailbox; returns the parsed mail per address. */
async function deliver(
  kind: SendKind,
  audience: Record<string, unknown>,
  opts: { pool?: RenderPool; content?: typeof content & { tracking?: boolean } } = {},
) {
  await sql`update sends set status = 'cancelled' where status in ('sending', 'paused')`
    .execute(t.deps.db);
  const s = await createSend(
    t.deps,
    tid,
    { kind, content: opts.content ?? content, audience },
    "t",
  );
  await expandSend(t.deps, tid, s.id, "test");
  const worker = new SendWorker(t.deps, captureTransport(t.deps), {
    batchSize: 50,
    renderPool: opts.pool,
  });
  while (await worker.runOnce() > 0);
  const rows = await t.deps.db.selectFrom("captured_mail")
    .select(["queue_id", "mail_from", "rcpt_to", "raw"])
    .where("tenant_id", "=", tid).where("send_id", "=", s.id).execute();
  const mails = new Map<string, Mail>();
  for (const r of rows) {
    const parsed = await simpleParser(Buffer.from(r.raw));
    const html = String(parsed.html);
    mails.set(r.rcpt_to, {
      queueId: r.queue_id!,
      mailFrom: r.mail_from,
      header: (name: string) => {
        const line = parsed.headerLines.find((h) => h.key === name.toLowerCase())?.line ?? "";
        return line.slice(line.indexOf(":") + 1).replace(/\r?\n\s+/g, " ").trim();
      },
      html,
      clicks: [...html.matchAll(/href="http:\/\/skicka\.test(\/t\/c\/[\w-]+)"/g)].map((m) => m[1]!),
      pixel: /<img src="http:\/\/skicka\.test(\/t\/o\/[\w-]+\.gif)"/.exec(html)?.[1],
    });
  }
  return { sendId: s.id, mails };
}

interface Mail {
  queueId: string;
  mailFrom: string;
  header(name: string): string;
  html: string;
  clicks: string[];
  pixel?: string;
}

function get(
  path: string,
  ua: string | null = THUNDERBIRD,
  env: unknown = PERSON_IP,
  method = "GET",
) {
  const headers: Record<string, string> = ua ? { "user-agent": ua } : {};
  return t.app.request(path, { method, headers, redirect: "manual" }, env as object);
}

async function counters(sendId: string) {
  await trackingRecorder(t.deps).flush();
  return await t.deps.db.selectFrom("sends")
    .select(["opens", "clicks", "unique_opens", "unique_clicks", "machine_opens", "machine_clicks"])
    .where("tenant_id", "=", tid).where("id", "=", sendId).executeTakeFirstOrThrow();
}

const HOUR = 3600_000;
const massIds = await people(3, "mass");
const mass = await deliver("mass", { persons: massIds });

Deno.test("mass mail carries List-Unsubscribe(+Post), Feedback-ID, VERP, tracked links and pixel", () => {
  assert.equal(mass.mails.size, 3);
  for (const [rcpt, m] of mass.mails) {
    const ref = { tenantId: tid, queueId: m.queueId };
    // The envelope sender is the VERP address and parses back to the queue row.
    assert.match(m.mailFrom, /^bounce\+[\w-]+@bounces\.skicka\.test$/);
    assert.deepEqual(signer.parseBounceAddress(m.mailFrom), ref, rcpt);
    const lu =
      /^<http:\/\/skicka\.test\/u\/([\w-]+)>, <mailto:unsubscribe\+([\w-]+)@bounces\.skicka\.test>$/
        .exec(m.header("List-Unsubscribe"));
    assert.ok(lu, m.header("List-Unsubscribe"));
    assert.deepEqual(signer.verifyMessage("unsubscribe", lu[1]!), ref);
    assert.equal(m.header("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
    assert.equal(m.header("Feedback-ID"), `${mass.sendId}:${tid}:mass:skicka`);
    assert.equal(m.header("Message-ID"), `<${m.queueId}@uni.example>`);
    assert.equal(m.clicks.length, 3, "three tracked links");
    assert.deepEqual(
      m.clicks.map((c) => signer.verifyClick(c.slice(5))),
      [0, 1, 2].map((link) => ({ ...ref, link })),
    );
    assert.deepEqual(signer.verifyMessage("open", m.pixel!.slice(5, -4)), ref);
    // Not tracked: marked, mailto and the unsubscribe link (merged for the recipient).
    assert.ok(m.html.includes('href="https://secret.example/"'));
    assert.ok(m.html.includes('href="mailto:alumni@uni.example"'));
    assert.ok(m.html.includes(`href="http://skicka.test/u/${lu[1]}"`));
  }
});

Deno.test("opens and clicks are recorded after a flush, with counts on the send; click goes to the URL", async () => {
  const m = mass.mails.get("mass0@ext0.example")!;
  t.advance(HOUR);
  const pixel = await get(m.pixel!);
  assert.equal(pixel.status, 200);
  assert.equal(pixel.headers.get("content-type"), "image/gif");
  assert.match(pixel.headers.get("cache-control")!, /no-store/);
  assert.equal((await pixel.arrayBuffer()).byteLength, 43);
  for (const [i, url] of URLS.entries()) {
    t.advance(10_000); // a person reads between clicks (three within 5 s is a scanner's burst)
    const res = await get(m.clicks[i]!);
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), url);
  }
  await get(m.pixel!); // a second open
  assert.deepEqual(await counters(mass.sendId), {
    opens: 2,
    clicks: 3,
    unique_opens: 1,
    unique_clicks: 1,
    machine_opens: 0,
    machine_clicks: 0,
  });
  const events = await t.deps.db.selectFrom("tracking_events").selectAll()
    .where("tenant_id", "=", tid).where("queue_id", "=", m.queueId).orderBy("id").execute();
  assert.deepEqual(events.map((e) => [e.kind, e.link, e.url, e.machine]), [
    ["open", null, null, false],
    ["click", 0, URLS[0], false],
    ["click", 1, URLS[1], false],
    ["click", 2, URLS[2], false],
    ["open", null, null, false],
  ]);
  assert.equal(events[0]!.send_id, mass.sendId);
  assert.equal(events[0]!.person_id, massIds[0]);
  assert.equal(events[0]!.ip, "203.0.113.0/24", "only the /24 is stored");
  assert.equal(events[0]!.user_agent, THUNDERBIRD);
});

Deno.test("forged or tampered tokens get a plain 404, never a redirect; the pixel still answers", async () => {
  const m = mass.mails.get("mass1@ext1.example")!;
  const before = await t.deps.db.selectFrom("tracking_events").select(sql<number>`count(*)`.as("n"))
    .executeTakeFirstOrThrow();
  const token = m.clicks[0]!.slice(5);
  const flipped = token.slice(0, 10) + (token[10] === "A" ? "B" : "A") + token.slice(11);
  const ref = { tenantId: tid, queueId: m.queueId };
  const wrongKey = new TokenSigner("another-secret-another-secret-00").click({ ...ref, link: 0 });
  // Correctly signed, but the mailing has no link 3: no URL outside the mailing is reachable.
  const beyond = signer.click({ ...ref, link: 3 });
  const otherTenant = signer.click({ tenantId: crypto.randomUUID(), queueId: m.queueId, link: 0 });
  const openAsClick = signer.message("open", ref);
  for (
    const path of [flipped, wrongKey, beyond, otherTenant, openAsClick, "x", "%0d%0aLocation:x"]
  ) {
    const res = await get(`/t/c/${path}`);
    assert.equal(res.status, 404, path);
    assert.equal(res.headers.get("location"), null);
    assert.match(await res.text(), /not valid/);
  }
  for (const bad of ["/t/o/garbage.gif", `/t/o/${signer.message("view", ref)}.gif`, "/t/o/x"]) {
    const res = await get(bad);
    assert.equal(res.status, 200);
    assert.equal((await res.arrayBuffer()).byteLength, 43);
  }
  await trackingRecorder(t.deps).flush();
  const after = await t.deps.db.selectFrom("tracking_events").select(sql<number>`count(*)`.as("n"))
    .executeTakeFirstOrThrow();
  assert.equal(Number(after.n), Number(before.n), "nothing recorded");
});

Deno.test("machine opens and clicks (Apple proxy, scanners, timing) are kept apart in the counts", async () => {
  const ids = await people(4, "mach");
  const s = await deliver("mass", { persons: ids });
  const [a, b, c, d] = ids.map((_, i) => s.mails.get(`mach${i}@ext${i}.example`)!);
  // A scanner clicks every link a second after delivery (before any open): all machine.
  for (const link of a!.clicks) assert.equal((await get(link)).status, 302);
  // Apple Mail Privacy Protection prefetches the pixel.
  await get(b!.pixel!, "Mozilla/5.0", { remoteAddr: { hostname: "17.58.1.2" } });
  // A HEAD from a link checker, and a click from a configured scanner network.
  await get(c!.clicks[0]!, THUNDERBIRD, PERSON_IP, "HEAD");
  t.advance(HOUR);
  await get(c!.clicks[1]!, THUNDERBIRD, { remoteAddr: { hostname: "198.51.100.4" } });
  // The person behind b opens and clicks an hour later: human.
  await get(b!.pixel!);
  await get(b!.clicks[2]!);
  // A scanner that fetches every link of d within a second, an hour after delivery: the third
  // link makes it a burst.
  await get(d!.pixel!);
  for (const link of d!.clicks) await get(link);
  assert.deepEqual(await counters(s.sendId), {
    opens: 2,
    clicks: 3,
    unique_opens: 2,
    unique_clicks: 2,
    machine_opens: 1,
    machine_clicks: 6,
  });
  const reasons = await t.deps.db.selectFrom("tracking_events")
    .select(["queue_id", "kind", "machine_reason"]).where("tenant_id", "=", tid)
    .where("send_id", "=", s.sendId).where("machine", "=", true).orderBy("id").execute();
  assert.deepEqual(reasons.map((r) => [r.queue_id, r.kind, r.machine_reason]), [
    [a!.queueId, "click", "click_too_soon"],
    [a!.queueId, "click", "click_too_soon"],
    [a!.queueId, "click", "click_too_soon"],
    [b!.queueId, "open", "apple_privacy_proxy"],
    [c!.queueId, "click", "head_request"],
    [c!.queueId, "click", "machine_network"],
    [d!.queueId, "click", "click_burst"],
  ]);
});

Deno.test("transactional mail is not tracked unless its content opts in; it still gets VERP", async () => {
  const plain = await deliver("transactional", { addresses: ["tx@ext.example"] });
  const m = plain.mails.get("tx@ext.example")!;
  assert.equal(m.clicks.length, 0);
  assert.equal(m.pixel, undefined);
  assert.ok(!m.html.includes("/t/"));
  assert.ok(m.html.includes('href="https://uni.example/news?a=1&amp;b=2"'));
  assert.equal(m.header("List-Unsubscribe"), "");
  assert.equal(m.header("Feedback-ID"), `${plain.sendId}:${tid}:transactional:skicka`);
  assert.deepEqual(signer.parseBounceAddress(m.mailFrom), { tenantId: tid, queueId: m.queueId });

  const opted = await deliver("transactional", { addresses: ["tx2@ext.example"] }, {
    content: { ...content, tracking: true },
  });
  const o = opted.mails.get("tx2@ext.example")!;
  assert.equal(o.clicks.length, 3);
  assert.ok(o.pixel);
});

Deno.test("render workers sign the same tracking (pool path)", async () => {
  const pool = new RenderPool(1);
  try {
    const ids = await people(2, "pool");
    const s = await deliver("mass", { persons: ids }, { pool });
    for (const m of s.mails.values()) {
      const ref = { tenantId: tid, queueId: m.queueId };
      assert.deepEqual(signer.parseBounceAddress(m.mailFrom), ref);
      assert.equal(m.clicks.length, 3);
      assert.deepEqual(signer.verifyClick(m.clicks[2]!.slice(5)), { ...ref, link: 2 });
      assert.match(m.header("List-Unsubscribe"), /^<http:\/\/skicka\.test\/u\//);
    }
    const send = await getSend(t.deps, tid, s.sendId);
    assert.equal(send.sent, 2);
  } finally {
    pool.close();
  }
});

Deno.test("stopping writes buffered events (the app's stop path)", async () => {
  const m = mass.mails.get("mass2@ext2.example")!;
  await get(m.pixel!);
  assert.equal(trackingRecorder(t.deps).pending, 1);
  await stopTracking(t.deps);
  const n = await t.deps.db.selectFrom("tracking_events").select(sql<number>`count(*)`.as("n"))
    .where("tenant_id", "=", tid).where("queue_id", "=", m.queueId).executeTakeFirstOrThrow();
  assert.equal(Number(n.n), 1);
});

Deno.test("close", async () => {
  await stopTracking(t.deps);
  await t.close();
});
