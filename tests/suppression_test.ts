// Bounce suppression for addresses not in the CRM: transactional messages really delivered to an
// SMTP peer that refuses some recipients; a hard bounce (or the soft threshold) blocks the
// address per tenant until an admin unblocks it, and the undeliverable list and CSV show it.
import assert from "node:assert/strict";
import { apiClient, Browser, PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { createSender, verifySender } from "../core/mailings/senders.ts";
import { createApiKey } from "../core/auth/api_keys.ts";
import { SendWorker } from "../core/send/worker.ts";
import { createSend, expandSend, getSend } from "../core/send/queue.ts";
import { RelayTransport } from "../core/send/smtp_transport.ts";
import { startSmtpServer } from "../core/smtp/_test_servers.ts";
import { outcomeListeners } from "../core/feedback/outcomes.ts";
import { stopTracking } from "../core/feedback/events.ts";
import { enqueueRaw, SUPPRESSED_REPLY } from "../plugins/transactional/enqueue.ts";
import { transactionalPlugin } from "../plugins/transactional/mod.ts";

const t = await testApp({ plugins: [transactionalPlugin] });
const server = await startSmtpServer({
  onRcptTo(address, _s, callback) {
    const local = address.address.split("@")[0];
    const fail = (code: number, text: string) =>
      callback(Object.assign(new Error(text), { responseCode: code }));
    if (local === "nobody") return fail(550, "5.1.1 No such user");
    if (local === "full") return fail(552, "5.2.2 Mailbox full");
    callback();
  },
});
Deno.test.afterAll(async () => {
  await server.close();
  await stopTracking(t.deps);
  await t.close();
});

async function org(slug: string) {
  const s = await seedTenant(t, {
    slug,
    addons: ["transactional"],
    scopes: ["read", "write", "admin", "send"],
  });
  const sender = await createSender(t.deps, s.tenant.id, {
    name: "Shop",
    address: "orders@shop.example",
  }, "test");
  await verifySender(t.deps, s.tenant.id, sender.id, "test");
  return { ...s, api: apiClient(t, s.key) };
}

const message = (to: string) => ({
  from: { name: "Shop", address: "orders@shop.example" },
  to: [to],
  subject: "Order 1042",
  html: "<p>Thanks for order 1042</p>",
});

async function deliver(): Promise<void> {
  const worker = new SendWorker(
    t.deps,
    new RelayTransport(`smtp://127.0.0.1:${server.port}`, { pool: { tls: "off" } }),
    { onOutcomes: outcomeListeners(t.deps) },
  );
  try {
    for (let n = await worker.runOnce(); n > 0; n = await worker.runOnce());
  } finally {
    await worker.stop();
  }
}

const delivered = (address: string) => server.received.filter((r) => r.to[0] === address).length;

async function statusOf(api: ReturnType<typeof apiClient>, to: string): Promise<string> {
  const r = await api("POST", "/messages", message(to));
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body.recipients[0].status;
}

Deno.test("a hard bounce blocks an address not in the CRM until an admin unblocks it with a note", async () => {
  const o = await org("supp-hard");
  const addr = "nobody@customer.example";
  assert.equal(await statusOf(o.api, addr), "queued");
  await deliver();
  const row = await t.deps.db.selectFrom("suppressed_addresses").selectAll()
    .where("tenant_id", "=", o.tenant.id).where("address_key", "=", addr)
    .executeTakeFirstOrThrow();
  assert.ok(row.suppressed_at);
  assert.equal(row.reason, "hard: unknown_user (5.1.1)");
  assert.match(row.reply, /No such user/);

  // The next message is not sent: REST answers suppressed, the SMTP relay's row is cancelled.
  assert.equal(await statusOf(o.api, addr), "suppressed");
  const raw = await enqueueRaw(t.deps, o.tenant.id, {
    mailFrom: "orders@shop.example",
    rcptTo: [addr],
    raw: "From: orders@shop.example\r\nTo: " + addr + "\r\nSubject: Hi\r\n\r\nHi\r\n",
  });
  const relayed = await t.deps.db.selectFrom("send_queue").select(["status", "last_reply"])
    .where("tenant_id", "=", o.tenant.id).where("id", "=", raw.ids[0]!)
    .executeTakeFirstOrThrow();
  assert.deepEqual(relayed, { status: "cancelled", last_reply: SUPPRESSED_REPLY });
  // A mailing to the raw address leaves it out, counted as undeliverable.
  const send = await createSend(t.deps, o.tenant.id, {
    kind: "mass",
    content: {
      from: { name: "Shop", address: "orders@shop.example" },
      subject: "News",
      html: "<p>News</p>",
    },
    audience: { addresses: [addr, "somebody@customer.example"] },
  }, "test");
  await expandSend(t.deps, o.tenant.id, send.id, "test");
  const queued = await t.deps.db.selectFrom("send_queue").select("address")
    .where("tenant_id", "=", o.tenant.id).where("send_id", "=", send.id).execute();
  assert.deepEqual(queued.map((q) => q.address), ["somebody@customer.example"]);
  assert.equal((await getSend(t.deps, o.tenant.id, send.id)).excluded.undeliverable, 1);
  const before = delivered(addr);
  await deliver();
  assert.equal(delivered(addr), before, "nothing more reaches the peer");

  // Listed with no person, in JSON and CSV.
  const list = await o.api("GET", "/undeliverable");
  assert.equal(list.status, 200);
  assert.deepEqual(
    list.body.items.map((i: { address: string; person_id: string | null }) => [
      i.address,
      i.person_id,
    ]),
    [[addr, null]],
  );
  const id = list.body.items[0].id;
  const csv = await t.app.request("/api/v1/undeliverable.csv", {
    headers: { authorization: `Bearer ${o.key}` },
  });
  const lines = (await csv.text()).trim().split("\r\n");
  assert.equal(lines.length, 2);
  assert.match(lines[1]!, /^nobody@customer\.example,,hard: unknown_user \(5\.1\.1\),/);

  // A user without admin rights cannot unblock it (API and UI); the admin's page offers it.
  const userKey = await createApiKey(t.deps, {
    tenantId: o.tenant.id,
    name: "rw",
    scopes: ["read", "write", "send"],
  });
  const path = `/undeliverable/${id}/clear`;
  assert.equal((await apiClient(t, userKey.key)("POST", path, { note: "me" })).status, 403);
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email: o.email, password: PASSWORD })).status, 303);
  const page = await (await b.get("/people/undeliverable")).text();
  assert.match(page, /nobody@customer\.example[\s\S]*?not in the CRM/);
  assert.match(page, /data-testid="unblock"[\s\S]*?name="note" maxlength="1000"/);
  const tooLong = await o.api("POST", path, { note: "x".repeat(1001) });
  assert.equal(tooLong.status, 400);
  assert.equal(await statusOf(o.api, addr), "suppressed", "nothing half-done");

  const ok = await o.api("POST", path, { note: "  The customer fixed the mailbox  " });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body, { id, address: addr, person_id: null });
  const audit = await t.deps.db.selectFrom("audit_log").select(["actor", "details"])
    .where("tenant_id", "=", o.tenant.id).where("action", "=", "suppressed_address.clear")
    .execute();
  assert.equal(audit.length, 1);
  assert.equal((audit[0]!.details as { note?: string }).note, "The customer fixed the mailbox");
  const cleared = await t.deps.db.selectFrom("suppressed_addresses")
    .select(["suppressed_at", "cleared_at", "cleared_by"])
    .where("tenant_id", "=", o.tenant.id).where("id", "=", id).executeTakeFirstOrThrow();
  assert.equal(cleared.suppressed_at, null);
  assert.ok(cleared.cleared_at && cleared.cleared_by);
  assert.equal((await o.api("GET", "/undeliverable")).body.items.length, 0);
  assert.equal(await statusOf(o.api, addr), "queued");
});

