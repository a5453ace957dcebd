// POST /api/v1/messages and friends as an integrator uses them: field-level validation, header
// injection refused, idempotent retries, batches with partial failure, 202 only after commit,
// add-on and scope gating, the rate limit, and a message's history after real delivery.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { dkimVerify } from "mailauth";
import { simpleParser } from "mailparser";
import { sql } from "kysely";
import { apiClient, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { createSender, verifySender } from "../../core/mailings/senders.ts";
import { generateTenantDkimKey } from "../../core/send/dkim_keys.ts";
import { SendWorker } from "../../core/send/worker.ts";
import { RelayTransport } from "../../core/send/smtp_transport.ts";
import { startSmtpServer } from "../../core/smtp/_test_servers.ts";
import { outcomeListeners } from "../../core/feedback/outcomes.ts";
import { stopTracking } from "../../core/feedback/events.ts";
import { transactionalPlugin } from "./mod.ts";

// 1 request/s with bursts of 20 per tenant: only the rate-limit test gets near it.
const t = await testApp({
  plugins: [transactionalPlugin],
  env: { API_SEND_RATE: "1/20", ATTACHMENTS_MAX_MB: "1" },
});
Deno.test.afterAll(async () => {
  await stopTracking(t.deps);
  await t.close();
});

async function org(slug: string, opts: { addon?: boolean; scopes?: ("read" | "send")[] } = {}) {
  const s = await seedTenant(t, {
    slug,
    addons: opts.addon === false ? [] : ["transactional"],
    scopes: opts.scopes ?? ["read", "send"],
  });
  const sender = await createSender(t.deps, s.tenant.id, {
    name: "Shop",
    address: "orders@shop.example",
  }, "test");
  await verifySender(t.deps, s.tenant.id, sender.id, "test");
  return { ...s, api: apiClient(t, s.key) };
}

async function post(
  key: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const res = await t.app.request(`/api/v1${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  // deno-lint-ignore no-explicit-any -- tests read response bodies field by field
  return { status: res.status, headers: res.headers, body: await res.json() as any };
}

async function queued(tenantId: string): Promise<number> {
  const r = await sql<{ n: number }>`select count(*)::int as n from send_queue
    where tenant_id = ${tenantId}`.execute(t.deps.db);
  return Number(r.rows[0]!.n);
}

const MESSAGE = {
  from: { name: "Shop", address: "orders@shop.example" },
  to: ["kim@buyer.example"],
  subject: "Order {{order}}",
  html: "<p>Thanks for order {{order}}</p>",
  data: { order: "1042" },
};

Deno.test("POST /messages: 202 with one id per recipient, the rows committed", async () => {
  const o = await org("tx-basic");
  const r = await o.api("POST", "/messages", {
    ...MESSAGE,
    to: [{ name: "Kim", address: "kim@buyer.example" }],
    cc: ["boss@buyer.example"],
    bcc: ["audit@shop.example"],
    tags: ["orders"],
    metadata: { order_id: "1042" },
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.deepEqual(r.body.recipients.map((x: { address: string }) => x.address), [
    "kim@buyer.example",
    "boss@buyer.example",
    "audit@shop.example",
  ]);
  assert.equal(r.body.id, r.body.recipients[0].id);
  assert.equal(await queued(o.tenant.id), 3);
  const s = await o.api("GET", `/messages/${r.body.id}`);
  assert.equal(s.status, 200);
  assert.equal(s.body.status, "queued");
  assert.equal(s.body.stream, "transactional");
  assert.equal(s.body.subject, "Order {{order}}");
  assert.deepEqual(s.body.tags, ["orders"]);
  assert.deepEqual(s.body.metadata, { order_id: "1042" });
  assert.deepEqual(s.body.events.map((e: { type: string }) => e.type), ["queued"]);
});

Deno.test("POST /messages: each bad field is named, and nothing is queued", async () => {
  const o = await org("tx-invalid");
  const r = await o.api("POST", "/messages", {
    from: "orders@elsewhere.example",
    to: ["ok@buyer.example", "not-an-address"],
    reply_to: "also bad",
    subject: "Hi",
    headers: {
      "X-Order": "1042",
      "X-Evil": "a\r\nBcc: victim@example.com",
      "From": "ceo@bank.example",
      "Content-Type": "text/html",
      "Bad Name": "x",
    },
    attachments: [
      { filename: "a.pdf", content_type: "application/pdf", content: "not base64!" },
      { filename: "../etc/passwd", content: "aGk=" },
    ],
    tags: ["ok", "bad tag with spaces"],
    stream: "Not A Stream",
  });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, "validation");
  const byPath = Object.fromEntries(
    r.body.error.details.map((d: { path: string; code: string }) => [d.path, d.code]),
  );
  assert.deepEqual(byPath, {
    "to.1": "missing_at",
    "reply_to": "missing_at",
    "html": "content_required",
    "stream": "invalid_stream",
    "headers.X-Evil": "header_injection",
    "headers.From": "reserved_header",
    "headers.Content-Type": "reserved_header",
    "headers.Bad Name": "invalid_header_name",
    "tags.1": "invalid_tag",
    "attachments.0.content": "invalid_base64",
    "attachments.1.filename": "invalid_filename",
    "from": "sender_unverified",
  });
  for (const d of r.body.error.details) assert.ok(d.message.length > 5, d.path);
  // Schema-level problems come back per field too.
  const s = await o.api("POST", "/messages", { to: [], subject: "", extra: 1 });
  assert.equal(s.status, 400);
  const paths = s.body.error.details.map((d: { path: string }) => d.path).sort();
  assert.ok(paths.includes("from") && paths.includes("subject"), paths.join());
  assert.equal(await queued(o.tenant.id), 0);
});

Deno.test("POST /messages: attachments are checked against ATTACHMENTS_MAX_MB and arrive intact", async () => {
  const o = await org("tx-files");
  const big = Buffer.alloc(1024 * 1024 + 1, 7).toString("base64");
  const r = await o.api("POST", "/messages", {
    ...MESSAGE,
    attachments: [{ filename: "big.bin", content: big }],
  });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body.error.details.map((d: { path: string }) => d.path), ["attachments"]);
  const ok = await o.api("POST", "/messages", {
    ...MESSAGE,
    attachments: [{
      filename: "faktura.pdf",
      content_type: "application/pdf",
      content: "JVBERi0=",
    }],
  });
  assert.equal(ok.status, 202);
});

Deno.test("Idempotency-Key: a retry returns the first answer and queues nothing twice", async () => {
  const o = await org("tx-idem");
  const key = { "idempotency-key": "order-1042-confirmation" };
  const first = await post(o.key, "/messages", MESSAGE, key);
  assert.equal(first.status, 202);
  const again = await post(o.key, "/messages", MESSAGE, key);
  assert.equal(again.status, 202);
  assert.deepEqual(again.body, first.body);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.equal(await queued(o.tenant.id), 1);
  const other = await post(o.key, "/messages", { ...MESSAGE, subject: "Other" }, key);
  assert.equal(other.status, 422);
  assert.equal(other.body.error.code, "idempotency_mismatch");
  assert.equal(await queued(o.tenant.id), 1);
  // The batch endpoint honours it the same way.
  const batch = { messages: [MESSAGE, MESSAGE] };
  const b1 = await post(o.key, "/messages/batch", batch, { "idempotency-key": "batch-7" });
  const b2 = await post(o.key, "/messages/batch", batch, { "idempotency-key": "batch-7" });
  assert.deepEqual(b2.body, b1.body);
  assert.equal(await queued(o.tenant.id), 3);
});

Deno.test("POST /messages/batch: invalid messages are reported by index, valid ones queued", async () => {
  const o = await org("tx-batch");
  const r = await o.api("POST", "/messages/batch", {
    messages: [
      MESSAGE,
      { ...MESSAGE, to: ["broken"] },
      "not an object",
      { ...MESSAGE, to: ["b@buyer.example", "c@buyer.example"], stream: "receipts" },
    ],
  });
  assert.equal(r.status, 202);
  assert.equal(r.body.accepted, 2);
  assert.equal(r.body.rejected, 2);
  assert.equal(r.body.results[0].recipients.length, 1);
  assert.deepEqual(r.body.results[1].errors.map((e: { path: string }) => e.path), ["to.0"]);
  assert.equal(r.body.results[2].errors[0].code, "invalid_message");
  assert.equal(r.body.results[3].recipients.length, 2);
  assert.equal(await queued(o.tenant.id), 3);
  const s = await o.api("GET", `/messages/${r.body.results[3].id}`);
  assert.equal(s.body.stream, "receipts");
  const tooMany = await o.api("POST", "/messages/batch", {
    messages: Array.from({ length: 501 }, () => MESSAGE),
  });
  assert.equal(tooMany.status, 400);
  assert.equal(await queued(o.tenant.id), 3);
});

Deno.test("202 only after commit: a database failure mid-request answers 500 and queues nothing", async () => {
  const o = await org("tx-dbfail");
  // The insert of the third recipient's row fails inside the transaction, after the first
  // rows were written. (Killing the connection instead, pg_terminate_backend, takes the whole
  // process down on PostgreSQL: postgres.js 3.4.9 writes to the closed socket from a
  // setImmediate — porsager/postgres#1208 — so a database failure is raised, not simulated.)
  await sql.raw(`create function tx_fail() returns trigger language plpgsql as $$
    begin
      if new.address = 'boom@buyer.example' then raise exception 'disk on fire'; end if;
      return new;
    end $$`).execute(t.deps.db);
  await sql`create trigger tx_fail before insert on send_queue for each row
    execute function tx_fail()`.execute(t.deps.db);
  try {
    const r = await post(o.key, "/messages/batch", {
      messages: [MESSAGE, { ...MESSAGE, to: ["a@buyer.example", "boom@buyer.example"] }],
    }, { "idempotency-key": "will-fail" });
    assert.equal(r.status, 500);
    assert.equal(r.body.error.code, "internal");
    assert.equal(await queued(o.tenant.id), 0, "nothing half-written");
    const single = await o.api("POST", "/messages", { ...MESSAGE, to: ["boom@buyer.example"] });
    assert.equal(single.status, 500);
    assert.equal(await queued(o.tenant.id), 0);
  } finally {
    await sql`drop trigger tx_fail on send_queue`.execute(t.deps.db);
    await sql`drop function tx_fail()`.execute(t.deps.db);
  }
  // The key of a failed request is not remembered: the retry goes through.
  const retry = await post(o.key, "/messages/batch", {
    messages: [MESSAGE, { ...MESSAGE, to: ["a@buyer.example", "boom@buyer.example"] }],
  }, { "idempotency-key": "will-fail" });
  assert.equal(retry.status, 202);
  assert.equal(await queued(o.tenant.id), 3);
});

Deno.test("gating: without the add-on 403, without the send scope 403, other tenants' ids 404", async () => {
  const without = await org("tx-noaddon", { addon: false });
  const r = await without.api("POST", "/messages", MESSAGE);
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, "plugin_not_enabled");
  const readOnly = await org("tx-readonly", { scopes: ["read"] });
  const ro = await readOnly.api("POST", "/messages", MESSAGE);
  assert.equal(ro.status, 403);
  assert.deepEqual(ro.body.error.details, { required_scope: "send" });
  const owner = await org("tx-owner");
  const sent = await owner.api("POST", "/messages", MESSAGE);
  assert.equal((await readOnly.api("GET", `/messages/${sent.body.id}`)).status, 404);
  assert.equal((await owner.api("GET", `/messages/${sent.body.id}`)).status, 200);
  assert.equal((await owner.api("GET", "/messages/not-a-uuid")).status, 404);
});

Deno.test("rate limit: over API_SEND_RATE the tenant gets 429 with Retry-After, nothing queued", async () => {
  const o = await org("tx-rate");
  const other = await org("tx-rate-other");
  let limited: Awaited<ReturnType<typeof post>> | null = null;
  let accepted = 0;
  for (let i = 0; i < 25 && !limited; i++) {
    const r = await post(o.key, "/messages", MESSAGE);
    if (r.status === 429) limited = r;
    else accepted++;
  }
  assert.ok(limited, "the burst of 20 ran out");
  assert.ok(accepted >= 20 && accepted <= 21, String(accepted));
  assert.equal(limited.body.error.code, "rate_limited");
  assert.ok(Number(limited.headers.get("retry-after")) >= 1);
  assert.equal(await queued(o.tenant.id), accepted);
  // Another tenant has its own bucket.
  assert.equal((await other.api("POST", "/messages", MESSAGE)).status, 202);
});

Deno.test("delivery: DKIM-signed, tracking only when asked; GET shows sent, opened and bounced", async () => {
  const server = await startSmtpServer({
    onRcptTo(address, _s, callback) {
      if (address.address.startsWith("nobody@")) {
        return callback(Object.assign(new Error("5.1.1 No such user"), { responseCode: 550 }));
      }
      callback();
    },
  });
  const o = await org("tx-deliver");
  const key = await generateTenantDkimKey(t.deps, o.tenant.id, { domain: "shop.example" }, "test");
  // Other tests' messages are in the queue too: this one's go to their own domain.
  const to = ["kim@deliver.example"];
  const tracked = await o.api("POST", "/messages", {
    ...MESSAGE,
    to,
    html: '<p>Order {{order}}</p><a href="https://shop.example/o/1042">Track it</a>',
    tracking: true,
  });
  const plain = await o.api("POST", "/messages", {
    ...MESSAGE,
    to,
    html: '<a href="https://shop.example/o/1">Track</a>',
  });
  const bounced = await o.api("POST", "/messages", { ...MESSAGE, to: ["nobody@deliver.example"] });
  const worker = new SendWorker(
    t.deps,
    new RelayTransport(`smtp://127.0.0.1:${server.port}`, { pool: { tls: "off" } }),
    { onOutcomes: outcomeListeners(t.deps) },
  );
  try {
    for (let n = await worker.runOnce(); n > 0; n = await worker.runOnce());
  } finally {
    await worker.stop();
    await server.close();
  }
  const mine = server.received.filter((r) => r.to[0]!.endsWith("@deliver.example"));
  assert.equal(mine.length, 2);
  const resolver = (name: string) =>
    name === key.dns_name
      ? Promise.resolve([key.dns_txt_value.match(/.{1,255}/g) ?? []])
      : Promise.reject(Object.assign(new Error("ENOTFOUND"), { code: "ENOTFOUND" }));
  let pixel = "";
  let click = "";
  for (const got of mine) {
    const raw = Buffer.from(got.body).toString("utf8");
    const dkim = (await dkimVerify(raw, { resolver })).results;
    assert.deepEqual(dkim.map((d) => d.status.result), ["pass"]);
    const mail = await simpleParser(Buffer.from(got.body));
    assert.equal(mail.subject, "Order 1042");
    const html = String(mail.html);
    if (html.includes("Track it")) {
      assert.match(html, /http:\/\/skicka\.test\/t\/c\//, "tracked when asked");
      pixel = /http:\/\/skicka\.test(\/t\/o\/[^"]+)/.exec(html)![1]!;
      click = /href="http:\/\/skicka\.test(\/t\/c\/[^"]+)"/.exec(html)![1]!;
    } else {
      assert.match(html, /href="https:\/\/shop\.example\/o\/1"/, "untracked by default");
      assert.doesNotMatch(html, /\/t\/o\//);
    }
  }
  assert.ok(pixel, "the tracked message has an open pixel");
  await t.app.request(pixel, {
    headers: { "user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64) Thunderbird/128.0" },
  });
  // The click link leads where the message's own link did (its stream row holds the content).
  const clicked = await t.app.request(click, {
    headers: { "user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64) Thunderbird/128.0" },
  });
  assert.equal(clicked.status, 302);
  assert.equal(clicked.headers.get("location"), "https://shop.example/o/1042");
  await stopTracking(t.deps);

  const s1 = await o.api("GET", `/messages/${tracked.body.id}`);
  assert.equal(s1.body.status, "delivered");
  assert.equal(s1.body.tracking, true);
  assert.deepEqual(s1.body.events.map((e: { type: string }) => e.type), [
    "queued",
    "sent",
    "opened",
    "clicked",
  ]);
  assert.equal(s1.body.events[3].detail.url, "https://shop.example/o/1042");
  assert.equal(s1.body.events[2].detail.machine, false);
  const s2 = await o.api("GET", `/messages/${plain.body.id}`);
  assert.equal(s2.body.status, "delivered");
  assert.match(s2.body.message_id, /^<[0-9a-f-]+@shop\.example>$/);
  const s3 = await o.api("GET", `/messages/${bounced.body.id}`);
  assert.equal(s3.body.status, "bounced");
  const b = s3.body.events.find((e: { type: string }) => e.type === "bounced");
  assert.equal(b.detail.kind, "hard");

  // The report counts the same: 3 messages, 2 delivered, 1 bounced, 1 opened.
  const rep = await o.api("GET", "/messages/reports?days=7&stream=transactional");
  assert.equal(rep.status, 200);
  assert.equal(rep.body.total.messages, 3);
  assert.equal(rep.body.total.delivered, 2);
  assert.equal(rep.body.total.bounced, 1);
  assert.equal(rep.body.total.opened, 1);
  assert.equal(rep.body.total.open_rate, 0.5);
});
