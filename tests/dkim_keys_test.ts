// Per-tenant DKIM keys end to end: admins manage them over the API and in the settings UI, and
// the send worker signs each tenant's mail with its own keys, verified as a receiver would.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { dkimVerify } from "mailauth";
import { apiClient, Browser, PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { createUser } from "../core/tenants/users.ts";
import { setPassword } from "../core/auth/login.ts";
import { createSend, expandSend } from "../core/send/queue.ts";
import { SendWorker } from "../core/send/worker.ts";
import { RelayTransport } from "../core/send/smtp_transport.ts";
import { RenderPool } from "../core/send/render_pool.ts";
import { startSmtpServer } from "../core/smtp/_test_servers.ts";

const t = await testApp();
Deno.test.afterAll(() => t.close());

/** A DNS stand-in that serves exactly the TXT records the API told the admin to publish. */
function resolverFor(records: Record<string, string>[]) {
  const byName = new Map(records.map((r) => [r.dns_name!, r.dns_txt_value!]));
  return (name: string, type: string): Promise<string[][]> => {
    const value = byName.get(name);
    if (type !== "TXT" || value === undefined) {
      return Promise.reject(Object.assign(new Error(`ENOTFOUND ${name}`), { code: "ENOTFOUND" }));
    }
    return Promise.resolve([value.match(/.{1,255}/g) ?? []]);
  };
}

Deno.test("DKIM keys API: admins generate, list, deactivate and delete their own keys", async () => {
  const org = await seedTenant(t, { slug: "dkim-api" });
  const other = await seedTenant(t, { slug: "dkim-api-other" });
  const writer = await seedTenant(t, { slug: "dkim-api-writer", scopes: ["read", "write"] });
  const api = apiClient(t, org.key);

  const rsa = await api("POST", "/dkim-keys", { domain: "Mail.Example.org" });
  assert.equal(rsa.status, 201, JSON.stringify(rsa.body));
  assert.equal(rsa.body.domain, "mail.example.org");
  assert.equal(rsa.body.algorithm, "rsa");
  assert.equal(rsa.body.dns_name, `${rsa.body.selector}._domainkey.mail.example.org`);
  assert.match(rsa.body.dns_txt_value, /^v=DKIM1; k=rsa; p=/);
  assert.equal(rsa.body.private_key_enc, undefined);
  const ed = await api("POST", "/dkim-keys", {
    domain: "mail.example.org",
    algorithm: "ed25519",
    selector: "ed1",
  });
  assert.equal(ed.status, 201);
  assert.equal(ed.body.dns_name, "ed1._domainkey.mail.example.org");

  const taken = await api("POST", "/dkim-keys", { domain: "mail.example.org", selector: "ed1" });
  assert.equal(taken.status, 409);
  const bad = await api("POST", "/dkim-keys", { domain: "no spaces.example", algorithm: "dsa" });
  assert.equal(bad.status, 400);
  const badFields = (bad.body.error.details as { path: string }[]).map((d) => d.path).sort();
  assert.deepEqual(badFields, ["algorithm", "domain"]);

  const list = await api("GET", "/dkim-keys");
  assert.deepEqual(
    list.body.items.map((k: { id: string }) => k.id).sort(),
    [ed.body.id, rsa.body.id].sort(),
  );
  // Keys are the admin's business, and each tenant sees only its own.
  assert.equal((await apiClient(t, writer.key)("GET", "/dkim-keys")).status, 403);
  assert.equal(
    (await apiClient(t, writer.key)("POST", "/dkim-keys", { domain: "x.example" })).status,
    403,
  );
  assert.deepEqual((await apiClient(t, other.key)("GET", "/dkim-keys")).body.items, []);
  const foreign = await apiClient(t, other.key)("PATCH", `/dkim-keys/${rsa.body.id}`, {
    active: false,
  });
  assert.equal(foreign.status, 404);
  assert.equal((await apiClient(t, other.key)("DELETE", `/dkim-keys/${rsa.body.id}`)).status, 404);

  const off = await api("PATCH", `/dkim-keys/${rsa.body.id}`, { active: false });
  assert.equal(off.status, 200);
  assert.equal(off.body.active, false);
  const deleted = await t.app.request(`/api/v1/dkim-keys/${ed.body.id}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${org.key}` },
  });
  assert.equal(deleted.status, 204);
  const after = await api("GET", "/dkim-keys");
  assert.deepEqual(after.body.items.map((k: { id: string; active: boolean }) => [k.id, k.active]), [
    [rsa.body.id, false],
  ]);
  const doc = await (await t.app.request("/api/v1/openapi.json")).json();
  assert.ok(doc.paths["/dkim-keys"]?.post, "documented in OpenAPI");
});

