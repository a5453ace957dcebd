import assert from "node:assert/strict";
import type { OutboundMessage } from "./client.ts";
import { SmtpError } from "./errors.ts";
import { PoolManager, SmtpPool, type SmtpPoolOptions } from "./pool.ts";
import {
  freePort,
  hasSmtpSink,
  type ScriptedConn,
  startScriptedServer,
  startSmtpServer,
  startSmtpSink,
} from "./_test_servers.ts";

const enc = new TextEncoder();
const msg = (n: number, to = ["b@x.test"]): OutboundMessage => ({
  from: "a@skicka.test",
  to,
  raw: enc.encode(`Subject: ${n}\r\n\r\nBody ${n}\r\n.dot line\r\n`),
});
const local = (port: number, more: Partial<SmtpPoolOptions> = {}): SmtpPoolOptions => ({
  host: "127.0.0.1",
  port,
  tls: "off",
  ...more,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function caught(p: Promise<unknown>): Promise<SmtpError> {
  const err = await p.then(() => undefined, (e) => e);
  assert.ok(err instanceof SmtpError, `expected SmtpError, got ${err}`);
  return err;
}

/** An ESMTP session with PIPELINING that accepts everything; `onMail` can cut it short. */
async function serve(
  c: ScriptedConn,
  onMail: (n: number) => boolean | Promise<boolean> = () => true,
) {
  await c.send("220 scripted ESMTP\r\n");
  await c.line();
  await c.send("250-scripted\r\n250 PIPELINING\r\n");
  for (let n = 0;; n++) {
    let line = await c.line();
    if (line === "RSET") {
      await c.send("250 Ok\r\n");
      line = await c.line();
    }
    if (line === null || line === "QUIT") return void await c.send("221 Bye\r\n").catch(() => {});
    if (!await onMail(n)) return;
    let rcpts = 0;
    while ((line = await c.line()) !== "DATA") rcpts++;
    await c.send(`250 Ok\r\n${"250 Ok\r\n".repeat(rcpts)}354 Go\r\n`);
    await c.data();
    await c.send("250 Queued\r\n");
  }
}

Deno.test("SmtpPool reuses connections and never opens more than maxConnections", async () => {
  const server = await startSmtpServer();
  const pool = new SmtpPool(local(server.port, { maxConnections: 3 }));
  try {
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => pool.send(msg(i))));
    assert.ok(results.every((r) => r[0]!.status === "sent"));
    assert.equal(server.received.length, 30);
    assert.ok(server.connections <= 3, `${server.connections} connections`);
    assert.equal(pool.stats().open, server.connections);
  } finally {
    await pool.close();
    await server.close();
  }
});

Deno.test("SmtpPool replaces a connection after maxMessagesPerConnection", async () => {
  const server = await startSmtpServer();
  const pool = new SmtpPool(local(server.port, { maxConnections: 1, maxMessagesPerConnection: 3 }));
  try {
    for (let i = 0; i < 7; i++) await pool.send(msg(i));
    assert.equal(server.received.length, 7);
    assert.equal(server.connections, 3);
  } finally {
    await pool.close();
    await server.close();
  }
});

Deno.test("SmtpPool recovers when the server closed an idle connection", async () => {
  // smtp-server says 421 and hangs up on a client idle for socketTimeout.
  const server = await startSmtpServer({ socketTimeout: 150 });
  const pool = new SmtpPool(local(server.port, { maxConnections: 2 }));
  try {
    await Promise.all([pool.send(msg(1)), pool.send(msg(2))]);
    await sleep(400);
    const [r] = await pool.send(msg(3));
    assert.equal(r!.status, "sent");
    assert.equal(server.received.length, 3);
  } finally {
    await pool.close();
    await server.close();
  }
});

Deno.test("SmtpPool recovers when the server drops the connection mid-session", async () => {
  let sessions = 0;
  const server = startScriptedServer(async (c) => {
    const first = sessions++ === 0;
    // The first session takes one message, then hangs up on the next MAIL without a word.
    await serve(c, (n) => !(first && n === 1));
  });
  const pool = new SmtpPool(local(server.port, { maxConnections: 1 }));
  try {
    assert.equal((await pool.send(msg(1)))[0]!.status, "sent");
    assert.equal((await pool.send(msg(2)))[0]!.status, "sent");
    assert.equal(server.connections, 2);
  } finally {
    await pool.close();
    await server.close();
  }
});

Deno.test("SmtpPool does not resend when the message may have been delivered", async () => {
  let sessions = 0;
  const server = startScriptedServer(async (c) => {
    sessions++;
    await serve(c, async (n) => {
      if (n === 0) return true;
      // Second message: take it all, then hang up before the final reply.
      while (await c.line() !== "DATA");
      await c.send("250 Ok\r\n250 Ok\r\n354 Go\r\n");
      await c.data();
      return false;
    });
  });
  const pool = new SmtpPool(local(server.port, { maxConnections: 1 }));
  try {
    await pool.send(msg(1));
    const err = await caught(pool.send(msg(2)));
    assert.equal(err.maybeDelivered, true);
    assert.equal(sessions, 1);
  } finally {
    await pool.close();
    await server.close();
  }
});

