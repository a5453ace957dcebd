// The transactional stream end to end: enqueueRaw/enqueueMessages → queue → worker → a real SMTP
// server, DKIM-signed with the tenant's key, VERP return path, submitted messages kept as
// written; suppression; and priority over a running mass mailing.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { dkimVerify } from "mailauth";
import { simpleParser } from "mailparser";
import { seedTenant, testApp } from "../../tests/helpers/app.ts";
import { createPerson } from "../../core/people/persons.ts";
import { claimBatch, createSend, expandSend } from "../../core/send/queue.ts";
import { SendWorker } from "../../core/send/worker.ts";
import { RelayTransport } from "../../core/send/smtp_transport.ts";
import { startSmtpServer } from "../../core/smtp/_test_servers.ts";
import { generateTenantDkimKey } from "../../core/send/dkim_keys.ts";
import { enqueueMessages, enqueueRaw, SUPPRESSED_REPLY } from "./enqueue.ts";
import { transactionalPlugin } from "./mod.ts";

const t = await testApp({ plugins: [transactionalPlugin] });
Deno.test.afterAll(() => t.close());

function resolverFor(rec: { dns_name: string; dns_txt_value: string }) {
  return (name: string, type: string): Promise<string[][]> =>
    name === rec.dns_name && type === "TXT"
      ? Promise.resolve([rec.dns_txt_value.match(/.{1,255}/g) ?? []])
      : Promise.reject(Object.assign(new Error(`ENOTFOUND ${name}`), { code: "ENOTFOUND" }));
}

async function drain(worker: SendWorker) {
  let n = 0;
  for (let got = await worker.runOnce(); got > 0; got = await worker.runOnce()) n += got;
  return n;
}

const RAW = [
  "From: Shop <orders@shop.example>",
  "To: Kim <kim@buyer.example>",
  "Bcc: secret@hidden.example",
  "Return-Path: <forged@evil.example>",
  "Subject: Order 1042 confirmed",
  "Content-Type: text/plain; charset=utf-8",
  "",
  "Thank you for your order.",
  ".leading dot stays",
  "",
].join("\r\n");

Deno.test("enqueueRaw: one committed row per recipient, delivered as submitted, DKIM-signed", async () => {
  const server = await startSmtpServer();
  const { tenant } = await seedTenant(t, { slug: "raw-org", addons: ["transactional"] });
  const key = await generateTenantDkimKey(t.deps, tenant.id, { domain: "shop.example" }, "test");
  const { ids } = await enqueueRaw(t.deps, tenant.id, {
    mailFrom: "orders@shop.example",
    rcptTo: ["kim@buyer.example", "secret@hidden.example"],
    raw: RAW,
    tags: ["orders"],
  });
  assert.equal(ids.length, 2);
  // Committed before enqueueRaw returned: visible to any other connection right away.
  const rows = await t.deps.db.selectFrom("send_queue").select(["id", "address", "status"])
    .where("tenant_id", "=", tenant.id).where("id", "in", ids).orderBy("address").execute();
  assert.deepEqual(rows.map((r) => [r.address, r.status]), [
    ["kim@buyer.example", "queued"],
    ["secret@hidden.example", "queued"],
  ]);
  const worker = new SendWorker(
    t.deps,
    new RelayTransport(`smtp://127.0.0.1:${server.port}`, { pool: { tls: "off" } }),
  );
  try {
    assert.equal(await drain(worker), 2);
    assert.equal(server.received.length, 2);
    for (const got of server.received) {
      assert.match(got.from, /^bounce\+[\w-]+@skicka\.test$/, "VERP return path");
      const raw = Buffer.from(got.body).toString("utf8");
      assert.doesNotMatch(raw, /^Bcc:/mi, "Bcc never reaches a recipient");
      assert.doesNotMatch(raw, /forged@evil/, "a submitted Return-Path is dropped");
      assert.match(raw, /^Message-ID: <[0-9a-f-]{36}@shop\.example>$/m);
      assert.match(raw, /\r\n\r\nThank you for your order\.\r\n\.leading dot stays\r\n/);
      const results = (await dkimVerify(raw, { resolver: resolverFor(key) })).results;
      assert.deepEqual(results.map((r) => [r.signingDomain, r.status.result]), [
        ["shop.example", "pass"],
      ]);
    }
    const sent = await t.deps.db.selectFrom("send_queue").select(["status", "message_id"])
      .where("tenant_id", "=", tenant.id).where("id", "in", ids).execute();
    assert.deepEqual(sent.map((r) => r.status), ["sent", "sent"]);
    // The stream's send is never finished: the next message goes out on it too.
    const stream = await t.deps.db.selectFrom("sends").select(["status", "stream", "sent"])
      .where("tenant_id", "=", tenant.id).where("stream", "is not", null).execute();
    assert.deepEqual(stream.map((s) => [s.stream, s.status, s.sent]), [
      ["transactional", "sending", 2],
    ]);
  } finally {
    await worker.stop();
    await server.close();
  }
});