Deno.test("a soft bounce alone does not block an address not in the CRM; the tenant's threshold does", async () => {
  const o = await org("supp-soft");
  const addr = "full@customer.example";
  assert.equal(await statusOf(o.api, addr), "queued");
  await deliver();
  const bounced = await t.deps.db.selectFrom("bounces").select("kind")
    .where("tenant_id", "=", o.tenant.id).execute();
  assert.deepEqual(bounced, [{ kind: "soft" }]);
  assert.equal(await statusOf(o.api, addr), "queued", "one soft bounce");
  assert.equal(
    (await o.api("PUT", "/bounce-policy", { soft_threshold: 2, soft_window_days: 7 })).status,
    200,
  );
  await deliver();
  const row = await t.deps.db.selectFrom("suppressed_addresses").select("reason")
    .where("tenant_id", "=", o.tenant.id).executeTakeFirstOrThrow();
  assert.equal(row.reason, "soft: mailbox_full (5.2.2); 2+ soft bounces in 7 days");
  assert.equal(await statusOf(o.api, addr), "suppressed");
});

Deno.test("one tenant's suppression does not block the address for another tenant", async () => {
  const a = await org("supp-tenant-a");
  const other = await org("supp-tenant-b");
  const addr = "nobody@shared.example";
  assert.equal(await statusOf(a.api, addr), "queued");
  await deliver();
  assert.equal(await statusOf(a.api, addr), "suppressed");
  assert.equal(await statusOf(other.api, addr), "queued");
  assert.equal((await other.api("GET", "/undeliverable")).body.items.length, 0);
  const list = await a.api("GET", "/undeliverable");
  assert.equal(
    (await other.api("POST", `/undeliverable/${list.body.items[0].id}/clear`, {})).status,
    404,
  );
});
