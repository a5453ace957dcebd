import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { ZodError } from "zod";
import { freshDatabase } from "../../tests/helpers/db.ts";
import { loadConfig } from "../config.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { silentLogger } from "../log.ts";
import { PluginRegistry } from "../plugin.ts";
import { createTenant } from "../tenants/tenants.ts";
import { dkimDnsTxtValue } from "./dkim.ts";
import {
  batchSigningKeys,
  deleteTenantDkimKey,
  domainAndParents,
  generateTenantDkimKey,
  listTenantDkimKeys,
  openPrivateKey,
  sealPrivateKey,
  setTenantDkimKeyActive,
  signingKeysFor,
} from "./dkim_keys.ts";

const database = await freshDatabase();
const deps: AppDeps = {
  config: loadConfig({ BASE_URL: "http://skicka.test" }),
  database,
  db: database.db,
  log: silentLogger,
  clock: () => new Date(Date.UTC(2026, 10, 29, 10)),
  secret: "dkim-test-secret-dkim-test-secret-0123456",
  registry: new PluginRegistry([]),
};
const tenant = await createTenant(deps, { name: "Org A", tier: "light", addons: [] }, "test");
const other = await createTenant(deps, { name: "Org B", tier: "light", addons: [] }, "test");

Deno.test.afterAll(() => database.close());

Deno.test("generateTenantDkimKey() stores the private key encrypted and shows the DNS record", async () => {
  const rsa = await generateTenantDkimKey(deps, tenant.id, { domain: "Example.COM" }, "test");
  assert.equal(rsa.domain, "example.com");
  assert.equal(rsa.algorithm, "rsa");
  assert.equal(rsa.selector, "skicka-rsa-202611");
  assert.equal(rsa.dns_name, "skicka-rsa-202611._domainkey.example.com");
  assert.match(rsa.dns_txt_value, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]{300,}=*$/);
  const ed = await generateTenantDkimKey(
    deps,
    tenant.id,
    { domain: "example.com", algorithm: "ed25519" },
    "test",
  );
  assert.match(ed.dns_txt_value, /^v=DKIM1; k=ed25519; p=/);

  const stored = await deps.db.selectFrom("dkim_keys").selectAll().where(
    "tenant_id",
    "=",
    tenant.id,
  )
    .where("id", "=", rsa.id).executeTakeFirstOrThrow();
  assert.match(stored.private_key_enc, /^v1\.[\w-]{16}\.[\w-]+$/);
  assert.doesNotMatch(stored.private_key_enc, /PRIVATE|MII/);
  const pem = await openPrivateKey(
    deps.secret,
    { tenantId: tenant.id, id: rsa.id },
    stored.private_key_enc,
  );
  assert.equal(createPublicKey(pem).asymmetricKeyDetails?.modulusLength, 2048);
  assert.equal(dkimDnsTxtValue(pem), rsa.dns_txt_value);

  // The default selector never reuses a DNS name; a chosen one that is taken is refused.
  const again = await generateTenantDkimKey(deps, tenant.id, { domain: "example.com" }, "test");
  assert.equal(again.selector, "skicka-rsa-202611-2");
  await assert.rejects(
    generateTenantDkimKey(deps, tenant.id, {
      domain: "example.com",
      algorithm: "ed25519",
      selector: "skicka-rsa-202611",
    }, "test"),
    (e) => e instanceof AppError && e.code === "conflict",
  );
  await assert.rejects(
    generateTenantDkimKey(deps, tenant.id, { domain: "not a domain" }, "test"),
    (e) => e instanceof ZodError && e.issues[0]?.path[0] === "domain",
  );
  const listed = await listTenantDkimKeys(deps, tenant.id);
  assert.deepEqual(listed.map((k) => k.selector).sort(), [
    "skicka-ed25519-202611",
    "skicka-rsa-202611",
    "skicka-rsa-202611-2",
  ]);
  assert.ok(listed.every((k) => !("private_key_enc" in k)));
  assert.deepEqual(await listTenantDkimKeys(deps, other.id), []);
  for (const k of listed) await deleteTenantDkimKey(deps, tenant.id, k.id, "test");
});

Deno.test("sealPrivateKey() output opens only for its own row and secret", async () => {
  const row = { tenantId: tenant.id, id: "0192f000-0000-7000-8000-000000000001" };
  const sealed = await sealPrivateKey("secret-one", row, "PEM TEXT");
  assert.notEqual(sealed, await sealPrivateKey("secret-one", row, "PEM TEXT"));
  assert.equal(await openPrivateKey("secret-one", row, sealed), "PEM TEXT");
  await assert.rejects(openPrivateKey("secret-two", row, sealed));
  await assert.rejects(openPrivateKey("secret-one", { ...row, tenantId: other.id }, sealed));
  const flipped = sealed.slice(0, -2) + (sealed.at(-2) === "A" ? "B" : "A") + sealed.at(-1);
  await assert.rejects(openPrivateKey("secret-one", row, flipped));
});

