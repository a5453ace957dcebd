// The route stage against a real SMTP server: per-domain limits with overrides, and the global
// rate, decide what goes now and what returns to the queue as throttled.
import assert from "node:assert/strict";
import { RelayTransport } from "./smtp_transport.ts";
import type { OutgoingMessage } from "./transport.ts";
import { startSmtpServer } from "../smtp/_test_servers.ts";

function batch(domains: string[]): OutgoingMessage[] {
  return domains.map((d, i) => ({
    key: `m${i}`,
    tenantId: "t",
    sendId: "s",
    from: "news@org.example",
    to: `r${i}@${d}`,
    raw: `From: news@org.example\r\nTo: r${i}@${d}\r\nSubject: x\r\n\r\nHej\r\n`,
    subject: "x",
  }));
}

Deno.test("a domain override holds its domain back while other domains go at full speed", async () => {
  const server = await startSmtpServer({ disabledCommands: ["STARTTLS"] });
  const relay = new RelayTransport(`smtp://127.0.0.1:${server.port}`, {
    domainLimit: { ratePerSecond: 1000, burst: 1000 },
    domainLimits: { "strict.example": { ratePerSecond: 0.1, burst: 2 } },
    maxWaitMs: 0,
    pool: { tls: "off" },
  });
  try {
    const heard: string[] = [];
    const results = await relay.deliver(
      batch([...Array(5).fill("strict.example"), ...Array(5).fill("easy.example")]),
      (r) => heard.push(r.key),
    );
    const by = (d: string, status: string) =>
      results.filter((r, i) => i < 5 === (d === "strict.example") && r.status === status).length;
    assert.equal(by("strict.example", "sent"), 2, "the override's burst");
    assert.equal(by("strict.example", "throttled"), 3);
    assert.ok(results.filter((r) => r.status === "throttled").every((r) => r.retryAfterMs! > 0));
    assert.equal(by("easy.example", "sent"), 5);
    assert.equal(server.received.length, 7);
    assert.deepEqual(heard.sort(), results.map((r) => r.key).sort(), "each result reported once");
  } finally {
    await relay.close();
    await server.close();
  }
});

Deno.test("the global rate caps all domains together", async () => {
  const server = await startSmtpServer({ disabledCommands: ["STARTTLS"] });
  const relay = new RelayTransport(`smtp://127.0.0.1:${server.port}`, {
    domainLimit: { ratePerSecond: 1000, burst: 1000 },
    globalLimit: { ratePerSecond: 0.1, burst: 3 },
    maxWaitMs: 0,
    concurrency: 1,
    pool: { tls: "off" },
  });
  try {
    const results = await relay.deliver(
      batch(["a.example", "b.example", "c.example", "d.example"]),
    );
    assert.deepEqual(results.map((r) => r.status), ["sent", "sent", "sent", "throttled"]);
    assert.equal(server.received.length, 3);
  } finally {
    await relay.close();
    await server.close();
  }
});

Deno.test("a message the global rate holds back does not use up its domain's token", async () => {
  const server = await startSmtpServer({ disabledCommands: ["STARTTLS"] });
  let now = 0;
  const relay = new RelayTransport(`smtp://127.0.0.1:${server.port}`, {
    domainLimit: { ratePerSecond: 0.001, burst: 2 },
    globalLimit: { ratePerSecond: 1, burst: 1 },
    maxWaitMs: 0,
    concurrency: 1,
    now: () => now,
    pool: { tls: "off" },
  });
  try {
    const first = await relay.deliver(batch(["strict.example", "strict.example"]));
    assert.deepEqual(first.map((r) => r.status), ["sent", "throttled"]);
    now += 10_000; // the global bucket refills; the domain's (0.001/s) does not
    const second = await relay.deliver(batch(["strict.example"]));
    assert.deepEqual(second.map((r) => r.status), ["sent"], "the domain token was given back");
  } finally {
    await relay.close();
    await server.close();
  }
});
