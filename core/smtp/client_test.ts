import assert from "node:assert/strict";
import { SmtpConnection, type SmtpConnectionOptions } from "./client.ts";
import { SmtpError } from "./errors.ts";
import type { SmtpSocket, SmtpTransport } from "./transport.ts";
import {
  freePort,
  makeCerts,
  startScriptedServer,
  startSmtpServer,
  type TestCerts,
} from "./_test_servers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const local = (port: number, more: Partial<SmtpConnectionOptions> = {}): SmtpConnectionOptions => ({
  host: "127.0.0.1",
  port,
  tls: "off",
  name: "client.skicka.test",
  ...more,
});
const message = (body: string) =>
  enc.encode(`From: a@skicka.test\r\nTo: b@example.test\r\nSubject: Test\r\n\r\n${body}`);

/** Wraps the Deno transport to count writes: shows what went out in one write. */
function countingTransport(): SmtpTransport & { writes: number } {
  const t = {
    writes: 0,
    async connect(o: { hostname: string; port: number; signal: AbortSignal }) {
      const conn = await Deno.connect(o);
      const socket: SmtpSocket = {
        read: (p) => conn.read(p),
        write: (p) => (t.writes++, conn.write(p)),
        close: () => conn.close(),
      };
      return socket;
    },
    startTls: () => Promise.reject(new Error("no TLS here")),
  };
  return t;
}

async function rejects(p: Promise<unknown>, check: Partial<SmtpError>): Promise<SmtpError> {
  const err = await p.then(() => undefined, (e) => e);
  assert.ok(err instanceof SmtpError, `expected SmtpError, got ${err}`);
  for (const [key, value] of Object.entries(check)) {
    assert.equal((err as unknown as Record<string, unknown>)[key], value, `${key}: ${err.message}`);
  }
  return err;
}

Deno.test("send() delivers envelope and body byte for byte: dot lines, 8-bit UTF-8", async () => {
  const server = await startSmtpServer();
  const raw = message(
    ".starts with a dot\r\n..two dots\r\n.\r\nÅsa Öberg läser 🍂 i Umeå\r\n" +
      "line\r\n. space after dot\r\n" + "x".repeat(5000) + "\r\nlast\r\n",
  );
  const conn = await SmtpConnection.connect(local(server.port));
  try {
    assert.equal(conn.capabilities.pipelining, true);
    assert.equal(conn.capabilities.eightBitMime, true);
    const results = await conn.send({ from: "bounce@skicka.test", to: ["b@example.test"], raw });
    assert.deepEqual(results.map((r) => [r.recipient, r.status, r.code]), [
      ["b@example.test", "sent", 250],
    ]);
    const got = server.received[0]!;
    assert.equal(got.from, "bounce@skicka.test");
    assert.deepEqual(got.to, ["b@example.test"]);
    assert.equal(got.mailArgs.BODY, "8BITMIME");
    assert.equal(got.mailArgs.SIZE, undefined); // not offered by this server
    assert.deepEqual(got.body, raw);
  } finally {
    await conn.quit();
    await server.close();
  }
});

Deno.test("send() reuses a connection, with RSET between messages, and pipelines", async () => {
  const server = await startSmtpServer();
  const transport = countingTransport();
  const conn = await SmtpConnection.connect(local(server.port, { transport }));
  try {
    const before = transport.writes;
    for (let i = 0; i < 3; i++) {
      const r = await conn.send({
        from: "a@skicka.test",
        to: ["b@x.test", "c@x.test"],
        raw: message(`n${i}\r\n`),
      });
      assert.deepEqual(r.map((x) => x.status), ["sent", "sent"]);
    }
    // Envelope (RSET, MAIL, two RCPT, DATA) in one write, the message in another.
    assert.equal(transport.writes - before, 6);
    assert.equal(conn.messagesSent, 3);
    assert.equal(server.connections, 1);
    assert.deepEqual(server.received.map((m) => dec.decode(m.body).split("\r\n\r\n")[1]), [
      "n0\r\n",
      "n1\r\n",
      "n2\r\n",
    ]);
  } finally {
    await conn.quit();
    await server.close();
  }
});

Deno.test("send() without PIPELINING goes step by step and still delivers", async () => {
  const server = await startSmtpServer({ hidePIPELINING: true });
  const transport = countingTransport();
  const conn = await SmtpConnection.connect(local(server.port, { transport }));
  try {
    assert.equal(conn.capabilities.pipelining, false);
    const before = transport.writes;
    const r = await conn.send({
      from: "a@skicka.test",
      to: ["b@x.test", "c@x.test"],
      raw: message("hi\r\n"),
    });
    assert.deepEqual(r.map((x) => x.status), ["sent", "sent"]);
    assert.equal(transport.writes - before, 5); // MAIL, RCPT, RCPT, DATA, message
    assert.equal(server.received.length, 1);
  } finally {
    await conn.quit();
    await server.close();
  }
});

