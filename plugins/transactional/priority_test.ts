// Transactional mail goes ahead of a running mass mailing at every stage where it could queue:
// the claim (express lane), the per-domain rate limit, and the wait for an SMTP connection.
// Functional, not timed: each test checks what arrived before what.
import assert from "node:assert/strict";
import { seedTenant, testApp } from "../../tests/helpers/app.ts";
import { createSend, expandSend, getSend } from "../../core/send/queue.ts";
import { notifyWorkers, SendWorker } from "../../core/send/worker.ts";
import { RelayTransport } from "../../core/send/smtp_transport.ts";
import type { OutgoingMessage } from "../../core/send/transport.ts";
import { SmtpPool } from "../../core/smtp/mod.ts";
import { startSmtpServer } from "../../core/smtp/_test_servers.ts";
import { enqueueRaw } from "./enqueue.ts";
import { transactionalPlugin } from "./mod.ts";

const t = await testApp({ plugins: [transactionalPlugin] });
Deno.test.afterAll(() => t.close());

const RAW =
  "From: orders@shop.example\r\nTo: kim@buyer.example\r\nSubject: Reset\r\n\r\nCode 1\r\n";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function message(key: string, to: string, urgent?: boolean): OutgoingMessage {
  return {
    key,
    tenantId: "t",
    sendId: "s",
    from: "bounce@skicka.test",
    to,
    raw: `Subject: ${key}\r\n\r\nbody\r\n`,
    subject: key,
    urgent,
  };
}

Deno.test("rate limit: an urgent message goes when the domain's bucket is empty; mass mail waits", async () => {
  const server = await startSmtpServer();
  const transport = new RelayTransport(`smtp://127.0.0.1:${server.port}`, {
    pool: { tls: "off" },
    domainLimit: { ratePerSecond: 0.5, burst: 1 },
    maxWaitMs: 0,
  });
  try {
    const mass = await transport.deliver([
      message("m1", "a@busy.example"),
      message("m2", "b@busy.example"),
    ]);
    assert.deepEqual(mass.map((r) => r.status), ["sent", "throttled"]);
    const [urgent] = await transport.deliver([message("t1", "c@busy.example", true)]);
    assert.equal(urgent!.status, "sent");
    // It went into debt: the next mass message waits longer, so the domain's rate still holds.
    const [after] = await transport.deliver([message("m3", "d@busy.example")]);
    assert.equal(after!.status, "throttled");
    assert.ok(after!.retryAfterMs! > 2_000, String(after!.retryAfterMs));
  } finally {
    await transport.close();
    await server.close();
  }
});

Deno.test("connection pool: an urgent send takes the next free connection before queued ones", async () => {
  const server = await startSmtpServer({
    onRcptTo(_a, _s, callback) {
      setTimeout(() => callback(), 30);
    },
  });
  const pool = new SmtpPool({
    host: "127.0.0.1",
    port: server.port,
    tls: "off",
    maxConnections: 1,
  });
  const send = (to: string, urgent?: boolean) =>
    pool.send({
      from: "x@skicka.test",
      to: [to],
      raw: new TextEncoder().encode("S: x\r\n\r\nx\r\n"),
    }, {
      urgent,
    });
  try {
    const sends = [send("m1@a.example"), send("m2@a.example"), send("m3@a.example")];
    await sleep(5);
    sends.push(send("t1@a.example", true));
    await Promise.all(sends);
    assert.deepEqual(server.received.map((r) => r.to[0]), [
      "m1@a.example",
      "t1@a.example",
      "m2@a.example",
      "m3@a.example",
    ]);
  } finally {
    await pool.close();
    await server.close();
  }
});

Deno.test("express lane: a transactional message arrives while the pipeline is still in a mass batch", async () => {
  // A slow server: each message takes a few ms, so the batch of 200 takes a while.
  const server = await startSmtpServer({
    onRcptTo(_a, _s, callback) {
      setTimeout(() => callback(), 5);
    },
  });
  const { tenant } = await seedTenant(t, { slug: "express", addons: ["transactional"] });
  const addresses = Array.from({ length: 200 }, (_, i) => `m${i}@mass.example`);
  const s = await createSend(t.deps, tenant.id, {
    kind: "mass",
    content: { from: { name: "", address: "news@shop.example" }, subject: "News", text: "x" },
    audience: { addresses },
  }, "test");
  await expandSend(t.deps, tenant.id, s.id, "test");
  // One pipeline claiming the whole campaign at once: without the express lane the
  // transactional message could only be claimed after all 200.
  const worker = new SendWorker(
    t.deps,
    new RelayTransport(`smtp://127.0.0.1:${server.port}`, {
      pool: { tls: "off", maxConnections: 2 },
      concurrency: 4,
    }),
    { pipelines: 1, batchSize: 500, idleWaitMs: 60_000 },
  );
  try {
    await worker.start();
    await notifyWorkers(t.deps);
    while (server.received.length < 20) await sleep(10);
    await enqueueRaw(t.deps, tenant.id, {
      mailFrom: "orders@shop.example",
      rcptTo: ["kim@buyer.example"],
      raw: RAW,
    });
    while (!server.received.some((r) => r.to[0] === "kim@buyer.example")) await sleep(5);
    const massBefore = server.received.findIndex((r) => r.to[0] === "kim@buyer.example");
    assert.ok(massBefore < 100, `arrived after ${massBefore} mass messages`);
    assert.equal((await getSend(t.deps, tenant.id, s.id)).status, "sending");
  } finally {
    await worker.stop();
    await server.close();
  }
});
