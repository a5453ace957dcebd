// The webhooks plugin end to end: tier gating (an add-on), the endpoint API (secret shown once
// and stored encrypted, field errors, test event), and events from real sends — a mailing and a
// transactional message delivered to a test SMTP peer, a 550 rejection, a tracked open and click
// through the public endpoints, a one-click unsubscribe and a complaint — reaching a local HTTP
// receiver as signed JSON.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { sql } from "kysely";
import { simpleParser } from "mailparser";
import { apiClient, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { startSmtpServer } from "../../core/smtp/_test_servers.ts";
import { createPerson } from "../../core/people/persons.ts";
import { createSend, expandSend } from "../../core/send/queue.ts";
import { SendWorker } from "../../core/send/worker.ts";
import { transportFor } from "../../core/send/transport.ts";
import { outcomeListeners } from "../../core/feedback/outcomes.ts";
import { trackingRecorder } from "../../core/feedback/events.ts";
import { recordBounces } from "../../core/feedback/bounces.ts";
import { emitMailEvents } from "../../core/feedback/mail_events.ts";
import { jsonb } from "../../core/db/json.ts";
import { uuidv7 } from "../../core/db/ids.ts";
import type { MailEvent } from "../../core/plugin.ts";
import { webhooksPlugin } from "./mod.ts";
import { WebhookDispatcher } from "./dispatcher.ts";
import { verifySignature } from "./signature.ts";
import { checkUrl } from "./store.ts";
import { startReceiver } from "./_test_receiver.ts";
import { sendMailing, type SentMessage } from "../../tests/helpers/bounces.ts";
import { startInbound } from "../../core/feedback/inbound.ts";
import { TokenSigner } from "../../core/feedback/tokens.ts";

const smtp = await startSmtpServer({
  onRcptTo(address, _session, callback) {
    if (address.address.startsWith("later@")) {
      const e = Object.assign(new Error("4.2.2 Mailbox full, try later"), { responseCode: 452 });
      return callback(e);
    }
    if (address.address.startsWith("nobody@")) {
      const e = Object.assign(new Error("5.1.1 <nobody@ext.example>: User unknown"), {
        responseCode: 550,
      });
      return callback(e);
    }
    callback();
  },
});
const t = await testApp({
  plugins: [webhooksPlugin],
  env: {
    WEBHOOK_ALLOW_PRIVATE: "true",
    WEBHOOK_ALLOW_HTTP: "true",
    DELIVERY: `smtp://127.0.0.1:${smtp.port}`,
    SEND_RENDER_WORKERS: "0",
  },
});
const org = await seedTenant(t, { addons: ["webhooks"], slug: "wh-org" });
/** Events as a recorder hands them on: inside the transaction that records them. */
const emit = (events: MailEvent[]) =>
  t.deps.db.transaction().execute((trx) => emitMailEvents(trx, t.deps, events));
const api = apiClient(t, org.key);
const del = (id: string) =>
  t.app.request(`/api/v1/webhooks/${id}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${org.key}` },
  });

Deno.test("tier gating: only tenants with the add-on get the API, the page and the events", async () => {
  const advanced = await seedTenant(t, { tier: "advanced", slug: "wh-advanced" });
  const r = await apiClient(t, advanced.key)("GET", "/webhooks");
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, "plugin_not_enabled");
  assert.equal((await api("GET", "/webhooks")).status, 200);
  // Scope: managing webhooks needs the admin scope.
  const writer = await seedTenant(t, {
    addons: ["webhooks"],
    scopes: ["read", "write"],
    slug: "wh-writer",
  });
  assert.equal((await apiClient(t, writer.key)("GET", "/webhooks")).status, 403);
  // A tenant without the add-on gets no outbox rows, even with an endpoint row of its own.
  await sql`insert into webhook_endpoints (tenant_id, id, url, events, secret_sealed, created_by)
    values (${advanced.tenant.id}, ${uuidv7()}, 'http://127.0.0.1:9/', ${["delivered"]},
      'v1.x.y', 'test')`.execute(t.deps.db);
  await emit([{
    tenantId: advanced.tenant.id,
    type: "delivered",
    at: t.deps.clock(),
    sendId: uuidv7(),
    queueId: uuidv7(),
    recipient: "a@example.org",
    details: {},
  }]);
  const n = await sql<{ n: number }>`select count(*)::int as n from webhook_events
    where tenant_id = ${advanced.tenant.id}`.execute(t.deps.db);
  assert.equal(Number(n.rows[0]!.n), 0);
});