Deno.test("domainAndParents() walks up to the registrable-looking two labels", () => {
  assert.deepEqual(domainAndParents("News.Mail.Example.com"), [
    "news.mail.example.com",
    "mail.example.com",
    "example.com",
  ]);
  assert.deepEqual(domainAndParents("localhost"), []);
});

Deno.test("signingKeysFor() picks the nearest domain's newest active keys, per tenant", async () => {
  const make = (domain: string, algorithm: "rsa" | "ed25519" = "rsa") =>
    generateTenantDkimKey(deps, tenant.id, { domain, algorithm }, "test");
  const parentRsa = await make("shop.example");
  const parentEd = await make("shop.example", "ed25519");
  const childRsa = await make("news.shop.example");

  const forParent = await signingKeysFor(deps, tenant.id, "mail.shop.example");
  assert.deepEqual(forParent.map((k) => [k.id, k.algorithm, k.domain]), [
    [parentEd.id, "ed25519", "shop.example"],
    [parentRsa.id, "rsa", "shop.example"],
  ]);
  assert.match(forParent[1]!.privateKeyPem, /^-----BEGIN PRIVATE KEY-----/);
  assert.equal(dkimDnsTxtValue(forParent[1]!.privateKeyPem), parentRsa.dns_txt_value);
  // The From domain's own key wins over its parent's, even when it has only an RSA key.
  assert.deepEqual((await signingKeysFor(deps, tenant.id, "news.shop.example")).map((k) => k.id), [
    childRsa.id,
  ]);
  // Other tenants and unrelated domains get nothing.
  assert.deepEqual(await signingKeysFor(deps, other.id, "news.shop.example"), []);
  assert.deepEqual(await signingKeysFor(deps, tenant.id, "elsewhere.example"), []);

  // A deactivated key stops signing at once in this process (the cache is dropped)…
  await setTenantDkimKeyActive(deps, tenant.id, childRsa.id, false, "test");
  assert.deepEqual((await signingKeysFor(deps, tenant.id, "news.shop.example")).map((k) => k.id), [
    parentEd.id,
    parentRsa.id,
  ]);
  // …and a newer key of the same algorithm replaces the older one.
  const newer = await make("shop.example");
  assert.deepEqual((await signingKeysFor(deps, tenant.id, "shop.example")).map((k) => k.id), [
    parentEd.id,
    newer.id,
  ]);
  await assert.rejects(
    setTenantDkimKeyActive(deps, other.id, newer.id, false, "test"),
    (e) => e instanceof AppError && e.code === "not_found",
  );
  await assert.rejects(
    deleteTenantDkimKey(deps, other.id, newer.id, "test"),
    (e) => e instanceof AppError && e.code === "not_found",
  );
  const audit = await deps.db.selectFrom("audit_log").select("action")
    .where("tenant_id", "=", tenant.id).where("target", "=", childRsa.id).execute();
  assert.deepEqual(audit.map((a) => a.action).sort(), ["dkim_key.create", "dkim_key.deactivate"]);
});

Deno.test("batchSigningKeys() gathers each key once for a batch of tenants and From domains", async () => {
  const key = await generateTenantDkimKey(deps, tenant.id, { domain: "batch.example" }, "test");
  const batch = await batchSigningKeys(deps, [
    { tenantId: tenant.id, fromDomain: "a.batch.example" },
    { tenantId: tenant.id, fromDomain: "B.batch.example" },
    { tenantId: other.id, fromDomain: "a.batch.example" },
  ]);
  assert.deepEqual(Object.keys(batch.keys), [key.id]);
  assert.equal(batch.keys[key.id]!.selector, key.selector);
  assert.deepEqual(batch.idsFor(tenant.id, "b.batch.example"), [key.id]);
  assert.deepEqual(batch.idsFor(tenant.id, "a.batch.example"), [key.id]);
  assert.deepEqual(batch.idsFor(other.id, "a.batch.example"), []);
  assert.deepEqual(batch.idsFor(tenant.id, "never.asked.example"), []);
  assert.equal(batch.failed(tenant.id, "a.batch.example"), undefined);

  // A key that no longer decrypts fails its own tenant's lookups only.
  const broken = await generateTenantDkimKey(deps, other.id, { domain: "broken.example" }, "test");
  await deps.db.updateTable("dkim_keys").set({ private_key_enc: "v1.AAAAAAAAAAAAAAAA.AAAA" })
    .where("tenant_id", "=", other.id).where("id", "=", broken.id).execute();
  const mixed = await batchSigningKeys(deps, [
    { tenantId: other.id, fromDomain: "broken.example" },
    { tenantId: tenant.id, fromDomain: "batch.example" },
  ]);
  assert.match(mixed.failed(other.id, "broken.example") ?? "", /^DKIM keys unavailable: /);
  assert.deepEqual(mixed.idsFor(tenant.id, "batch.example"), [key.id]);
  assert.equal(mixed.failed(tenant.id, "batch.example"), undefined);
});