Deno.test("send() reports 450 as deferred and 550 as failed, per recipient", async () => {
  const server = await startSmtpServer({
    onRcptTo(address, _session, callback) {
      const reject = (code: number, text: string) =>
        callback(Object.assign(new Error(text), { responseCode: code }));
      if (address.address.startsWith("busy")) return reject(450, "4.2.1 Mailbox busy, try later");
      if (address.address.startsWith("nobody")) return reject(550, "5.1.1 No such user here");
      callback();
    },
  });
  const conn = await SmtpConnection.connect(local(server.port));
  try {
    const results = await conn.send({
      from: "a@skicka.test",
      to: ["ok@x.test", "busy@x.test", "nobody@x.test"],
      raw: message("hello\r\n"),
    });
    assert.deepEqual(
      results.map((r) => [r.recipient, r.status, r.code, r.enhanced ?? null]),
      [
        ["ok@x.test", "sent", 250, null],
        ["busy@x.test", "deferred", 450, "4.2.1"],
        ["nobody@x.test", "failed", 550, "5.1.1"],
      ],
    );
    assert.equal(results[2]!.message, "No such user here");
    assert.deepEqual(server.received[0]!.to, ["ok@x.test"]);

    // Nobody accepted: no message is sent and the connection stays usable.
    const none = await conn.send({
      from: "a@skicka.test",
      to: ["nobody@x.test"],
      raw: message("x\r\n"),
    });
    assert.deepEqual(none.map((r) => r.status), ["failed"]);
    const again = await conn.send({
      from: "a@skicka.test",
      to: ["ok@x.test"],
      raw: message("y\r\n"),
    });
    assert.deepEqual(again.map((r) => r.status), ["sent"]);
    assert.equal(server.received.length, 2);
  } finally {
    await conn.quit();
    await server.close();
  }
});

Deno.test("send() refuses CR, LF and other control characters in addresses", async () => {
  const server = await startSmtpServer();
  const conn = await SmtpConnection.connect(local(server.port));
  try {
    const raw = message("x\r\n");
    await rejects(conn.send({ from: "a@x.test\r\nRCPT TO:<evil@x.test>", to: ["b@x.test"], raw }), {
      phase: "mail",
      temporary: false,
    });
    await rejects(conn.send({ from: "a@x.test", to: ["b@x.test>\nDATA"], raw }), { phase: "rcpt" });
    await rejects(conn.send({ from: "a@x.test", to: ["b@x.test\0"], raw }), { phase: "rcpt" });
    await rejects(conn.send({ from: "a@x.test", to: [], raw }), { phase: "rcpt" });
    // Validation happens before anything is written, so the session is intact.
    assert.equal(conn.closed, false);
    const ok = await conn.send({ from: "", to: ["b@x.test"], raw });
    assert.equal(ok[0]!.status, "sent");
    assert.equal(server.received.length, 1);
    assert.equal(server.received[0]!.from, "");
  } finally {
    await conn.quit();
    await server.close();
  }
});

Deno.test("non-ASCII addresses use SMTPUTF8 when offered, are refused otherwise", async () => {
  const server = await startSmtpServer();
  // smtp-server hides any feature X for an option hideX, SMTPUTF8 included, though untyped.
  const plain = await startSmtpServer({ hideSMTPUTF8: true } as Record<string, unknown>);
  const conn = await SmtpConnection.connect(local(server.port));
  const old = await SmtpConnection.connect(local(plain.port));
  try {
    const msg = { from: "avsändare@skicka.test", to: ["åsa@exempel.se"], raw: message("x\r\n") };
    assert.equal((await conn.send(msg))[0]!.status, "sent");
    assert.deepEqual(server.received[0]!.to, ["åsa@exempel.se"]);
    assert.equal(server.received[0]!.mailArgs.SMTPUTF8, true);
    assert.equal(old.capabilities.smtpUtf8, false);
    const err = await rejects(old.send(msg), {
      phase: "mail",
      enhanced: "5.6.7",
      temporary: false,
    });
    assert.match(err.message, /does not offer SMTPUTF8/);
  } finally {
    await conn.quit();
    await old.quit();
    await server.close();
    await plain.close();
  }
});

