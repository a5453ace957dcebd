// A mailing as its recipients get it: the attachments on every copy, a working unsubscribe link
// and headers, merge fallbacks; and an unsubscribe that lands after the worker claimed the row
// still stops that message.
import assert from "node:assert/strict";
import { simpleParser } from "mailparser";
import { Buffer } from "node:buffer";
import { apiClient, seedTenant, testApp } from "./helpers/app.ts";
import { createPerson } from "../core/people/persons.ts";
import { createSender, verifySender } from "../core/mailings/senders.ts";
import { SendWorker } from "../core/send/worker.ts";
import { captureTransport } from "../core/send/transport.ts";
import { RenderPool } from "../core/send/render_pool.ts";
import { claimBatch, createSend, expandSend } from "../core/send/queue.ts";
import { unsubscribe } from "../core/feedback/unsubscribe.ts";

const t = await testApp();
const org = await seedTenant(t, { slug: "delivery-org", scopes: ["read", "write", "send"] });
const api = apiClient(t, org.key);
const tid = org.tenant.id;
const sender = await createSender(t.deps, tid, { name: "News", address: "news@uni.example" }, "t");
await verifySender(t.deps, tid, sender.id, "test");
const PDF = new TextEncoder().encode("%PDF-1.7\n%âãÏÓ\n1 0 obj <<>> endobj\ntrailer\n%%EOF\n");

async function drain(worker: SendWorker) {
  let n = 0;
  for (let got = await worker.runOnce(); got > 0; got = await worker.runOnce()) n += got;
  return n;
}

