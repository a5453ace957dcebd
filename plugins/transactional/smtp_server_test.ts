// The SMTP submission server over real SMTP and TLS: no relaying without AUTH, AUTH only inside
// TLS, wrong passwords and lockout, tier gating, verified senders only, the size limit, the
// X-Skicka-* headers, and 451 with nothing queued when the database fails.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { seedTenant, type TestApp, testApp } from "../../tests/helpers/app.ts";
import { createSender, verifySender } from "../../core/mailings/senders.ts";
import { updateTenant } from "../../core/tenants/tenants.ts";
import { createSmtpCredential, revokeSmtpCredential } from "./credentials.ts";
import { startSubmission, type SubmissionServer } from "./smtp_server.ts";
import { selfSignedCertificate } from "./smtp_tls.ts";
import { SmtpTestClient } from "./smtp_test_client.ts";
import { transactionalPlugin as transactional } from "./mod.ts";

const t = await testApp({ plugins: [transactional] });
const tls = await selfSignedCertificate("localhost");
const MAX_BYTES = 64 * 1024;
const server = await startSubmission(t.deps, {
  port: 0,
  host: "127.0.0.1",
  tls,
  maxBytes: MAX_BYTES,
  // No lockout here (every test shares 127.0.0.1): the lockout test has a server of its own.
  authGuard: { maxFailures: 1_000, windowMs: 60_000, failureDelayMs: 0 },
});
Deno.test.afterAll(async () => {
  await server.close();
  await t.close();
});

/** A tenant with the add-on, a verified sender and an SMTP credential. */
async function customer(slug: string, opts: { addons?: string[] } = {}) {
  const { tenant } = await seedTenant(t, { slug, addons: opts.addons ?? ["transactional"] });
  const sender = await createSender(t.deps, tenant.id, {
    name: "Shop",
    address: `orders@${slug}.example`,
  }, "test");
  await verifySender(t.deps, tenant.id, sender.id, "test");
  const cred = await createSmtpCredential(t.deps, tenant.id, { name: "ERP" }, {
    id: null,
    label: "test",
  });
  return { tenant, cred, from: `orders@${slug}.example` };
}

async function queued(tenantId: string) {
  return await t.deps.db.selectFrom("send_queue as q")
    .innerJoin(
      "sends as s",
      (j) => j.onRef("s.tenant_id", "=", "q.tenant_id").onRef("s.id", "=", "q.send_id"),
    )
    .select(["q.id", "q.address", "q.data", "s.stream"])
    .where("q.tenant_id", "=", tenantId).orderBy("q.id").execute();
}

/** Connected, EHLO'd, upgraded to TLS and (unless `auth: false`) authenticated. */
async function session(
  srv: SubmissionServer,
  auth: { user: string; pass: string } | false,
): Promise<SmtpTestClient> {
  const { client, greeting } = await SmtpTestClient.connect(srv.port);
  assert.equal(greeting.code, 220);
  assert.equal((await client.cmd("EHLO client.test")).code, 250);
  await client.startTls(tls.cert);
  if (auth) assert.equal((await client.authPlain(auth.user, auth.pass)).code, 235);
  return client;
}

function message(from: string, extra: string[] = [], body = "Your order has shipped.") {
  return [
    `From: Shop <${from}>`,
    "To: kim@buyer.example",
    "Subject: Order 1042",
    ...extra,
    "",
    body,
  ].join("\r\n");
}

Deno.test("without AUTH nothing is relayed: MAIL, RCPT and DATA are refused with 5xx", async () => {
  const { tenant, from } = await customer("open-relay");
  for (const tlsFirst of [false, true]) {
    const { client } = await SmtpTestClient.connect(server.port);
    try {
      const ehlo = await client.cmd("EHLO client.test");
      assert.equal(ehlo.code, 250);
      if (tlsFirst) await client.startTls(tls.cert);
      const mail = await client.cmd(`MAIL FROM:<${from}>`);
      assert.equal(mail.code, 530, mail.text);
      assert.match(mail.text, /Authentication required/);
      const rcpt = await client.cmd("RCPT TO:<victim@elsewhere.example>");
      assert.ok(rcpt.code >= 500 && rcpt.code < 600, `RCPT: ${rcpt.code} ${rcpt.text}`);
      const data = await client.cmd("DATA");
      assert.ok(data.code >= 500 && data.code < 600, `DATA: ${data.code} ${data.text}`);
    } finally {
      client.close();
    }
  }
  assert.deepEqual(await queued(tenant.id), []);
});