Deno.test("the secret is answered once and stored encrypted; field errors name the field", async () => {
  const r = await api("POST", "/webhooks", {
    url: "http://127.0.0.1:9/hook",
    events: ["bounced", "delivered", "bounced"],
    description: "CRM",
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.match(r.body.secret, /^whsec_[\w-]{43}$/);
  assert.deepEqual(r.body.events, ["delivered", "bounced"]);
  const got = await api("GET", `/webhooks/${r.body.id}`);
  assert.equal(got.body.secret, undefined);
  const row = await sql<{ secret_sealed: string }>`select secret_sealed from webhook_endpoints
    where tenant_id = ${org.tenant.id} and id = ${r.body.id}`.execute(t.deps.db);
  assert.ok(!row.rows[0]!.secret_sealed.includes(r.body.secret.slice(6)));
  const rotated = await api("POST", `/webhooks/${r.body.id}/secret`);
  assert.notEqual(rotated.body.secret, r.body.secret);

  const bad = await api("POST", "/webhooks", { url: "ftp://x.example/", events: ["nope"] });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body.error.details.map((d: { path: string }) => d.path).sort(), [
    "events.0",
  ]);
  const scheme = await api("POST", "/webhooks", { url: "ftp://x.example/", events: ["sent"] });
  assert.equal(scheme.status, 400);
  assert.equal(scheme.body.error.details[0].path, "url");
  assert.equal(scheme.body.error.details[0].code, "scheme");
  const patched = await api("PATCH", `/webhooks/${r.body.id}`, { enabled: false });
  assert.equal(patched.body.enabled, false);
  assert.equal((await del(r.body.id)).status, 204);
  assert.equal((await api("GET", `/webhooks/${r.body.id}`)).status, 404);
  const other = await seedTenant(t, { addons: ["webhooks"], slug: "wh-other" });
  assert.equal((await apiClient(t, other.key)("GET", `/webhooks/${patched.body.id}`)).status, 404);
});

Deno.test("without the operator's allowance, private targets are refused when saving", async () => {
  const config = { ...t.deps.config, webhookAllowPrivate: false, webhookAllowHttp: false };
  for (const url of ["https://127.0.0.1/", "https://[::ffff:127.0.0.1]/", "https://2130706433/"]) {
    await assert.rejects(
      checkUrl({ config }, url, { locale: "en" }),
      (e: { details: { path: string; code: string; message: string }[] }) => {
        assert.equal(e.details[0]!.path, "url");
        assert.equal(e.details[0]!.code, "private_address");
        assert.match(e.details[0]!.message, /private, loopback/);
        return true;
      },
    );
  }
});

Deno.test("send test event: signed, answered at once, in the delivery log", async () => {
  const rx = startReceiver();
  try {
    const e = (await api("POST", "/webhooks", { url: rx.url, events: ["opened"] })).body;
    rx.script.push(418);
    const failed = await api("POST", `/webhooks/${e.id}/test`);
    assert.equal(failed.status, 200);
    assert.deepEqual([failed.body.ok, failed.body.status_code], [false, 418]);
    const ok = await api("POST", `/webhooks/${e.id}/test`);
    assert.deepEqual([ok.body.ok, ok.body.status_code, ok.body.event_types], [true, 200, [
      "test",
    ]]);
    const body = rx.received[1]!;
    assert.equal(body.json.events[0].type, "test");
    const v = await verifySignature(e.secret, body.headers.get("skicka-signature"), body.body, {
      now: t.deps.clock(),
    });
    assert.equal(v.ok, true);
    const log = await api("GET", `/webhooks/${e.id}/deliveries`);
    assert.equal(log.body.items.length, 2);
    await del(e.id);
  } finally {
    await rx.close();
  }
});

/** Delivers everything queued through the real SMTP transport, with the app's listeners. */
async function runWorker() {
  const worker = new SendWorker(t.deps, await transportFor(t.deps), {
    batchSize: 50,
    onOutcomes: outcomeListeners(t.deps),
  });
  while (await worker.runOnce() > 0) { /* until the queue is empty */ }
}

Deno.test("events of real sends reach the receiver: all eight types, with ids, tags and details", async () => {
  const rx = startReceiver();
  try {
    const ep = (await api("POST", "/webhooks", {
      url: rx.url,
      events: [
        "sent",
        "delivered",
        "deferred",
        "bounced",
        "opened",
        "clicked",
        "unsubscribed",
        "complained",
      ],
    })).body;
    const persons = [];
    for (const address of ["ada@ext.example", "nobody@ext.example", "later@ext.example"]) {
      persons.push(
        (await createPerson(t.deps, org.tenant.id, {
          first_name: address.split("@")[0]!,
          addresses: [{ address }],
        }, "test")).id,
      );
    }
    const mass = await createSend(t.deps, org.tenant.id, {
      kind: "mass",
      content: {
        from: { name: "Alumni", address: "alumni@uni.example" },
        subject: "News",
        html: '<html><body><p>Hej</p><a href="https://uni.example/news">News</a></body></html>',
        text: "Hej",
      },
      audience: { persons },
    }, "test");
    await expandSend(t.deps, org.tenant.id, mass.id, "test");
    // A transactional message whose queue row carries tags and metadata.
    const tx = await createSend(t.deps, org.tenant.id, {
      kind: "transactional",
      content: {
        from: { name: "Shop", address: "shop@uni.example" },
        subject: "Order",
        text: "Thanks",
      },
      audience: { addresses: ["buyer@ext.example"] },
    }, "test");
    await expandSend(t.deps, org.tenant.id, tx.id, "test");
    await sql`update send_queue set data = ${jsonb({ tags: ["order"], metadata: { order: 42 } })}
      where tenant_id = ${org.tenant.id} and send_id = ${tx.id}`.execute(t.deps.db);
    await runWorker();
    assert.equal(smtp.received.length, 2, "ada's and the buyer's; later@ is deferred");

    // The recipient opens and clicks (a minute later: a person, not a scanner).
    t.advance(60_000);
    const mail = await simpleParser(
      Buffer.from(smtp.received.find((m) => m.to.includes("ada@ext.example"))!.body),
    );
    const html = String(mail.html);
    const pixel = /src="http:\/\/skicka\.test(\/t\/o\/[\w-]+\.gif)"/.exec(html)![1]!;
    const click = /href="http:\/\/skicka\.test(\/t\/c\/[\w-]+)"/.exec(html)![1]!;
    const ua = { "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Thunderbird/128.0" };
    const env = { remoteAddr: { hostname: "203.0.113.77" } };
    assert.equal((await t.app.request(pixel, { headers: ua }, env)).status, 200);
    const redirect = await t.app.request(click, { headers: ua, redirect: "manual" }, env);
    assert.equal(redirect.status, 302);
    await trackingRecorder(t.deps).flush();
    // One-click unsubscribe from the List-Unsubscribe header, and a spam complaint.
    const header = mail.headerLines.find((h) => h.key === "list-unsubscribe")!.line;
    const unsub = /<http:\/\/skicka\.test(\/u\/[\w-]+)>/.exec(header)![1]!;
    assert.equal((await t.app.request(unsub, { method: "POST" })).status, 200);
    const ada = await sql<{ id: string }>`select id from send_queue
      where tenant_id = ${org.tenant.id} and address = 'ada@ext.example'`.execute(t.deps.db);
    await recordBounces(t.deps, [{
      tenantId: org.tenant.id,
      queueId: ada.rows[0]!.id,
      address: "ada@ext.example",
      kind: "complaint",
      reason: "abuse",
      source: "arf",
    }]);

    await new WebhookDispatcher(t.deps).runOnce();
    const got = rx.received.flatMap((r) => r.json.events);
    const of = (rcpt: string) => got.filter((e) => e.recipient === rcpt);
    const types = (rcpt: string) => of(rcpt).map((e) => e.type).sort();
    assert.deepEqual(types("ada@ext.example"), [
      "clicked",
      "complained",
      "delivered",
      "opened",
      "sent",
      "unsubscribed",
    ]);
    assert.deepEqual(types("nobody@ext.example"), ["bounced"]);
    assert.deepEqual(types("later@ext.example"), ["deferred"]);
    assert.deepEqual(types("buyer@ext.example"), ["delivered", "sent"]);

    const ev = (rcpt: string, type: string) => of(rcpt).find((e) => e.type === type);
    assert.match(ev("later@ext.example", "deferred").details.reply, /^452/);
    const clicked = ev("ada@ext.example", "clicked");
    assert.equal(clicked.details.url, "https://uni.example/news");
    assert.equal(clicked.details.machine, false);
    assert.equal(clicked.message_id, ada.rows[0]!.id);
    assert.equal(clicked.send_id, mass.id);
    assert.equal(clicked.stream, "mass");
    assert.equal(ev("ada@ext.example", "opened").details.machine, false);
    assert.match(ev("ada@ext.example", "delivered").details.reply, /^250/);
    assert.equal(ev("ada@ext.example", "unsubscribed").details.source, "one_click");
    const bounced = ev("nobody@ext.example", "bounced");
    assert.equal(bounced.details.kind, "hard");
    assert.equal(bounced.details.status, "5.1.1");
    const buyer = ev("buyer@ext.example", "delivered");
    assert.equal(buyer.stream, "transactional");
    assert.deepEqual(buyer.tags, ["order"]);
    assert.deepEqual(buyer.metadata, { order: 42 });
    // Every request verifies with the endpoint's secret.
    for (const r of rx.received) {
      const v = await verifySignature(ep.secret, r.headers.get("skicka-signature"), r.body, {
        now: t.deps.clock(),
      });
      assert.equal(v.ok, true);
    }
  } finally {
    await rx.close();
  }
});

/** The committed bounce fixtures, rewritten to be about message m (tokens, Message-ID, address). */
async function fixtureFor(name: string, fixtureRcpt: string, m: SentMessage): Promise<string> {
  const ref = { tenantId: org.tenant.id, queueId: m.queueId };
  const file = new URL(`../../tests/fixtures/bounces/${name}`, import.meta.url);
  return (await Deno.readTextFile(file))
    .replaceAll(FIXTURE.bounce, signer.message("bounce", ref))
    .replaceAll(FIXTURE.unsubscribe, signer.message("unsubscribe", ref))
    .replaceAll(FIXTURE.messageId, m.messageId)
    .replaceAll(fixtureRcpt, m.address);
}
// What the committed fixtures were written for (see core/feedback/dsn_test.ts).
const FIXTURE = {
  bounce: "AZAAAAAAcACAAAAAAAAAAQGQAAAAAHAAgAAAAAAAAKoOrXqC_HlBhA",
  unsubscribe: "AZAAAAAAcACAAAAAAAAAAQGQAAAAAHAAgAAAAAAAAKpuhWVL7U_lcOnARMI",
  messageId: "<01900000-0000-7000-8000-0000000000aa@lu.example>",
};
const signer = new TokenSigner(t.deps.secret);

/** Hands a message to the inbound server over SMTP (swaks), as a remote server would. */
async function swaks(port: number, to: string, data: string) {
  const file = await Deno.makeTempFile({ suffix: ".eml" });
  await Deno.writeTextFile(file, data);
  try {
    const out = await new Deno.Command("swaks", {
      args: [
        "--server",
        "127.0.0.1",
        "--port",
        String(port),
        "--from",
        "<>",
        "--to",
        to,
        "--data",
        `@${file}`,
        "--timeout",
        "20",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stdout));
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("bounce reports and complaints arriving by mail (inbound SMTP) become events", async () => {
  const rx = startReceiver();
  const inbound = await startInbound(t.deps, { port: 0, host: "127.0.0.1" });
  try {
    const ep = (await api("POST", "/webhooks", {
      url: rx.url,
      events: ["bounced", "complained", "unsubscribed"],
    })).body;
    const [anna, eva] = await sendMailing(t, org.tenant.id, [
      "anna@example.net",
      "eva@yahoo.example",
    ]);
    const verp = (m: SentMessage) =>
      signer.bounceAddress(
        { tenantId: org.tenant.id, queueId: m.queueId },
        t.deps.config.bounceDomain,
      );
    await swaks(
      inbound.port,
      verp(anna!),
      await fixtureFor("01_postfix_user_unknown.eml", "anna@example.net", anna!),
    );
    await swaks(
      inbound.port,
      verp(eva!),
      await fixtureFor("32_arf_yahoo_abuse.eml", "eva@yahoo.example", eva!),
    );
    await new WebhookDispatcher(t.deps).runOnce();
    const got = rx.received.flatMap((r) => r.json.events)
      .map((e) => [e.recipient, e.type, e.message_id, e.details.kind ?? e.details.source]).sort();
    assert.deepEqual(got, [
      ["anna@example.net", "bounced", anna!.queueId, "hard"],
      ["eva@yahoo.example", "complained", eva!.queueId, "complaint"],
      ["eva@yahoo.example", "unsubscribed", eva!.queueId, "complaint"],
    ]);
    await del(ep.id);
  } finally {
    await inbound.close();
    await rx.close();
  }
});

Deno.test("a disabled endpoint gets nothing; an endpoint gets only the types it chose", async () => {
  const rx = startReceiver();
  try {
    const only = (await api("POST", "/webhooks", { url: rx.url, events: ["bounced"] })).body;
    const off = (await api("POST", "/webhooks", { url: rx.url, events: ["delivered"] })).body;
    await api("PATCH", `/webhooks/${off.id}`, { enabled: false });
    const base = {
      tenantId: org.tenant.id,
      at: t.deps.clock(),
      sendId: uuidv7(),
      queueId: uuidv7(),
      recipient: "x@example.org",
      details: {},
    };
    await emit([
      { ...base, type: "delivered" },
      { ...base, type: "bounced" },
    ]);
    const rows = await sql<{ endpoint_id: string; type: string }>`select endpoint_id, type
      from webhook_events where tenant_id = ${org.tenant.id}
        and endpoint_id in (${only.id}, ${off.id})`.execute(t.deps.db);
    assert.deepEqual(rows.rows, [{ endpoint_id: only.id, type: "bounced" }]);
  } finally {
    await rx.close();
  }
});

Deno.test("events queued before the operator took the add-on away are not sent", async () => {
  const rx = startReceiver();
  try {
    const lapsed = await seedTenant(t, { addons: ["webhooks"], slug: "wh-lapsed" });
    const ep = (await apiClient(t, lapsed.key)("POST", "/webhooks", {
      url: rx.url,
      events: ["delivered"],
    })).body;
    await emit([{
      tenantId: lapsed.tenant.id,
      type: "delivered",
      at: t.deps.clock(),
      sendId: uuidv7(),
      queueId: uuidv7(),
      recipient: "x@example.org",
      details: {},
    }]);
    await sql`update tenants set addons = '{}', updated_at = now() + interval '1 second'
      where id = ${lapsed.tenant.id}`.execute(t.deps.db);
    await new WebhookDispatcher(t.deps).runOnce();
    assert.equal(rx.received.length, 0);
    const row = await sql<{ status: string; last_error: string }>`select status, last_error
      from webhook_events where tenant_id = ${lapsed.tenant.id} and endpoint_id = ${ep.id}`
      .execute(t.deps.db);
    assert.deepEqual(row.rows, [{
      status: "failed",
      last_error: "the tenant no longer has the webhooks add-on",
    }]);
  } finally {
    await rx.close();
  }
});

Deno.test("cleanup", async () => {
  await t.close();
  await smtp.close();
});