for (const pooled of [false, true]) {
  Deno.test(`mailing delivered${pooled ? " through the render pool" : ""}: attachment, unsubscribe link, fallback`, async () => {
    const slug = pooled ? "p" : "i";
    const ann = await createPerson(t.deps, tid, {
      first_name: "",
      addresses: [{ address: `ann-${slug}@uni.example` }],
    }, "test");
    const m = (await api("POST", "/mailings", {
      from_name: "News",
      from_address: "news@uni.example",
      subject: "Programme",
      body_html: '<p>Dear {{firstname default="friend"}},</p>' +
        '<p><a href="https://uni.example/programme">Programme</a></p>' +
        '<p><a href="{{unsubscribe_url}}">Unsubscribe</a></p>',
      recipients: {
        persons: [
          ann.id,
          (await createPerson(t.deps, tid, {
            first_name: "Bo",
            addresses: [{ address: `bo-${slug}@uni.example` }],
          }, "test")).id,
        ],
      },
    })).body;
    assert.ok(m.id, JSON.stringify(m));
    const up = await t.app.request(
      `/api/v1/mailings/${m.id}/attachments?filename=programme.pdf`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${org.key}`, "content-type": "application/pdf" },
        body: PDF as Uint8Array<ArrayBuffer>,
      },
    );
    assert.equal(up.status, 201, await up.clone().text());
    const sent = await api("POST", `/mailings/${m.id}/send`, {});
    assert.equal(sent.status, 202, JSON.stringify(sent.body));

    const pool = pooled ? new RenderPool(1) : undefined;
    try {
      const worker = new SendWorker(t.deps, captureTransport(t.deps), { renderPool: pool });
      assert.equal(await drain(worker), 2);
    } finally {
      pool?.close();
    }
    const raw = (await t.deps.db.selectFrom("captured_mail").select("raw")
      .where("tenant_id", "=", tid).where("rcpt_to", "=", `ann-${slug}@uni.example`)
      .executeTakeFirstOrThrow()).raw;
    const mail = await simpleParser(Buffer.from(raw));
    assert.equal(mail.attachments.length, 1);
    assert.equal(mail.attachments[0]!.filename, "programme.pdf");
    assert.equal(mail.attachments[0]!.contentType, "application/pdf");
    assert.deepEqual(new Uint8Array(mail.attachments[0]!.content), PDF);
    assert.match(mail.html as string, /Dear friend,/);
    // Delivered: the link goes through the click redirect; the preview keeps it as written.
    assert.doesNotMatch(mail.html as string, /href="https:\/\/uni\.example\/programme"/);
    assert.match(mail.html as string, /href="[^"]*\/t\/c\/[\w-]+"/);
    const preview = await api("POST", `/mailings/${m.id}/preview`, { person_id: ann.id });
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    assert.match(preview.body.html, /href="https:\/\/uni\.example\/programme"/);
    assert.doesNotMatch(preview.body.html, /\/t\/o\//, "no open pixel in a preview");
    const link = /href="([^"]*\/u\/[A-Za-z0-9_-]+)"/.exec(mail.html as string)?.[1];
    assert.ok(link?.startsWith(t.deps.config.baseUrl), `unsubscribe link: ${link}`);
    assert.match(raw, /^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$/m);
    assert.match(
      raw.replace(/\r\n[ \t]+/g, " "),
      /^List-Unsubscribe: <http[^>]+\/u\/[\w-]+>, <mailto:unsubscribe\+/m,
    );
    // The link in the body works: one-click POST, answered 200, no redirect.
    const res = await t.app.request(new URL(link!).pathname, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "List-Unsubscribe=One-Click",
    });
    assert.equal(res.status, 200);
    const unsub = await t.deps.db.selectFrom("unsubscribes").select("person_id")
      .where("tenant_id", "=", tid).where("person_id", "=", ann.id).execute();
    assert.equal(unsub.length, 1);
  });
}

Deno.test("an unsubscribe after the worker claimed the row still stops the message", async () => {
  const cy = await createPerson(t.deps, tid, {
    first_name: "Cy",
    addresses: [{ address: "cy@uni.example" }],
  }, "test");
  const di = await createPerson(t.deps, tid, {
    first_name: "Di",
    addresses: [{ address: "di@uni.example" }],
  }, "test");
  const s = await createSend(t.deps, tid, {
    kind: "mass",
    content: { from: { address: "news@uni.example" }, subject: "Late", text: "Hej" },
    audience: { persons: [cy.id, di.id] },
  }, "test");
  await expandSend(t.deps, tid, s.id, "test");
  // A worker claims the rows and dies (its lease runs out); Cy unsubscribes meanwhile.
  const claimed = await claimBatch(t.deps, "dead-worker", { size: 100, leaseMs: 1 });
  assert.equal(claimed.filter((r) => r.send_id === s.id).length, 2);
  await unsubscribe(t.deps, {
    tenantId: tid,
    personId: cy.id,
    scope: { kind: "all" },
    source: "link",
  });
  await new Promise((r) => setTimeout(r, 5));
  const worker = new SendWorker(t.deps, captureTransport(t.deps));
  assert.ok(await drain(worker) >= 2, "both rows were claimed again after the lease ran out");
  const to = (await t.deps.db.selectFrom("captured_mail").select("rcpt_to")
    .where("tenant_id", "=", tid).where("send_id", "=", s.id).execute()).map((r) => r.rcpt_to);
  assert.deepEqual(to, ["di@uni.example"]);
  const rows = await t.deps.db.selectFrom("send_queue").select(["address", "status", "last_reply"])
    .where("tenant_id", "=", tid).where("send_id", "=", s.id).orderBy("address").execute();
  assert.deepEqual(rows.map((r) => [r.address, r.status]), [
    ["cy@uni.example", "cancelled"],
    ["di@uni.example", "sent"],
  ]);
  const send = await t.deps.db.selectFrom("sends").select(["status", "excluded"])
    .where("tenant_id", "=", tid).where("id", "=", s.id).executeTakeFirstOrThrow();
  assert.equal(send.status, "done");
  assert.deepEqual(send.excluded, { unsubscribed: 1 });
});

Deno.test("preview: a draft without sender, subject or recipients yet can be previewed", async () => {
  const eve = await createPerson(t.deps, tid, {
    first_name: "Eve",
    addresses: [{ address: "eve@uni.example" }],
  }, "test");
  const m = (await api("POST", "/mailings", { body_html: "<p>Hej {{firstname}}</p>" })).body;
  const p = await api("POST", `/mailings/${m.id}/preview`, { person_id: eve.id });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.match(p.body.html, /Hej Eve/);
  // Sending it is still refused, by field.
  const send = await api("POST", `/mailings/${m.id}/send`, {});
  assert.equal(send.body.error?.code, "validation", JSON.stringify(send.body));
  assert.ok(send.status >= 400 && send.status < 500);
});