Deno.test("send() respects the server's SIZE limit without sending", async () => {
  const server = await startSmtpServer({ size: 1000 });
  const conn = await SmtpConnection.connect(local(server.port));
  try {
    assert.equal(conn.capabilities.sizeLimit, 1000);
    const big = await conn.send({
      from: "a@x.test",
      to: ["b@x.test"],
      raw: message("x".repeat(2000)),
    });
    assert.deepEqual(big.map((r) => [r.status, r.code, r.enhanced]), [["failed", 552, "5.3.4"]]);
    const small = await conn.send({ from: "a@x.test", to: ["b@x.test"], raw: message("x\r\n") });
    assert.equal(small[0]!.status, "sent");
    assert.equal(server.received[0]!.mailArgs.SIZE, String(message("x\r\n").length));
    assert.equal(server.received.length, 1);
  } finally {
    await conn.quit();
    await server.close();
  }
});

Deno.test("AUTH PLAIN and LOGIN log in; a wrong password is a permanent auth error", async () => {
  const server = await startSmtpServer({
    authMethods: ["PLAIN", "LOGIN"],
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      if (auth.username === "skicka" && auth.password === "sëcret") {
        return callback(null, { user: `${auth.method}:${auth.username}` });
      }
      callback(Object.assign(new Error("5.7.8 Bad credentials"), { responseCode: 535 }));
    },
  });
  try {
    for (const method of ["PLAIN", "LOGIN"] as const) {
      const conn = await SmtpConnection.connect(
        local(server.port, {
          auth: { user: "skicka", pass: "sëcret", method },
          allowInsecureAuth: true,
        }),
      );
      await conn.send({ from: "a@x.test", to: ["b@x.test"], raw: message("x\r\n") });
      await conn.quit();
    }
    assert.deepEqual(server.received.map((m) => m.user), ["PLAIN:skicka", "LOGIN:skicka"]);
    const err = await rejects(
      SmtpConnection.connect(
        local(server.port, { auth: { user: "skicka", pass: "wrong" }, allowInsecureAuth: true }),
      ),
      { phase: "auth", code: 535, enhanced: "5.7.8", temporary: false },
    );
    assert.doesNotMatch(err.message, /wrong/);
    // Without TLS credentials are not sent unless allowed.
    await rejects(
      SmtpConnection.connect(local(server.port, { auth: { user: "skicka", pass: "sëcret" } })),
      { phase: "auth", code: undefined },
    );
  } finally {
    await server.close();
  }
});

let certs: TestCerts | null | undefined;
const getCerts = async () => certs === undefined ? (certs = await makeCerts()) : certs;

Deno.test("STARTTLS upgrades the session, verified against a test CA", async (t) => {
  const c = await getCerts();
  if (!c) return void console.log("openssl not found: STARTTLS test skipped");
  const server = await startSmtpServer({
    key: c.keyPem,
    cert: c.certPem,
    authMethods: ["PLAIN"],
    onAuth: (auth, _s, cb) => cb(null, { user: auth.username }),
  });
  try {
    await t.step("require: TLS, then AUTH over it", async () => {
      const conn = await SmtpConnection.connect(local(server.port, {
        tls: "require",
        servername: "localhost",
        caCerts: [c.caPem],
        auth: { user: "skicka", pass: "pw" },
      }));
      assert.equal(conn.secure, true);
      await conn.send({ from: "a@x.test", to: ["b@x.test"], raw: message("secret\r\n") });
      await conn.quit();
      assert.equal(server.received.at(-1)!.secure, true);
      assert.equal(server.received.at(-1)!.user, "skicka");
    });
    await t.step("opportunistic: an untrusted certificate falls back to plaintext", async () => {
      const conn = await SmtpConnection.connect(local(server.port, { tls: "opportunistic" }));
      assert.equal(conn.secure, false);
      await conn.send({ from: "a@x.test", to: ["b@x.test"], raw: message("plain\r\n") });
      await conn.quit();
      assert.equal(server.received.at(-1)!.secure, false);
    });
    await t.step("require: an untrusted certificate is a TLS error", async () => {
      await rejects(SmtpConnection.connect(local(server.port, { tls: "require" })), {
        phase: "tls",
      });
    });
  } finally {
    await server.close();
  }
});

Deno.test("tls: require fails when the server offers no STARTTLS", async () => {
  const server = await startSmtpServer({ hideSTARTTLS: true });
  try {
    const err = await rejects(SmtpConnection.connect(local(server.port, { tls: "require" })), {
      phase: "tls",
      temporary: false,
    });
    assert.match(err.message, /does not offer STARTTLS/);
  } finally {
    await server.close();
  }
});