Deno.test("enqueueRaw keeps a submitted Message-ID and refuses bad recipients with field paths", async () => {
  const server = await startSmtpServer();
  const { tenant } = await seedTenant(t, { slug: "raw-mid", addons: ["transactional"] });
  await assert.rejects(
    enqueueRaw(t.deps, tenant.id, {
      mailFrom: "a@x.example",
      rcptTo: ["ok@x.example", "nope"],
      raw: RAW,
    }),
    (e: { code: string; details: { path: string }[] }) =>
      e.code === "validation" && e.details[0]!.path === "rcptTo[1]",
  );
  const raw = RAW.replace("Subject:", "Message-ID: <own-42@shop.example>\r\nSubject:");
  const { ids } = await enqueueRaw(t.deps, tenant.id, {
    mailFrom: "orders@shop.example",
    rcptTo: ["kim@buyer.example"],
    raw,
  });
  const worker = new SendWorker(
    t.deps,
    new RelayTransport(`smtp://127.0.0.1:${server.port}`, { pool: { tls: "off" } }),
  );
  try {
    assert.equal(await drain(worker), 1);
    const body = Buffer.from(server.received[0]!.body).toString("utf8");
    assert.equal(body.match(/^Message-ID:/gim)?.length, 1);
    assert.match(body, /^Message-ID: <own-42@shop\.example>$/m);
    const row = await t.deps.db.selectFrom("send_queue").select("message_id")
      .where("tenant_id", "=", tenant.id).where("id", "=", ids[0]!).executeTakeFirstOrThrow();
    assert.equal(row.message_id, "<own-42@shop.example>");
  } finally {
    await worker.stop();
    await server.close();
  }
});

