// Relay networks: the operator sets them (API and CLI, audited; tenant staff cannot), each is a
// narrow CIDR that overlaps no other tenant's; Postfix's smtp-source submits without AUTH from
// inside one and its mail is queued for that tenant (verified senders still enforced), and
// after removal the same client gets 530 again.
import assert from "node:assert/strict";
import { apiClient, Browser, PASSWORD, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { processEnv } from "../../tests/helpers/db.ts";
import { ensureOperator } from "../../core/bootstrap.ts";
import { createOperatorKey } from "../../core/auth/api_keys.ts";
import { createSender, verifySender } from "../../core/mailings/senders.ts";
import { main as cli } from "../../cli/operator.ts";
import { addRelayNetwork, parseRelayNetwork, removeRelayNetwork } from "./relay_networks.ts";
import { startSubmission } from "./smtp_server.ts";
import { selfSignedCertificate } from "./smtp_tls.ts";
import { SmtpTestClient } from "./smtp_test_client.ts";
import { transactionalPlugin as transactional } from "./mod.ts";

const t = await testApp({ plugins: [transactional] });
const tls = await selfSignedCertificate("localhost");
const server = await startSubmission(t.deps, { port: 0, host: "127.0.0.1", tls });
Deno.test.afterAll(async () => {
  await server.close();
  await t.close();
});
await ensureOperator(t.deps);
const operator = await t.deps.db.selectFrom("operators").select("id").executeTakeFirstOrThrow();
const opApi = apiClient(
  t,
  (await createOperatorKey(t.deps, { operatorId: operator.id, name: "test" })).key,
);
const SMTP_SOURCE = "/usr/sbin/smtp-source";
const hasSmtpSource = await Deno.stat(SMTP_SOURCE).then(() => true, () => false);

/** A tenant with the add-on and a verified sender orders@<slug>.example. */
async function customer(slug: string) {
  const seeded = await seedTenant(t, { slug, addons: ["transactional"] });
  const sender = await createSender(t.deps, seeded.tenant.id, {
    name: "Shop",
    address: `orders@${slug}.example`,
  }, "test");
  await verifySender(t.deps, seeded.tenant.id, sender.id, "test");
  return { ...seeded, from: `orders@${slug}.example` };
}

const base = (tenantId: string) => `/tenants/${tenantId}/transactional/relay-networks`;

async function queued(tenantId: string) {
  return await t.deps.db.selectFrom("send_queue as q")
    .innerJoin(
      "sends as s",
      (j) => j.onRef("s.tenant_id", "=", "q.tenant_id").onRef("s.id", "=", "q.send_id"),
    )
    .select(["q.address", "s.stream"])
    .where("q.tenant_id", "=", tenantId).orderBy("q.id").execute();
}

/** smtp-source: `count` messages (the file's headers and body) in the clear, no AUTH. */
async function smtpSource(file: string, from: string, count: number) {
  const out = await new Deno.Command(SMTP_SOURCE, {
    args: ["-s", "2", "-m", String(count), "-F", file, "-f", from, "-t", "kim@buyer.example"]
      .concat(`127.0.0.1:${server.port}`),
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { ok: out.success, text: new TextDecoder().decode(out.stderr) };
}

Deno.test("parseRelayNetwork() keeps a strict CIDR and names what is wrong", () => {
  assert.equal(parseRelayNetwork(" 192.0.2.0/24 "), "192.0.2.0/24");
  assert.equal(parseRelayNetwork("192.0.2.7"), "192.0.2.7/32");
  assert.equal(parseRelayNetwork("127.0.0.0/8"), "127.0.0.0/8", "the loopback is one machine");
  assert.equal(parseRelayNetwork("2001:db8:1::/48"), "2001:db8:1:0:0:0:0:0/48");
  for (
    const [input, code] of [
      ["192.0.2.0/33", "invalid"],
      ["192.0.2/24", "invalid"],
      ["shop.example/24", "invalid"],
      ["192.0.2.1/24", "host_bits"],
      ["10.0.0.0/8", "too_broad"],
      ["127.0.0.0/7", "too_broad"],
      ["2001:db8::/32", "too_broad"],
    ]
  ) {
    assert.throws(() => parseRelayNetwork(input!), (e: unknown) => {
      const issue = (e as { details: { path: string; code: string }[] }).details[0]!;
      return issue.path === "network" && issue.code === code;
    }, input);
  }
});

Deno.test("the operator API adds, lists and removes networks; every refusal names network", async () => {
  const shop = await customer("relay-api");
  const other = await customer("relay-api-other");
  const added = await opApi("POST", base(shop.tenant.id), {
    network: "198.51.100.0/24",
    note: "web shop",
  });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  assert.equal(added.body.network, "198.51.100.0/24");
  assert.equal(added.body.created_by, "operator_key:" + added.body.created_by.split(":")[1]);

  const refusals: [string, unknown, RegExp][] = [
    [shop.tenant.id, { network: "198.51.100.0/33" }, /Expected a network/],
    [shop.tenant.id, { network: "198.51.100.9/24" }, /would be 198\.51\.100\.0\/24/],
    [shop.tenant.id, { network: "198.0.0.0/8" }, /\/16 or narrower/],
    [shop.tenant.id, { network: "198.51.100.0/24" }, /already has/],
    [other.tenant.id, { network: "198.51.100.128/25" }, /Overlaps 198\.51\.100\.0\/24.*relay-api/],
  ];
  for (const [tenantId, body, message] of refusals) {
    const r = await opApi("POST", base(tenantId), body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.error.details[0].path, "network");
    assert.match(r.body.error.details[0].message, message);
  }
  // Nested inside its own network is fine: both authorise the same tenant.
  assert.equal(
    (await opApi("POST", base(shop.tenant.id), { network: "198.51.100.0/28" })).status,
    201,
  );

  const list = await opApi("GET", base(shop.tenant.id));
  assert.deepEqual(list.body.items.map((n: { network: string }) => n.network), [
    "198.51.100.0/24",
    "198.51.100.0/28",
  ]);
  const removed = await opApi("DELETE", `${base(shop.tenant.id)}/${added.body.id}`);
  assert.equal(removed.status, 200);
  assert.equal((await opApi("DELETE", `${base(shop.tenant.id)}/${added.body.id}`)).status, 404);
  const audit = await t.deps.db.selectFrom("audit_log").select(["action", "actor"])
    .where("tenant_id", "=", shop.tenant.id).where("action", "like", "smtp_relay_network.%")
    .orderBy("at").orderBy("id").execute();
  assert.deepEqual(audit.map((a) => a.action), [
    "smtp_relay_network.add",
    "smtp_relay_network.add",
    "smtp_relay_network.remove",
  ]);
  assert.ok(audit.every((a) => a.actor.startsWith("operator_key:")));
});

Deno.test("tenant staff cannot add relay networks (403) but see them on the SMTP page", async () => {
  const shop = await customer("relay-staff");
  const tenantApi = apiClient(t, shop.key);
  const r = await tenantApi("POST", base(shop.tenant.id), { network: "203.0.113.0/24" });
  assert.equal(r.status, 403);
  assert.equal((await tenantApi("GET", base(shop.tenant.id))).status, 403);
  await addRelayNetwork(t.deps, shop.tenant.id, { network: "203.0.113.0/24", note: "ERP" }, {
    actor: "test",
  });
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email: shop.email, password: PASSWORD })).status, 303);
  const html = await (await b.get("/p/transactional/smtp-credentials")).text();
  assert.match(html, /data-testid="relay-networks"/);
  assert.match(html, /<code>203\.0\.113\.0\/24<\/code>/);
  assert.doesNotMatch(html, /relay-networks\/[0-9a-f-]{36}/, "no way to change them there");
});

