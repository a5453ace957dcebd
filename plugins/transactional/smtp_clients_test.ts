// The README's "switch your system to Skicka's SMTP" examples, for real: nodemailer, Python's
// smtplib and swaks each upgrade with STARTTLS, authenticate with a tenant's SMTP credential and
// submit a message, which is queued and then delivered by a send worker to an SMTP peer.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import nodemailer from "nodemailer";
import { seedTenant, testApp } from "../../tests/helpers/app.ts";
import { createSender, verifySender } from "../../core/mailings/senders.ts";
import { SendWorker } from "../../core/send/worker.ts";
import { RelayTransport } from "../../core/send/smtp_transport.ts";
import { startSmtpServer } from "../../core/smtp/_test_servers.ts";
import { createSmtpCredential } from "./credentials.ts";
import { startSubmission } from "./smtp_server.ts";
import { selfSignedCertificate } from "./smtp_tls.ts";
import { transactionalPlugin as transactional } from "./mod.ts";

const t = await testApp({ plugins: [transactional] });
const tls = await selfSignedCertificate("localhost");
const caFile = await Deno.makeTempFile({ suffix: ".pem" });
await Deno.writeTextFile(caFile, tls.cert);
const server = await startSubmission(t.deps, { port: 0, host: "127.0.0.1", tls });
const peer = await startSmtpServer();
const { tenant } = await seedTenant(t, { slug: "clients", addons: ["transactional"] });
const sender = await createSender(t.deps, tenant.id, {
  name: "Shop",
  address: "orders@clients.example",
}, "test");
await verifySender(t.deps, tenant.id, sender.id, "test");
const cred = await createSmtpCredential(t.deps, tenant.id, { name: "clients" }, {
  id: null,
  label: "test",
});

Deno.test.afterAll(async () => {
  await server.close();
  await peer.close();
  await t.close();
  await Deno.remove(caFile);
});

/** Queued for this subject, then delivered by a worker to the peer with From/Subject intact. */
async function assertQueuedAndDelivered(subject: string, to: string) {
  const rows = await t.deps.db.selectFrom("send_queue").select(["id", "address", "status"])
    .where("tenant_id", "=", tenant.id)
    .where("status", "=", "queued").execute();
  assert.deepEqual(rows.map((r) => r.address), [to], "one queued row for the recipient");
  const worker = new SendWorker(
    t.deps,
    new RelayTransport(`smtp://127.0.0.1:${peer.port}`, { pool: { tls: "off" } }),
  );
  try {
    while ((await worker.runOnce()) > 0) { /* drain */ }
  } finally {
    await worker.stop();
  }
  const got = peer.received.find((m) =>
    Buffer.from(m.body).toString("utf8").includes(`Subject: ${subject}`)
  );
  assert.ok(got, `the peer received "${subject}"`);
  assert.deepEqual(got.to, [to]);
  const raw = Buffer.from(got.body).toString("utf8");
  assert.match(raw, /^From: .*orders@clients\.example/m);
  assert.doesNotMatch(raw, /^X-Skicka-/mi);
  const sent = await t.deps.db.selectFrom("send_queue").select("status")
    .where("tenant_id", "=", tenant.id).where("id", "=", rows[0]!.id).executeTakeFirstOrThrow();
  assert.equal(sent.status, "sent");
}

Deno.test("nodemailer sends through the submission server (STARTTLS + AUTH)", async () => {
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port: server.port,
    secure: false,
    requireTLS: true,
    auth: { user: cred.username, pass: cred.password },
    tls: { ca: [tls.cert], servername: "localhost" },
  });
  try {
    const info = await transport.sendMail({
      from: "Shop <orders@clients.example>",
      to: "kim@buyer.example",
      subject: "Order 1 from nodemailer",
      text: "Your order has shipped.",
      headers: { "X-Skicka-Tags": "orders" },
    });
    assert.match(info.response, /^250 2\.0\.0 Queued as /);
  } finally {
    transport.close();
  }
  await assertQueuedAndDelivered("Order 1 from nodemailer", "kim@buyer.example");
});

const PYTHON = `
import os, smtplib, ssl
from email.message import EmailMessage

msg = EmailMessage()
msg["From"] = "Shop <orders@clients.example>"
msg["To"] = "lee@buyer.example"
msg["Subject"] = "Order 2 from smtplib"
msg["X-Skicka-Tags"] = "orders"
msg.set_content("Your order has shipped.")

context = ssl.create_default_context(cafile=os.environ["CA_FILE"])
with smtplib.SMTP("localhost", int(os.environ["PORT"])) as smtp:
    smtp.starttls(context=context)
    smtp.login(os.environ["SMTP_USER"], os.environ["SMTP_PASS"])
    smtp.send_message(msg)
print("sent")
`;

Deno.test("Python's smtplib sends through the submission server (STARTTLS + AUTH)", async () => {
  const out = await new Deno.Command("python3", {
    args: ["-c", PYTHON],
    env: {
      PORT: String(server.port),
      SMTP_USER: cred.username,
      SMTP_PASS: cred.password,
      CA_FILE: caFile,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const td = new TextDecoder();
  assert.equal(out.code, 0, td.decode(out.stderr));
  assert.equal(td.decode(out.stdout).trim(), "sent");
  await assertQueuedAndDelivered("Order 2 from smtplib", "lee@buyer.example");
});

Deno.test("swaks sends through the submission server (STARTTLS + AUTH)", async () => {
  const out = await new Deno.Command("swaks", {
    args: [
      "--server",
      "localhost",
      "--port",
      String(server.port),
      "--tls",
      "--tls-verify",
      "--tls-ca-path",
      caFile,
      "--auth",
      "PLAIN",
      "--auth-user",
      cred.username,
      "--auth-password",
      cred.password,
      "--from",
      "orders@clients.example",
      "--to",
      "max@buyer.example",
      "--header",
      "Subject: Order 3 from swaks",
      "--header",
      "X-Skicka-Tags: orders",
      "--body",
      "Your order has shipped.",
      "--timeout",
      "20",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const td = new TextDecoder();
  const transcript = td.decode(out.stdout) + td.decode(out.stderr);
  assert.equal(out.code, 0, transcript);
  assert.match(transcript, /<~ +250 2\.0\.0 Queued as /);
  await assertQueuedAndDelivered("Order 3 from swaks", "max@buyer.example");
});