Deno.test("a slow server gives timeout errors naming the step", async (t) => {
  await t.step("no greeting", async () => {
    const server = startScriptedServer(async (c) => void await c.line());
    try {
      const err = await rejects(
        SmtpConnection.connect(local(server.port, { greetingTimeoutMs: 150 })),
        { phase: "timeout", during: "greeting" },
      );
      assert.match(err.message, /Timed out after 150 ms waiting for the greeting/);
    } finally {
      await server.close();
    }
  });
  await t.step("no reply to the end of data", async () => {
    const server = await startSmtpServer({ onData() {/* never answers */} });
    const conn = await SmtpConnection.connect(local(server.port, { dataTimeoutMs: 200 }));
    try {
      await rejects(conn.send({ from: "a@x.test", to: ["b@x.test"], raw: message("x\r\n") }), {
        phase: "timeout",
        during: "data",
        maybeDelivered: true,
        temporary: true,
      });
      assert.equal(conn.closed, true);
    } finally {
      await server.close();
    }
  });
  await t.step("connect that never completes", async () => {
    const transport: SmtpTransport = {
      connect: ({ signal }) =>
        new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
      startTls: () => Promise.reject(new Error("unused")),
    };
    await rejects(
      SmtpConnection.connect(local(1, { transport, connectTimeoutMs: 100 })),
      { phase: "timeout", during: "connect" },
    );
  });
});

Deno.test("connection refused is a temporary connect error", async () => {
  await rejects(SmtpConnection.connect(local(freePort())), { phase: "connect", temporary: true });
});

Deno.test("multi-line replies, HELO fallback and a dropped connection", async () => {
  const server = startScriptedServer(async (c) => {
    await c.send("220-legacy.test first line\r\n220 second line\r\n");
    assert.match((await c.line())!, /^EHLO /);
    await c.send("502 5.5.1 EHLO not implemented\r\n");
    assert.match((await c.line())!, /^HELO /);
    await c.send("250 legacy.test\r\n");
    await c.line(); // MAIL
    await c.send("250 2.1.0 Ok\r\n");
    await c.line(); // RCPT
    await c.send(
      "550-5.1.1 The mailbox does not exist\r\n550-5.1.1 Check the address\r\n550 5.1.1 Bye\r\n",
    );
    await c.line(); // RCPT
    await c.send("250 2.1.5 Ok\r\n");
    await c.line(); // DATA: hang up instead of answering
    c.close();
  });
  try {
    const conn = await SmtpConnection.connect(local(server.port));
    assert.equal(conn.capabilities.pipelining, false);
    const err = await rejects(
      conn.send({ from: "a@x.test", to: ["gone@x.test", "b@x.test"], raw: message("x\r\n") }),
      { phase: "data", maybeDelivered: false, temporary: true },
    );
    assert.match(err.message, /closed by the server/);
    assert.equal(conn.closed, true);
  } finally {
    await server.close();
  }
});

Deno.test("a multi-line rejection is one reply with every line in the message", async () => {
  const server = startScriptedServer(async (c) => {
    await c.send("220 ok\r\n");
    await c.line();
    await c.send("250-x.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n");
    await c.line(); // MAIL, RCPT, DATA arrive pipelined
    await c.line();
    await c.line();
    await c.send(
      "250 2.1.0 Ok\r\n550-5.1.1 The mailbox does not exist\r\n550 5.1.1 Check the address\r\n" +
        "554 5.5.1 No valid recipients\r\n",
    );
    await c.line(); // QUIT
    await c.send("221 Bye\r\n");
  });
  try {
    const conn = await SmtpConnection.connect(local(server.port));
    const [r] = await conn.send({ from: "a@x.test", to: ["gone@x.test"], raw: message("x\r\n") });
    assert.deepEqual(r, {
      recipient: "gone@x.test",
      code: 550,
      enhanced: "5.1.1",
      message: "The mailbox does not exist\nCheck the address",
      status: "failed",
    });
    await conn.quit();
  } finally {
    await server.close();
  }
});

Deno.test("421 from the server ends the session with a temporary error", async () => {
  const server = startScriptedServer(async (c) => {
    await c.send("220 ok\r\n");
    await c.line();
    await c.send("250-x.test\r\n250 PIPELINING\r\n");
    await c.line();
    await c.send("421 4.3.2 Shutting down\r\n");
    c.close();
  });
  try {
    const conn = await SmtpConnection.connect(local(server.port));
    await rejects(conn.send({ from: "a@x.test", to: ["b@x.test"], raw: message("x\r\n") }), {
      phase: "mail",
      code: 421,
      enhanced: "4.3.2",
      temporary: true,
      maybeDelivered: false,
    });
    assert.equal(conn.closed, true);
  } finally {
    await server.close();
  }
});