Deno.test("DKIM settings page: an admin generates a key and sees the DNS record; staff cannot", async () => {
  const org = await seedTenant(t, { slug: "dkim-ui" });
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email: org.email, password: PASSWORD })).status, 303);
  const empty = await (await b.get("/settings/dkim")).text();
  assert.match(empty, /No DKIM keys yet/);
  assert.match(empty, /href="\/settings\/dkim"/, "in the admin's navigation");

  const bad = await b.post("/settings/dkim", { domain: "not a domain", algorithm: "rsa" });
  assert.equal(bad.status, 400);
  const badHtml = await bad.text();
  assert.match(badHtml, /domain: /);
  assert.match(badHtml, /value="not a domain"/, "what was typed is kept");

  const made = await b.post("/settings/dkim", { domain: "news.example", algorithm: "ed25519" });
  assert.equal(made.status, 303);
  const page = await (await b.get("/settings/dkim")).text();
  const [key] = await apiClient(t, org.key)("GET", "/dkim-keys").then((r) => r.body.items);
  assert.match(
    page,
    new RegExp(`Publish its TXT record at ${key.dns_name.replaceAll(".", "\\.")}`),
  );
  assert.ok(page.includes(key.dns_txt_value), "the TXT value is shown to copy");
  assert.equal((await b.post(`/settings/dkim/${key.id}/active`, { active: "false" })).status, 303);
  assert.match(await (await b.get("/settings/dkim")).text(), /Inactive/);
  assert.equal((await b.post(`/settings/dkim/${key.id}/delete`, {})).status, 303);
  assert.match(await (await b.get("/settings/dkim")).text(), /No DKIM keys yet/);

  const { user } = await createUser(t.deps, org.tenant.id, {
    email: "staff@dkim-ui.example",
    role: "user",
  }, "test");
  await setPassword(t.deps, { kind: "user", tenantId: org.tenant.id, userId: user.id }, PASSWORD);
  const staff = new Browser(t.app);
  await staff.get("/login");
  await staff.post("/login", { email: "staff@dkim-ui.example", password: PASSWORD });
  assert.equal((await staff.get("/settings/dkim")).status, 403);
});

for (const pooled of [false, true]) {
  Deno.test(`send worker${pooled ? " (render pool)" : ""} signs each tenant's mail with its own keys`, async () => {
    const server = await startSmtpServer();
    const signed = await seedTenant(t, { slug: `dkim-send-${pooled}` });
    const plain = await seedTenant(t, { slug: `dkim-plain-${pooled}` });
    const api = apiClient(t, signed.key);
    const rsa = (await api("POST", "/dkim-keys", { domain: "uni.example" })).body;
    const ed =
      (await api("POST", "/dkim-keys", { domain: "uni.example", algorithm: "ed25519" })).body;
    // Another tenant's key for the same domain must never sign the first tenant's mail.
    const intruder =
      (await apiClient(t, plain.key)("POST", "/dkim-keys", { domain: "other.example" }))
        .body;
    const sendFor = async (tenantId: string, from: string, to: string[]) => {
      const s = await createSend(t.deps, tenantId, {
        kind: "single",
        content: { from: { address: from }, subject: "Hej {{email}}", text: "Välkommen!" },
        audience: { addresses: to },
      }, "test");
      await expandSend(t.deps, tenantId, s.id, "test");
    };
    await sendFor(signed.tenant.id, "news@alumni.uni.example", ["a@x.example", "b@y.example"]);
    await sendFor(plain.tenant.id, "info@uni.example", ["c@z.example"]);
    const pool = pooled ? new RenderPool(2) : undefined;
    const worker = new SendWorker(
      t.deps,
      new RelayTransport(`smtp://127.0.0.1:${server.port}`, { pool: { tls: "off" } }),
      { renderPool: pool },
    );
    try {
      let n = 0;
      for (let got = await worker.runOnce(); got > 0; got = await worker.runOnce()) n += got;
      assert.equal(n, 3);
      assert.equal(server.received.length, 3);
      const resolver = resolverFor([rsa, ed, intruder]);
      for (const got of server.received) {
        const raw = Buffer.from(got.body).toString("utf8");
        const results = (await dkimVerify(raw, { resolver })).results;
        if (got.to[0] === "c@z.example") {
          assert.doesNotMatch(raw, /^DKIM-Signature:/m, "a tenant without keys sends unsigned");
          continue;
        }
        // The From domain's parent holds the keys: d=uni.example, one signature per algorithm.
        assert.deepEqual(
          results.map((r) => [r.algo, r.signingDomain, r.selector, r.status.result]).sort(),
          [
            ["ed25519-sha256", "uni.example", ed.selector, "pass"],
            ["rsa-sha256", "uni.example", rsa.selector, "pass"],
          ],
        );
      }
      // Deactivating the Ed25519 key leaves RSA alone on the next message.
      await api("PATCH", `/dkim-keys/${ed.id}`, { active: false });
      await sendFor(signed.tenant.id, "news@uni.example", ["d@x.example"]);
      assert.equal(await worker.runOnce(), 1);
      const last = Buffer.from(server.received.at(-1)!.body).toString("utf8");
      const lastResults = (await dkimVerify(last, { resolver })).results;
      assert.deepEqual(lastResults.map((r) => [r.algo, r.status.result]), [["rsa-sha256", "pass"]]);
    } finally {
      await worker.stop();
      pool?.close();
      await server.close();
    }
  });
}