Deno.test("SmtpPool backs off after connect failures and fails fast meanwhile", async () => {
  let now = 0;
  const pool = new SmtpPool(local(freePort(), {
    now: () => now,
    connectBackoff: { initialMs: 1_000, maxMs: 3_000, factor: 2 },
  }));
  try {
    const first = await caught(pool.send(msg(1)));
    assert.equal(first.phase, "connect");
    assert.equal(pool.stats().backoffMs, 1_000);
    const started = performance.now();
    const fast = await caught(pool.send(msg(2)));
    assert.ok(performance.now() - started < 50);
    assert.match(fast.message, /Not connecting to 127\.0\.0\.1:\d+ for another 1000 ms/);
    assert.equal(fast.temporary, true);
    now += 1_000;
    await caught(pool.send(msg(3)));
    assert.equal(pool.stats().backoffMs, 2_000);
    now += 2_000;
    await caught(pool.send(msg(4)));
    now += 4_000;
    await caught(pool.send(msg(5)));
    assert.equal(pool.stats().backoffMs, 3_000, "capped at maxMs");
  } finally {
    await pool.close();
  }
});

Deno.test("SmtpPool gives up waiting for a connection after acquireTimeoutMs", async () => {
  const server = await startSmtpServer({
    onData(stream, _session, callback) {
      stream.resume();
      stream.on("end", () => setTimeout(callback, 400));
    },
  });
  const pool = new SmtpPool(local(server.port, { maxConnections: 1, acquireTimeoutMs: 100 }));
  try {
    const slow = pool.send(msg(1));
    const err = await caught(pool.send(msg(2)));
    assert.equal(err.phase, "timeout");
    assert.match(err.message, /No connection to 127\.0\.0\.1:\d+ became free within 100 ms/);
    assert.equal((await slow)[0]!.status, "sent");
  } finally {
    await pool.close();
    await server.close();
  }
});

Deno.test("SmtpPool.close() lets queued sends finish, then refuses new ones", async () => {
  const server = await startSmtpServer();
  const pool = new SmtpPool(local(server.port, { maxConnections: 2 }));
  try {
    const sends = Array.from({ length: 6 }, (_, i) => pool.send(msg(i)));
    const closing = pool.close();
    const results = await Promise.all(sends);
    await closing;
    assert.equal(results.filter((r) => r[0]!.status === "sent").length, 6);
    assert.equal(pool.stats().open, 0);
    await caught(pool.send(msg(7)));
  } finally {
    await pool.close();
    await server.close();
  }
});

Deno.test("SmtpPool closes connections left idle for idleTimeoutMs", async () => {
  const server = await startSmtpServer();
  const pool = new SmtpPool(local(server.port, { idleTimeoutMs: 80 }));
  try {
    await Promise.all([pool.send(msg(1)), pool.send(msg(2))]);
    assert.equal(pool.stats().idle, 2);
    await sleep(250);
    assert.deepEqual(pool.stats().open, 0);
  } finally {
    await pool.close();
    await server.close();
  }
});

Deno.test("PoolManager: a pool per destination, failover, idle pools dropped", async () => {
  const server = await startSmtpServer();
  const manager = new PoolManager({ port: server.port, pool: { tls: "off" }, idlePoolMs: 300 });
  try {
    // 127.0.0.2 is loopback too, but nothing listens there: the next host takes the mail.
    const results = await manager.sendVia(["127.0.0.2", "127.0.0.1"], msg(1));
    assert.equal(results[0]!.status, "sent");
    assert.equal(manager.size, 2);
    assert.equal(manager.pool("127.0.0.1"), manager.pool("127.0.0.1"));
    await sleep(800);
    assert.equal(manager.size, 0);
    const err = await caught(manager.sendVia(["127.0.0.2"], msg(2)));
    assert.equal(err.phase, "connect");
  } finally {
    await manager.close();
    await server.close();
  }
});

Deno.test({
  name: "SmtpPool delivers every message to Postfix smtp-sink",
  ignore: !hasSmtpSink(),
  async fn() {
    const sink = await startSmtpSink();
    const pool = new SmtpPool(local(sink.port, { maxConnections: 4 }));
    try {
      const n = 500;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) => pool.send(msg(i, ["one@x.test", "two@x.test"]))),
      );
      assert.equal(results.flat().filter((r) => r.status === "sent").length, 2 * n);
      await pool.close();
      await sink.waitFor(n);
      assert.equal(sink.messages(), n);
    } finally {
      await pool.close();
      await sink.close();
    }
  },
});

if (!hasSmtpSink()) console.log("smtp-sink not found at /usr/sbin/smtp-sink: its test is skipped");
