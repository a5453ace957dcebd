// The inbound SMTP server over real SMTP (swaks): DSNs for messages a test send really sent block
// hard bounces at once and soft ones after three; policy blocks do not; an ARF complaint
// unsubscribes from all mass mail; the mailto address unsubscribes; nothing else is accepted.
import assert from "node:assert/strict";
import { seedTenant, testApp } from "./helpers/app.ts";
import { addressState, sendMailing, type SentMessage } from "./helpers/bounces.ts";
import { handleInbound, type InboundServer, startInbound } from "../core/feedback/inbound.ts";
import { TokenSigner } from "../core/feedback/tokens.ts";
import { freePort } from "../core/smtp/_test_servers.ts";
import { processEnv } from "./helpers/db.ts";

const DOMAIN = "bounces.skicka.test";
const t = await testApp({ env: { BOUNCE_DOMAIN: DOMAIN } });
const signer = new TokenSigner(t.deps.secret);
const inbound = await startInbound(t.deps, { port: 0, host: "127.0.0.1" });
const { tenant } = await seedTenant(t, { slug: "inbound-org" });

// What the committed fixtures were written for (see core/feedback/dsn_test.ts).
const FIXTURE = {
  bounce: "AZAAAAAAcACAAAAAAAAAAQGQAAAAAHAAgAAAAAAAAKoOrXqC_HlBhA",
  unsubscribe: "AZAAAAAAcACAAAAAAAAAAQGQAAAAAHAAgAAAAAAAAKpuhWVL7U_lcOnARMI",
  messageId: "<01900000-0000-7000-8000-0000000000aa@lu.example>",
};

function verp(m: SentMessage): string {
  return signer.bounceAddress({ tenantId: tenant.id, queueId: m.queueId }, DOMAIN);
}

/** A committed fixture rewritten to be about message m (its recipient, tokens, Message-ID). */
async function fixtureFor(name: string, fixtureRcpt: string, m: SentMessage): Promise<string> {
  const ref = { tenantId: tenant.id, queueId: m.queueId };
  return (await Deno.readTextFile(new URL(`./fixtures/bounces/${name}`, import.meta.url)))
    .replaceAll(FIXTURE.bounce, signer.message("bounce", ref))
    .replaceAll(FIXTURE.unsubscribe, signer.message("unsubscribe", ref))
    .replaceAll(FIXTURE.messageId, m.messageId)
    .replaceAll(fixtureRcpt, m.address);
}