Deno.test("AUTH is offered and accepted only after STARTTLS", async () => {
  const { cred } = await customer("tls-first");
  const { client } = await SmtpTestClient.connect(server.port);
  try {
    const ehlo = await client.cmd("EHLO client.test");
    assert.match(ehlo.text, /^STARTTLS$/m);
    assert.match(ehlo.text, new RegExp(`^SIZE ${MAX_BYTES}$`, "m"));
    const early = await client.authPlain(cred.username, cred.password);
    assert.equal(early.code, 538, "a password never crosses the network in the clear");
    const inside = await client.startTls(tls.cert);
    assert.match(inside.text, /^AUTH PLAIN LOGIN$/m);
    assert.doesNotMatch(inside.text, /^STARTTLS$/m);
    assert.equal((await client.authPlain(cred.username, cred.password)).code, 235);
  } finally {
    client.close();
  }
});

Deno.test("STARTTLS, AUTH LOGIN and a message: committed to the queue, one row per recipient", async () => {
  const { tenant, cred, from } = await customer("happy");
  const client = await session(server, false);
  try {
    assert.equal((await client.cmd("AUTH LOGIN")).code, 334);
    assert.equal((await client.cmd(btoa(cred.username))).code, 334);
    assert.equal((await client.cmd(btoa(cred.password))).code, 235);
    assert.equal((await client.cmd(`MAIL FROM:<${from.toUpperCase()}>`)).code, 250);
    assert.equal((await client.cmd("RCPT TO:<kim@buyer.example>")).code, 250);
    assert.equal((await client.cmd("RCPT TO:<lee@buyer.example>")).code, 250);
    const done = await client.data(message(from));
    assert.equal(done.code, 250, done.text);
    // 250 came after the commit: the rows are there for any reader now.
    const rows = await queued(tenant.id);
    assert.match(done.text, new RegExp(`Queued as ${rows[0]!.id}`));
    assert.deepEqual(rows.map((r) => [r.address, r.stream]), [
      ["kim@buyer.example", "transactional"],
      ["lee@buyer.example", "transactional"],
    ]);
    const data = rows[0]!.data as { raw: string; mail_from: string };
    assert.match(data.raw, /^Subject: Order 1042\r$/m);
    assert.equal(data.mail_from.toLowerCase(), from);
  } finally {
    client.close();
  }
  const used = await t.deps.db.selectFrom("smtp_credentials" as never).select(
    "last_used_at" as never,
  )
    .where("tenant_id" as never, "=", tenant.id as never).executeTakeFirst() as
      | { last_used_at: Date | null }
      | undefined;
  assert.ok(used?.last_used_at, "last used is recorded");
});

Deno.test("a wrong password, an unknown user and a revoked credential get 535", async () => {
  const { tenant, cred } = await customer("wrong-pass");
  const other = await createSmtpCredential(t.deps, tenant.id, { name: "old" }, {
    id: null,
    label: "test",
  });
  await revokeSmtpCredential(t.deps, tenant.id, other.id, "test");
  const client = await session(server, false);
  try {
    for (
      const [user, pass] of [
        [cred.username, cred.password.slice(1)],
        ["smtp_0000000000000000", cred.password],
        [other.username, other.password],
      ] as const
    ) {
      const r = await client.authPlain(user, pass);
      assert.equal(r.code, 535, `${user}: ${r.text}`);
      assert.match(r.text, /credentials invalid/);
    }
    const mail = await client.cmd(`MAIL FROM:<orders@wrong-pass.example>`);
    assert.equal(mail.code, 530);
  } finally {
    client.close();
  }
});

Deno.test("repeated failures lock the address out, even for the right password", async () => {
  const { cred } = await customer("lockout");
  const guarded = await startSubmission(t.deps, {
    port: 0,
    host: "127.0.0.1",
    tls,
    authGuard: { maxFailures: 3, windowMs: 60_000, failureDelayMs: 50 },
  });
  const client = await session(guarded, false);
  try {
    for (let i = 0; i < 3; i++) {
      assert.equal((await client.authPlain(cred.username, "guess" + i)).code, 535);
    }
    const locked = await client.authPlain(cred.username, cred.password);
    assert.equal(locked.code, 454, locked.text);
    assert.match(locked.text, /Too many failed logins/);
  } finally {
    client.close();
    await guarded.close();
  }
});