Deno.test("enqueueMessages: merged content with To and Cc for every recipient, Bcc hidden; undeliverable suppressed", async () => {
  const server = await startSmtpServer();
  const { tenant } = await seedTenant(t, { slug: "content-org", addons: ["transactional"] });
  const p = await createPerson(t.deps, tenant.id, {
    first_name: "Gone",
    addresses: [{ address: "gone@buyer.example" }],
  }, "test");
  await t.deps.db.updateTable("person_addresses").set({ undeliverable_at: new Date() })
    .where("tenant_id", "=", tenant.id).where("person_id", "=", p.id).execute();
  const [res] = await enqueueMessages(t.deps, tenant.id, [{
    recipients: [
      "kim@buyer.example",
      "boss@buyer.example",
      "audit@shop.example",
      "gone@buyer.example",
    ],
    data: {
      kind: "content",
      content: {
        from: { name: "Shop", address: "orders@shop.example" },
        subject: "Order {{order}}",
        text: "Hello {{name}}, order {{order}} ships today.",
        html: '<p>Order {{order}}</p><a href="https://shop.example/o/1">Track</a>',
      },
      to: [{ name: "Kim", address: "kim@buyer.example" }, {
        name: "",
        address: "gone@buyer.example",
      }],
      cc: [{ name: "", address: "boss@buyer.example" }],
      merge: { order: "1042", name: "Kim" },
      attachments: [{
        filename: "invoice.txt",
        content_type: "text/plain",
        content_base64: btoa("invoice 1042"),
      }],
    },
  }]);
  assert.deepEqual(res!.recipients.map((r) => [r.address, r.status]), [
    ["kim@buyer.example", "queued"],
    ["boss@buyer.example", "queued"],
    ["audit@shop.example", "queued"],
    ["gone@buyer.example", "suppressed"],
  ]);
  const gone = await t.deps.db.selectFrom("send_queue").select(["status", "last_reply"])
    .where("tenant_id", "=", tenant.id).where("id", "=", res!.recipients[3]!.id)
    .executeTakeFirstOrThrow();
  assert.deepEqual(gone, { status: "cancelled", last_reply: SUPPRESSED_REPLY });
  const worker = new SendWorker(
    t.deps,
    new RelayTransport(`smtp://127.0.0.1:${server.port}`, { pool: { tls: "off" } }),
  );
  try {
    assert.equal(await drain(worker), 3);
    assert.deepEqual(server.received.map((r) => r.to[0]).sort(), [
      "audit@shop.example",
      "boss@buyer.example",
      "kim@buyer.example",
    ]);
    for (const got of server.received) {
      const mail = await simpleParser(Buffer.from(got.body));
      assert.equal(mail.subject, "Order 1042");
      assert.equal(mail.text?.trim(), "Hello Kim, order 1042 ships today.");
      assert.deepEqual(
        [mail.to].flat().flatMap((a) => a!.value.map((v) => v.address)),
        ["kim@buyer.example", "gone@buyer.example"],
      );
      assert.deepEqual(mail.cc && [mail.cc].flat()[0]!.value.map((v) => v.address), [
        "boss@buyer.example",
      ]);
      assert.doesNotMatch(Buffer.from(got.body).toString(), /audit@shop/i);
      // Tracking is opt-in for transactional mail: the link is as written, no pixel.
      assert.match(String(mail.html), /href="https:\/\/shop\.example\/o\/1"/);
      assert.doesNotMatch(String(mail.html), /\/t\/o\//);
      assert.equal(mail.attachments[0]?.filename, "invoice.txt");
      assert.equal(mail.attachments[0]?.content.toString(), "invoice 1042");
    }
  } finally {
    await worker.stop();
    await server.close();
  }
});

Deno.test("priority: a transactional message is claimed in the first batch while thousands of mass rows wait", async () => {
  const { tenant } = await seedTenant(t, { slug: "prio-org", addons: ["transactional"] });
  const addresses = Array.from({ length: 1000 }, (_, i) => `m${i}@mass.example`);
  const mass = await createSend(t.deps, tenant.id, {
    kind: "mass",
    content: { from: { name: "", address: "news@shop.example" }, subject: "News", text: "x" },
    audience: { addresses },
  }, "test");
  await expandSend(t.deps, tenant.id, mass.id, "test");
  // The campaign is already running: a first batch of it is on the wire.
  const first = await claimBatch(t.deps, "w1", { size: 100, leaseMs: 60_000 });
  assert.equal(first.length, 100);
  const { ids } = await enqueueRaw(t.deps, tenant.id, {
    mailFrom: "orders@shop.example",
    rcptTo: ["kim@buyer.example"],
    raw: RAW,
  });
  const next = await claimBatch(t.deps, "w2", { size: 100, leaseMs: 60_000 });
  // Claimed first and alone: it is not rendered and delivered behind 99 mass messages.
  assert.deepEqual(next.map((r) => r.id), ids);
  const after = await claimBatch(t.deps, "w2", { size: 100, leaseMs: 60_000 });
  assert.equal(after.filter((r) => r.send_id === mass.id).length, 100);
});

Deno.test("enqueueRaw with tracking: the HTML part gets click links and a pixel, the rest is as submitted", async () => {
  const server = await startSmtpServer();
  const { tenant } = await seedTenant(t, { slug: "raw-track", addons: ["transactional"] });
  const raw = [
    "From: Shop <orders@shop.example>",
    "To: kim@track.example",
    "Subject: Shipped",
    "MIME-Version: 1.0",
    'Content-Type: multipart/alternative; boundary="b1"',
    "",
    "--b1",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "Track it: https://shop.example/t/1042",
    "--b1",
    "Content-Type: text/html; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    '<html><body><p>Hej K=C3=A5re</p><a href=3D"https://shop.example/t/1042">Track</a>=',
    "</body></html>",
    "--b1--",
    "",
  ].join("\r\n");
  const { ids } = await enqueueRaw(t.deps, tenant.id, {
    mailFrom: "orders@shop.example",
    rcptTo: ["kim@track.example"],
    raw,
    tracking: true,
  });
  const worker = new SendWorker(
    t.deps,
    new RelayTransport(`smtp://127.0.0.1:${server.port}`, { pool: { tls: "off" } }),
  );
  try {
    await drain(worker);
  } finally {
    await worker.stop();
    await server.close();
  }
  const got = server.received.find((r) => r.to[0] === "kim@track.example")!;
  const mail = await simpleParser(Buffer.from(got.body));
  assert.equal(mail.text?.trim(), "Track it: https://shop.example/t/1042", "text part untouched");
  const html = String(mail.html);
  assert.match(html, /Hej Kåre/);
  const click = /href="http:\/\/skicka\.test(\/t\/c\/[^"]+)"/.exec(html);
  assert.ok(click, html);
  assert.match(html, /<img src="http:\/\/skicka\.test\/t\/o\/[^"]+\.gif"/);
  // The click link leads to the submitted URL.
  const res = await t.app.request(click[1]!, { headers: { "user-agent": "Mozilla/5.0 Firefox" } });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get("location"), "https://shop.example/t/1042");
  assert.ok(ids.length === 1);
});
