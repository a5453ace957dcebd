// Bounce policy end to end on a real database: hard blocks at once, soft after the threshold
// within the window, policy blocks never; sync 5xx from a real SMTP server; counters, notes,
// admin-only clearing, and the undeliverable export (JSON pages and CSV).
import assert from "node:assert/strict";
import { apiClient, Browser, PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { addressState, sendMailing } from "./helpers/bounces.ts";
import { handleSyncFailures, recordBounces } from "../core/feedback/bounces.ts";
import { RelayTransport } from "../core/send/smtp_transport.ts";
import { startSmtpServer } from "../core/smtp/_test_servers.ts";
import { createApiKey } from "../core/auth/api_keys.ts";
import { createUser } from "../core/tenants/users.ts";
import { setPassword } from "../core/auth/login.ts";

const t = await testApp({ env: { BOUNCE_DOMAIN: "bounces.skicka.test" } });
const DAY = 86_400_000;

async function sendCounters(tenantId: string, sendId: string) {
  return await t.deps.db.selectFrom("sends")
    .select(["bounced_hard", "bounced_soft", "bounced_policy", "complaints"])
    .where("tenant_id", "=", tenantId).where("id", "=", sendId).executeTakeFirstOrThrow();
}

const bounce = (
  tenantId: string,
  m: { queueId: string; address: string },
  kind: "hard" | "soft" | "policy",
  reason: string,
  status: string,
) => ({
  tenantId,
  queueId: m.queueId,
  address: m.address,
  kind,
  reason,
  status,
  diagnostic: `550 ${status} test`,
  source: "async_dsn" as const,
});

Deno.test("a hard bounce blocks the address at once, once per message, with a note", async () => {
  const { tenant } = await seedTenant(t, { slug: "hard-org" });
  const [m, other] = await sendMailing(t, tenant.id, ["gone@example.net", "fine@example.net"]);
  const b = bounce(tenant.id, m!, "hard", "unknown_user", "5.1.1");
  const r = await recordBounces(t.deps, [b, b]);
  assert.equal(r.recorded, 1, "the same bounce twice counts once");
  assert.deepEqual(r.undeliverable, ["gone@example.net"]);
  const s = await addressState(t, tenant.id, "gone@example.net");
  assert.ok(s.undeliverable_at);
  assert.equal(s.undeliverable_reason, "hard: unknown_user (5.1.1)");
  assert.equal((await addressState(t, tenant.id, "fine@example.net")).undeliverable_at, null);
  assert.equal((await recordBounces(t.deps, [b])).recorded, 0, "a repeated DSN later: no row");
  assert.deepEqual(await sendCounters(tenant.id, m!.sendId), {
    bounced_hard: 1,
    bounced_soft: 0,
    bounced_policy: 0,
    complaints: 0,
  });
  const note = await t.deps.db.selectFrom("contact_notes").selectAll()
    .where("tenant_id", "=", tenant.id).where("person_id", "=", m!.personId)
    .where("kind", "=", "mailing").executeTakeFirstOrThrow();
  assert.ok(note.bounced_at);
  const noteOther = await t.deps.db.selectFrom("contact_notes").select("bounced_at")
    .where("tenant_id", "=", tenant.id).where("person_id", "=", other!.personId)
    .executeTakeFirst();
  assert.equal(noteOther?.bounced_at ?? null, null);
});

Deno.test("soft bounces block after 3 within 30 days, not 3 spread wider; the policy is per tenant", async () => {
  const { tenant } = await seedTenant(t, { slug: "soft-org" });
  const addr = "full@example.org";
  const soft = (m: { queueId: string; address: string }) =>
    bounce(tenant.id, m, "soft", "mailbox_full", "5.2.2");
  // Mailing 1 bounces soft; then 31 days pass and it falls out of the window.
  const [m1] = await sendMailing(t, tenant.id, [addr]);
  await recordBounces(t.deps, [soft(m1!)]);
  t.advance(31 * DAY);
  const [m2] = await sendMailing(t, tenant.id, [addr]);
  const [m3] = await sendMailing(t, tenant.id, [addr]);
  const r23 = await recordBounces(t.deps, [soft(m2!), soft(m3!)]);
  assert.equal(r23.recorded, 2);
  assert.equal((await addressState(t, tenant.id, addr)).undeliverable_at, null, "2 in window");
  const [m4] = await sendMailing(t, tenant.id, [addr]);
  const r = await recordBounces(t.deps, [soft(m4!)]);
  assert.deepEqual(r.undeliverable, [addr]);
  assert.equal(
    (await addressState(t, tenant.id, addr)).undeliverable_reason,
    "soft: mailbox_full (5.2.2); 3+ soft bounces in 30 days",
  );
  assert.equal((await sendCounters(tenant.id, m4!.sendId)).bounced_soft, 1);

  // A stricter tenant: one soft bounce is enough.
  const api = apiClient(t, (await seedTenant(t, { slug: "strict-org" })).key);
  const strict = await t.deps.db.selectFrom("tenants").select("id").where("slug", "=", "strict-org")
    .executeTakeFirstOrThrow();
  assert.equal(
    (await api("PUT", "/bounce-policy", { soft_threshold: 1, soft_window_days: 7 })).status,
    200,
  );
  assert.deepEqual((await api("GET", "/bounce-policy")).body, {
    soft_threshold: 1,
    soft_window_days: 7,
  });
  const bad = await api("PUT", "/bounce-policy", { soft_threshold: 0, soft_window_days: 7 });
  assert.equal(bad.status, 400);
  const [s1] = await sendMailing(t, strict.id, ["one@example.org"]);
  const r1 = await recordBounces(t.deps, [bounce(strict.id, s1!, "soft", "mailbox_full", "4.2.2")]);
  assert.deepEqual(r1.undeliverable, ["one@example.org"]);
});

Deno.test("a policy block (5.7.x) is recorded and counted on the send but does not block", async () => {
  const { tenant } = await seedTenant(t, { slug: "policy-org" });
  const [m] = await sendMailing(t, tenant.id, ["blocked@example.com"]);
  const r = await recordBounces(t.deps, [bounce(tenant.id, m!, "policy", "spam_blocked", "5.7.1")]);
  assert.equal(r.recorded, 1);
  assert.deepEqual(r.undeliverable, []);
  assert.equal((await addressState(t, tenant.id, "blocked@example.com")).undeliverable_at, null);
  assert.equal((await sendCounters(tenant.id, m!.sendId)).bounced_policy, 1);
});

Deno.test("synchronous 5xx from a real SMTP server become bounces, classified by the reply", async () => {
  const server = await startSmtpServer({
    onRcptTo(address, _s, callback) {
      const local = address.address.split("@")[0];
      const fail = (code: number, text: string) =>
        callback(Object.assign(new Error(text), { responseCode: code }));
      if (local === "nobody") return fail(550, "5.1.1 <nobody@uni.example>: User unknown");
      if (local === "spammed") return fail(554, "5.7.1 Rejected: listed on a block list");
      callback();
    },
  });
  const { tenant } = await seedTenant(t, { slug: "sync-org" });
  try {
    const sent = await sendMailing(
      t,
      tenant.id,
      ["nobody@uni.example", "spammed@uni.example", "ok@uni.example"],
      new RelayTransport(`smtp://127.0.0.1:${server.port}`, { pool: { tls: "off" } }),
    );
    const failed = sent.filter((m) => m.status === "failed");
    assert.deepEqual(failed.map((m) => m.address).sort(), [
      "nobody@uni.example",
      "spammed@uni.example",
    ]);
    const r = await handleSyncFailures(t.deps, [
      ...failed.map((m) => ({
        tenantId: tenant.id,
        queueId: m.queueId,
        recipient: m.address,
        reply: m.reply,
      })),
      // A local failure says nothing about the mailbox.
      {
        tenantId: tenant.id,
        queueId: sent[2]!.queueId,
        recipient: "ok@uni.example",
        reply: "render: boom",
      },
    ]);
    assert.equal(r.recorded, 2);
    assert.deepEqual(r.undeliverable, ["nobody@uni.example"]);
    const rows = await t.deps.db.selectFrom("bounces").select([
      "address",
      "kind",
      "reason",
      "status",
      "source",
    ])
      .where("tenant_id", "=", tenant.id).orderBy("address").execute();
    assert.deepEqual(rows, [
      {
        address: "nobody@uni.example",
        kind: "hard",
        reason: "unknown_user",
        status: "5.1.1",
        source: "sync",
      },
      {
        address: "spammed@uni.example",
        kind: "policy",
        reason: "spam_blocked",
        status: "5.7.1",
        source: "sync",
      },
    ]);
  } finally {
    await server.close();
  }
});

Deno.test("an admin clears the flag with an audit entry and a note; a user cannot; soft counting restarts", async () => {
  const seeded = await seedTenant(t, { slug: "clear-org" });
  const tenant = seeded.tenant;
  const addr = "back@example.se";
  const soft = (m: { queueId: string; address: string }) =>
    bounce(tenant.id, m, "soft", "mailbox_full", "4.2.2");
  // Two soft bounces, then a hard one blocks the address.
  for (let i = 0; i < 2; i++) {
    const [m] = await sendMailing(t, tenant.id, [addr]);
    await recordBounces(t.deps, [soft(m!)]);
  }
  const [m] = await sendMailing(t, tenant.id, [addr]);
  await recordBounces(t.deps, [bounce(tenant.id, m!, "hard", "unknown_user", "5.1.1")]);
  const s = await addressState(t, tenant.id, addr);
  const path = `/persons/${s.person_id}/addresses/${s.id}/clear-undeliverable`;
  const userKey = await createApiKey(t.deps, {
    tenantId: tenant.id,
    name: "rw",
    scopes: ["read", "write"],
  });
  const denied = await apiClient(t, userKey.key)("POST", path, { note: "let me" });
  assert.equal(denied.status, 403);
  assert.ok((await addressState(t, tenant.id, addr)).undeliverable_at);
  const admin = apiClient(t, seeded.key);
  const tooLong = await admin("POST", path, { note: "x".repeat(1001) });
  assert.equal(tooLong.status, 400);
  assert.equal(tooLong.body.error.details[0].path, "note");
  assert.ok((await addressState(t, tenant.id, addr)).undeliverable_at, "nothing half-done");

  // In the UI a staff user who is not an admin sees no unblock form and cannot post one.
  const { user: staff } = await createUser(t.deps, tenant.id, {
    email: "staff@clear-org.example",
    role: "user",
  }, "test");
  await setPassword(t.deps, { kind: "user", tenantId: tenant.id, userId: staff.id }, PASSWORD);
  const ui = async (email: string) => {
    const b = new Browser(t.app);
    await b.get("/login");
    assert.equal((await b.post("/login", { email, password: PASSWORD })).status, 303);
    return b;
  };
  const staffUi = await ui("staff@clear-org.example");
  const staffPage = await (await staffUi.get(`/people/${s.person_id}`)).text();
  assert.doesNotMatch(staffPage, /data-testid="unblock"/);
  const staffPost = await staffUi.post(`/people/${s.person_id}/addresses/${s.id}/clear`, {
    note: "I want to",
  });
  assert.equal(staffPost.status, 403);
  assert.ok((await addressState(t, tenant.id, addr)).undeliverable_at);
  const adminUi = await ui(seeded.email);
  assert.match(
    await (await adminUi.get(`/people/${s.person_id}`)).text(),
    /data-testid="unblock"[\s\S]*?name="note" maxlength="1000"/,
  );

  const ok = await admin("POST", path, { note: "  Confirmed by phone: the mailbox works  " });
  assert.equal(ok.status, 200);
  const after = await addressState(t, tenant.id, addr);
  assert.equal(after.undeliverable_at, null);
  assert.ok(after.cleared_at);
  const audit = await t.deps.db.selectFrom("audit_log").select(["action", "details"])
    .where("tenant_id", "=", tenant.id).where("action", "=", "person.address.clear_undeliverable")
    .execute();
  assert.equal(audit.length, 1);
  assert.equal(
    (audit[0]!.details as { note?: string }).note,
    "Confirmed by phone: the mailbox works",
  );
  const notes = await t.deps.db.selectFrom("contact_notes").select("body")
    .where("tenant_id", "=", tenant.id).where("kind", "=", "system").execute();
  assert.ok(notes.some((n) => n.body.includes("undeliverable_cleared")));
  assert.match(
    await (await adminUi.get(`/people/${s.person_id}`)).text(),
    /back@example\.se was unblocked \(it had been flagged: hard: unknown_user \(5\.1\.1\)\)\. Note: Confirmed by phone: the mailbox works/,
  );
  // The two soft bounces from before the clearing no longer count towards the threshold.
  t.advance(1000);
  const [m4] = await sendMailing(t, tenant.id, [addr]);
  assert.ok(m4, "the cleared address is sent to again");
  assert.deepEqual((await recordBounces(t.deps, [soft(m4)])).undeliverable, []);
  for (let i = 0; i < 2; i++) {
    const [mi] = await sendMailing(t, tenant.id, [addr]);
    await recordBounces(t.deps, [soft(mi!)]);
  }
  assert.ok((await addressState(t, tenant.id, addr)).undeliverable_at, "3 since clearing");
});

Deno.test("the undeliverable export: JSON pages, CSV stream, tenant-scoped", async () => {
  const seeded = await seedTenant(t, { slug: "export-org" });
  const tenant = seeded.tenant;
  const addrs = ["a1@example.net", "=cmd@example.net", "a3@example.net", "kept@example.net"];
  const sent = await sendMailing(t, tenant.id, addrs);
  await recordBounces(
    t.deps,
    sent.slice(0, 3).map((m) => bounce(tenant.id, m, "hard", "unknown_user", "5.1.1")),
  );
  const other = await seedTenant(t, { slug: "export-other" });
  const [o] = await sendMailing(t, other.tenant.id, ["theirs@example.net"]);
  await recordBounces(t.deps, [bounce(other.tenant.id, o!, "hard", "no_domain", "5.1.2")]);

  const api = apiClient(t, seeded.key);
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await api("GET", `/undeliverable?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
    assert.equal(page.status, 200);
    assert.ok(page.body.items.length <= 2);
    for (const it of page.body.items) {
      assert.equal(it.reason, "hard: unknown_user (5.1.1)");
      assert.ok(sent.some((m) => m.personId === it.person_id));
      assert.ok(!Number.isNaN(Date.parse(it.since)));
      seen.push(it.address);
    }
    cursor = page.body.next_cursor;
  } while (cursor);
  assert.deepEqual(seen.sort(), addrs.slice(0, 3).sort());

  for (const path of ["/api/v1/undeliverable.csv", "/api/v1/undeliverable?format=csv"]) {
    const res = await t.app.request(path, { headers: { authorization: `Bearer ${seeded.key}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/csv/);
    const lines = (await res.text()).trim().split("\r\n");
    assert.equal(lines[0], "address,person_id,reason,since");
    assert.equal(lines.length, 4);
    assert.ok(lines.some((l) => l.startsWith("'=cmd@example.net,")), "formula defused");
    assert.ok(!lines.some((l) => l.includes("theirs@")), "another tenant's address");
  }
  const anon = await t.app.request("/api/v1/undeliverable.csv");
  assert.equal(anon.status, 401);

  // Staff download the same list from the people page.
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email: seeded.email, password: PASSWORD })).status, 303);
  const people = await (await b.get("/people")).text();
  assert.match(people, /href="\/people\/undeliverable\.csv"/);
  const ui = await b.get("/people/undeliverable.csv");
  assert.equal(ui.status, 200);
  const uiLines = (await ui.text()).trim().split("\r\n");
  assert.equal(uiLines.length, 4);
  assert.ok(uiLines.some((l) => l.startsWith("a1@example.net,")));
});

Deno.test("closes the database", async () => {
  await t.close();
});