Deno.test("a tenant without the transactional add-on cannot authenticate", async () => {
  const { tenant, cred } = await customer("no-addon", { addons: [] });
  const client = await session(server, false);
  try {
    const r = await client.authPlain(cred.username, cred.password);
    assert.equal(r.code, 535);
    assert.match(r.text, /transactional add-on/);
    // Given the add-on, the same credential works; suspended, it does not.
    await updateTenant(t.deps, tenant.id, { addons: ["transactional"] }, "test");
    assert.equal((await client.authPlain(cred.username, cred.password)).code, 235);
  } finally {
    client.close();
  }
  await updateTenant(t.deps, tenant.id, { status: "suspended" }, "test");
  const again = await session(server, false);
  try {
    const r = await again.authPlain(cred.username, cred.password);
    assert.equal(r.code, 535);
    assert.match(r.text, /suspended/);
  } finally {
    again.close();
  }
});

Deno.test("MAIL FROM an address that is not a verified sender gets 553", async () => {
  const { tenant, cred } = await customer("senders");
  await createSender(
    t.deps,
    tenant.id,
    { name: "Unverified", address: "new@senders.example" },
    "test",
  );
  const client = await session(server, { user: cred.username, pass: cred.password });
  try {
    for (const address of ["new@senders.example", "someone@elsewhere.example"]) {
      const r = await client.cmd(`MAIL FROM:<${address}>`);
      assert.equal(r.code, 553, r.text);
      assert.match(r.text, new RegExp(`Sender <${address}> is not a verified sender`));
    }
    // Another tenant's verified sender is not this tenant's.
    const r = await client.cmd("MAIL FROM:<orders@happy.example>");
    assert.equal(r.code, 553);
    // A verified envelope sender cannot carry an unverified From: header.
    assert.equal((await client.cmd("MAIL FROM:<orders@senders.example>")).code, 250);
    assert.equal((await client.cmd("RCPT TO:<kim@buyer.example>")).code, 250);
    const spoof = await client.data(message("ceo@bank.example"));
    assert.equal(spoof.code, 550, spoof.text);
    assert.match(spoof.text, /From: <ceo@bank\.example> is not a verified sender/);
    // A From: field is read as RFC 5322 reads it: quoted text and comments are not the address;
    // one field, one mailbox.
    const hostile = [
      ['From: "<orders@senders.example>" <ceo@bank.example>'],
      ["From: (<orders@senders.example>) ceo@bank.example"],
      ["From: orders@senders.example, ceo@bank.example"],
      ["From: orders@senders.example", "From: ceo@bank.example"],
      ['From: "ceo"@bank.example'],
      ["From: nobody"],
      [],
    ];
    for (const from of hostile) {
      assert.equal((await client.cmd("MAIL FROM:<orders@senders.example>")).code, 250);
      assert.equal((await client.cmd("RCPT TO:<kim@buyer.example>")).code, 250);
      const raw = [...from, "To: kim@buyer.example", "Subject: x", "", "body"].join("\r\n");
      const r = await client.data(raw);
      assert.equal(r.code, 550, `${from.join(" / ")}: ${r.text}`);
    }
  } finally {
    client.close();
  }
  assert.deepEqual(await queued(tenant.id), []);
});

Deno.test("a message over the size limit gets 552, announced (SIZE=) or not", async () => {
  const { tenant, cred, from } = await customer("too-big");
  const client = await session(server, { user: cred.username, pass: cred.password });
  try {
    const announced = await client.cmd(`MAIL FROM:<${from}> SIZE=${MAX_BYTES + 1}`);
    assert.equal(announced.code, 552, announced.text);
    assert.equal((await client.cmd(`MAIL FROM:<${from}>`)).code, 250);
    assert.equal((await client.cmd("RCPT TO:<kim@buyer.example>")).code, 250);
    const body = ("y".repeat(76) + "\r\n").repeat(Math.ceil(MAX_BYTES / 78) + 1);
    const big = await client.data(message(from, [], body));
    assert.equal(big.code, 552, big.text);
    assert.match(big.text, /5\.3\.4/);
    // The session goes on: a message within the limit is accepted.
    assert.equal((await client.cmd(`MAIL FROM:<${from}>`)).code, 250);
    assert.equal((await client.cmd("RCPT TO:<kim@buyer.example>")).code, 250);
    assert.equal((await client.data(message(from))).code, 250);
  } finally {
    client.close();
  }
  assert.equal((await queued(tenant.id)).length, 1);
});