/** One SMTP conversation with swaks; returns its exit code and transcript. */
async function swaks(server: InboundServer, to: string, data: string) {
  const file = await Deno.makeTempFile({ suffix: ".eml" });
  await Deno.writeTextFile(file, data);
  try {
    const out = await new Deno.Command("swaks", {
      args: [
        "--server",
        "127.0.0.1",
        "--port",
        String(server.port),
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
    const td = new TextDecoder();
    return { code: out.code, transcript: td.decode(out.stdout) + td.decode(out.stderr) };
  } finally {
    await Deno.remove(file);
  }
}

async function accepted(to: string, data: string) {
  const r = await swaks(inbound, to, data);
  assert.equal(r.code, 0, r.transcript);
  assert.match(r.transcript, /<- +250 OK: message queued/);
}

Deno.test("a hard DSN over SMTP for a sent message makes the address undeliverable", async () => {
  const [m] = await sendMailing(t, tenant.id, ["anna@example.net"]);
  assert.equal(m!.status, "sent");
  await accepted(verp(m!), await fixtureFor("01_postfix_user_unknown.eml", "anna@example.net", m!));
  const s = await addressState(t, tenant.id, m!.address);
  assert.ok(s.undeliverable_at);
  assert.equal(s.undeliverable_reason, "hard: unknown_user (5.1.1)");
  const b = await t.deps.db.selectFrom("bounces").selectAll().where("tenant_id", "=", tenant.id)
    .where("queue_id", "=", m!.queueId).executeTakeFirstOrThrow();
  assert.deepEqual([b.kind, b.source, b.reporter, b.send_id], [
    "hard",
    "async_dsn",
    "mx.example.net",
    m!.sendId,
  ]);
});

Deno.test("soft DSNs block after the third; a delayed warning is no bounce", async () => {
  const addr = "bertil@example.org";
  for (let i = 1; i <= 3; i++) {
    const [m] = await sendMailing(t, tenant.id, [addr]);
    if (i === 1) {
      const warn = await fixtureFor("04_postfix_delayed.eml", "david@slow.example", m!);
      await accepted(verp(m!), warn);
    }
    await accepted(verp(m!), await fixtureFor("02_postfix_mailbox_full.eml", addr, m!));
    const s = await addressState(t, tenant.id, addr);
    assert.equal(s.undeliverable_at !== null, i === 3, `after ${i} soft bounces`);
  }
  const n = await t.deps.db.selectFrom("bounces").select((eb) => eb.fn.countAll().as("n"))
    .where("tenant_id", "=", tenant.id).where("address_key", "=", addr).executeTakeFirstOrThrow();
  assert.equal(Number(n.n), 3);
});

Deno.test("a policy block (Gmail 5.7.1 unsolicited) is counted but does not block", async () => {
  const [m] = await sendMailing(t, tenant.id, ["petra@gmail.example"]);
  await accepted(verp(m!), await fixtureFor("16_gmail_unsolicited.eml", "petra@gmail.example", m!));
  assert.equal((await addressState(t, tenant.id, m!.address)).undeliverable_at, null);
  const s = await t.deps.db.selectFrom("sends").select(["bounced_policy", "bounced_hard"])
    .where("tenant_id", "=", tenant.id).where("id", "=", m!.sendId).executeTakeFirstOrThrow();
  assert.deepEqual(s, { bounced_policy: 1, bounced_hard: 0 });
});

Deno.test("an ARF complaint unsubscribes from all mass mail and is counted on the send", async () => {
  const [m] = await sendMailing(t, tenant.id, ["eva@yahoo.example"]);
  await accepted(verp(m!), await fixtureFor("32_arf_yahoo_abuse.eml", "eva@yahoo.example", m!));
  const u = await t.deps.db.selectFrom("unsubscribes").selectAll()
    .where("tenant_id", "=", tenant.id).where("person_id", "=", m!.personId).execute();
  assert.equal(u.length, 1);
  assert.deepEqual([u[0]!.source, u[0]!.subscription_type_id], ["complaint", null]);
  const s = await t.deps.db.selectFrom("sends").select("complaints")
    .where("tenant_id", "=", tenant.id).where("id", "=", m!.sendId).executeTakeFirstOrThrow();
  assert.equal(s.complaints, 1);
  assert.equal((await addressState(t, tenant.id, m!.address)).undeliverable_at, null);
});

Deno.test("mail to the List-Unsubscribe mailto address unsubscribes", async () => {
  const [m] = await sendMailing(t, tenant.id, ["olof@example.com"]);
  const token = signer.message("unsubscribe", { tenantId: tenant.id, queueId: m!.queueId });
  const mail = `From: olof@example.com\r\nTo: unsubscribe+${token}@${DOMAIN}\r\n` +
    `Subject: unsubscribe\r\n\r\nunsubscribe\r\n`;
  await accepted(`unsubscribe+${token}@${DOMAIN}`, mail);
  const u = await t.deps.db.selectFrom("unsubscribes").select(["source", "queue_id"])
    .where("tenant_id", "=", tenant.id).where("person_id", "=", m!.personId).execute();
  assert.deepEqual(u, [{ source: "mailto", queue_id: m!.queueId }]);
});

Deno.test("RCPT to anything but a genuine token is refused with 550 (no relay, no forgery)", async () => {
  const [m] = await sendMailing(t, tenant.id, ["forge@example.com"]);
  const real = verp(m!);
  const token = real.slice("bounce+".length, real.indexOf("@"));
  const flipped = token.slice(0, 10) + (token[10] === "A" ? "B" : "A") + token.slice(11);
  for (
    const to of [
      `postmaster@${DOMAIN}`,
      `news@lu.example`,
      `someone@example.org`,
      `bounce+${flipped}@${DOMAIN}`,
      `unsubscribe+${token}@${DOMAIN}`, // a bounce token is no unsubscribe token
      `bounce+${token}@other.example`,
    ]
  ) {
    const r = await swaks(inbound, to, "Subject: x\r\n\r\nx\r\n");
    assert.notEqual(r.code, 0, to);
    assert.match(r.transcript, /<\*\* 550 5\.1\.1/, to);
  }
  assert.equal((await addressState(t, tenant.id, m!.address)).undeliverable_at, null);
});

Deno.test("a report without an envelope token is matched by the returned copy", async () => {
  const [a, b] = await sendMailing(t, tenant.id, ["hanna@contoso.example", "lars@legacy.example"]);
  // Office 365 returns headers without Return-Path: the unsubscribe token names the message.
  const o365 = await fixtureFor("08_o365_recipient_not_found.eml", "hanna@contoso.example", a!);
  const r1 = await handleInbound(t.deps, {
    recipients: [],
    raw: new TextEncoder().encode(o365),
  });
  assert.equal(r1.bounces, 1);
  assert.ok((await addressState(t, tenant.id, a!.address)).undeliverable_at);
  // No token anywhere: the Message-ID finds it (only with the exact stored Message-ID).
  const legacy = (await fixtureFor("12_exchange_legacy_text.eml", "lars@legacy.example", b!))
    .replace(/^(Return-Path|To): <?bounce\+.*\r?\n/gm, "")
    .replace(/^List-Unsubscribe: .*\r?\n .*\r?\n/m, "");
  assert.doesNotMatch(legacy, /bounce\+|unsubscribe\+/);
  const wrong = legacy.replace(b!.messageId, b!.messageId.replace("@", "@x"));
  const none = await handleInbound(t.deps, {
    recipients: [],
    raw: new TextEncoder().encode(wrong),
  });
  assert.equal(none.bounces, 0);
  const r2 = await handleInbound(t.deps, { recipients: [], raw: new TextEncoder().encode(legacy) });
  assert.equal(r2.bounces, 1);
  assert.ok((await addressState(t, tenant.id, b!.address)).undeliverable_at);
});

Deno.test("a message over the size limit is refused with 552", async () => {
  const small = await startInbound(t.deps, { port: 0, host: "127.0.0.1", maxBytes: 4096 });
  try {
    const [m] = await sendMailing(t, tenant.id, ["big@example.com"]);
    const r = await swaks(small, verp(m!), `Subject: big\r\n\r\n${"x".repeat(70)}\r\n`.repeat(200));
    assert.notEqual(r.code, 0);
    assert.match(r.transcript, /552/);
  } finally {
    await small.close();
  }
});

Deno.test("main.ts --role=smtp listens on INBOUND_SMTP_PORT and stops cleanly on SIGTERM", async () => {
  const { env, cleanup } = await processEnv();
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname, "--role=smtp"],
    env: { ...env, NO_COLOR: "1", INBOUND_SMTP_PORT: String(port), BOUNCE_DOMAIN: DOMAIN },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines: string[] = [];
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of child.stdout) {
      buf += decoder.decode(chunk, { stream: true });
      const parts = buf.split("\n");
      buf = parts.pop()!;
      lines.push(...parts);
    }
  })();
  try {
    // A first start migrates a new database: slow on a busy machine.
    const deadline = Date.now() + 180_000;
    while (!lines.some((l) => l.includes("inbound smtp listening"))) {
      assert.ok(Date.now() < deadline, `no listening line in ${lines.join("\n")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await swaks(
      { port, close: () => Promise.resolve() },
      `x@${DOMAIN}`,
      "Subject: x\r\n\r\nx\r\n",
    );
    assert.match(r.transcript, /<\*\* 550 5\.1\.1/);
    child.kill("SIGTERM");
    const status = await child.status;
    await reading;
    assert.equal(status.code, 0);
    assert.equal(JSON.parse(lines.at(-1)!).msg, "stopped");
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await child.status;
    await cleanup();
  }
});

Deno.test("stops cleanly", async () => {
  await inbound.close();
  await t.close();
});