Deno.test("a network of another range leaves 127.0.0.1 refused without AUTH (530)", async () => {
  const shop = await customer("relay-elsewhere");
  await addRelayNetwork(t.deps, shop.tenant.id, { network: "192.0.2.0/24" }, { actor: "test" });
  const { client } = await SmtpTestClient.connect(server.port);
  try {
    assert.equal((await client.cmd("EHLO client.test")).code, 250);
    const mail = await client.cmd(`MAIL FROM:<${shop.from}>`);
    assert.equal(mail.code, 530, mail.text);
    const rcpt = await client.cmd("RCPT TO:<victim@elsewhere.example>");
    assert.ok(rcpt.code >= 500, `RCPT: ${rcpt.code} ${rcpt.text}`);
    const data = await client.cmd("DATA");
    assert.ok(data.code >= 500, `DATA: ${data.code} ${data.text}`);
  } finally {
    client.close();
  }
  assert.deepEqual(await queued(shop.tenant.id), []);
});

Deno.test({
  name: "smtp-source from 127.0.0.0/8 submits without AUTH; unverified senders and removal refuse",
  ignore: !hasSmtpSource,
  async fn() {
    const shop = await customer("relay-source");
    const net = await addRelayNetwork(t.deps, shop.tenant.id, { network: "127.0.0.0/8" }, {
      actor: "test",
    });
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/message.eml`;
      const message = (from: string) =>
        [
          `From: Shop <${from}>`,
          "To: kim@buyer.example",
          "Subject: Order 1042",
          "X-Skicka-Stream: orders",
          "",
          "Your order has shipped.",
        ].join("\n");
      await Deno.writeTextFile(file, message(shop.from));
      const sent = await smtpSource(file, shop.from, 3);
      assert.ok(sent.ok, sent.text);
      const rows = await queued(shop.tenant.id);
      assert.deepEqual(rows.map((r) => [r.address, r.stream]), [
        ["kim@buyer.example", "orders"],
        ["kim@buyer.example", "orders"],
        ["kim@buyer.example", "orders"],
      ]);

      // The envelope sender, then the From: header, must still be verified senders.
      const bad = await smtpSource(file, "ceo@relay-source.example", 1);
      assert.ok(!bad.ok && /553|5\.7\.1/.test(bad.text), bad.text);
      await Deno.writeTextFile(file, message("ceo@relay-source.example"));
      const badHeader = await smtpSource(file, shop.from, 1);
      assert.ok(!badHeader.ok && /550|5\.7\.1/.test(badHeader.text), badHeader.text);
      assert.equal((await queued(shop.tenant.id)).length, 3);

      await removeRelayNetwork(t.deps, shop.tenant.id, net.id, "test");
      await Deno.writeTextFile(file, message(shop.from));
      const after = await smtpSource(file, shop.from, 1);
      assert.ok(!after.ok && /530/.test(after.text), after.text);
      assert.equal((await queued(shop.tenant.id)).length, 3);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("operator CLI: tenant relay-networks list, add --note and remove", async () => {
  const { env, cleanup } = await processEnv();
  const run = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await cli(args, env, (s) => out.push(s), (s) => err.push(s));
    return { code, out: out.join("\n"), err: err.join("\n") };
  };
  try {
    const created = await run(
      "tenant",
      "create",
      "--name",
      "Relay Shop",
      "--tier",
      "light",
      "--addons",
      "transactional",
    );
    assert.equal(created.code, 0, created.err);
    const add = await run(
      "tenant",
      "relay-networks",
      "relay-shop",
      "add",
      "192.0.2.0/24",
      "--note",
      "ERP",
      "--json",
    );
    assert.equal(add.code, 0, add.err);
    const row = JSON.parse(add.out);
    assert.equal(row.network, "192.0.2.0/24");
    assert.equal(row.note, "ERP");
    const list = await run("tenant", "relay-networks", "relay-shop", "list");
    assert.match(list.out, /192\.0\.2\.0\/24\s+ERP/);
    const broad = await run("tenant", "relay-networks", "relay-shop", "add", "10.0.0.0/8");
    assert.equal(broad.code, 1);
    assert.match(broad.err, /network: Too broad/);
    const removed = await run("tenant", "relay-networks", "relay-shop", "remove", row.id);
    assert.equal(removed.code, 0, removed.err);
    assert.match((await run("tenant", "relay-networks", "relay-shop", "list")).out, /no relay/);
  } finally {
    await cleanup();
  }
});