Deno.test("X-Skicka-Stream/Tags/Track/Metadata choose stream, tags and tracking and are removed", async () => {
  const { tenant, cred, from } = await customer("headers");
  const client = await session(server, { user: cred.username, pass: cred.password });
  try {
    assert.equal((await client.cmd(`MAIL FROM:<${from}>`)).code, 250);
    assert.equal((await client.cmd("RCPT TO:<kim@buyer.example>")).code, 250);
    const ok = await client.data(message(from, [
      "X-Skicka-Stream: receipts",
      "X-Skicka-Tags: orders, shipping",
      "X-Skicka-Track: opens,clicks",
      "x-skicka-metadata: order=1042;",
      " customer=77",
    ]));
    assert.equal(ok.code, 250, ok.text);
    // A header Skicka cannot follow refuses the message, naming the header.
    assert.equal((await client.cmd(`MAIL FROM:<${from}>`)).code, 250);
    assert.equal((await client.cmd("RCPT TO:<kim@buyer.example>")).code, 250);
    const bad = await client.data(message(from, ["X-Skicka-Stream: Not A Stream!"]));
    assert.equal(bad.code, 554, bad.text);
    assert.match(bad.text, /X-Skicka-Stream: expected a stream name/);
  } finally {
    client.close();
  }
  const rows = await queued(tenant.id);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.stream, "receipts");
  const data = rows[0]!.data as {
    raw: string;
    tags?: string[];
    tracking?: boolean;
    metadata?: Record<string, string>;
  };
  assert.deepEqual(data.tags, ["orders", "shipping"]);
  assert.equal(data.tracking, true);
  assert.deepEqual(data.metadata, { order: "1042", customer: "77" });
  assert.doesNotMatch(data.raw, /x-skicka/i, "instructions to Skicka never reach the recipient");
  assert.match(data.raw, /^Subject: Order 1042\r\n\r\nYour order has shipped\./m);
});

async function failInserts(app: TestApp, on: boolean) {
  if (on) {
    await sql`create or replace function skicka_test_fail() returns trigger language plpgsql as
      $$ begin raise exception 'disk full (test)'; end $$`.execute(app.deps.db);
    await sql`create trigger skicka_test_fail before insert on send_queue
      for each row execute function skicka_test_fail()`.execute(app.deps.db);
  } else {
    await sql`drop trigger skicka_test_fail on send_queue`.execute(app.deps.db);
  }
}

Deno.test("a failing database write answers 451 with nothing queued; the retry is accepted", async () => {
  const { tenant, cred, from } = await customer("db-fails");
  const client = await session(server, { user: cred.username, pass: cred.password });
  try {
    assert.equal((await client.cmd(`MAIL FROM:<${from}>`)).code, 250);
    assert.equal((await client.cmd("RCPT TO:<kim@buyer.example>")).code, 250);
    await failInserts(t, true);
    try {
      const r = await client.data(message(from));
      assert.equal(r.code, 451, r.text);
      assert.match(r.text, /4\.3\.0 .*not queued/);
    } finally {
      await failInserts(t, false);
    }
    assert.deepEqual(await queued(tenant.id), []);
    // The client kept the message and tries again, as SMTP clients do after a 4xx.
    assert.equal((await client.cmd(`MAIL FROM:<${from}>`)).code, 250);
    assert.equal((await client.cmd("RCPT TO:<kim@buyer.example>")).code, 250);
    assert.equal((await client.data(message(from))).code, 250);
  } finally {
    client.close();
  }
  assert.equal((await queued(tenant.id)).length, 1);
});

Deno.test("a lost database connection mid-session answers 451, not 250", async () => {
  const own = await testApp({ plugins: [transactional] });
  const { tenant } = await seedTenant(own, { slug: "db-gone", addons: ["transactional"] });
  const sender = await createSender(own.deps, tenant.id, {
    name: "Shop",
    address: "orders@db-gone.example",
  }, "test");
  await verifySender(own.deps, tenant.id, sender.id, "test");
  const cred = await createSmtpCredential(own.deps, tenant.id, { name: "ERP" }, {
    id: null,
    label: "test",
  });
  const srv = await startSubmission(own.deps, { port: 0, host: "127.0.0.1", tls });
  const client = await session(srv, { user: cred.username, pass: cred.password });
  try {
    assert.equal((await client.cmd("MAIL FROM:<orders@db-gone.example>")).code, 250);
    assert.equal((await client.cmd("RCPT TO:<kim@buyer.example>")).code, 250);
    await own.database.close();
    const r = await client.data(message("orders@db-gone.example"));
    assert.equal(r.code, 451, r.text);
  } finally {
    client.close();
    await srv.close();
  }
});
