// SMTP credentials in the staff UI: an admin creates one (password shown once, stored hashed, a
// reload makes no second one), it authenticates and shows when it was last used, revoking
// stops it; staff who are not admins, other tenants and tenants without the add-on get nothing.
import assert from "node:assert/strict";
import { Browser, PASSWORD, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { createUser } from "../../core/tenants/users.ts";
import { setPassword } from "../../core/auth/login.ts";
import { sha256Hex } from "../../core/crypto.ts";
import { verifySmtpLogin } from "./credentials.ts";
import { transactionalPlugin as transactional } from "./mod.ts";

const t = await testApp({ plugins: [transactional] });
Deno.test.afterAll(() => t.close());
const org = await seedTenant(t, { slug: "cred-org", addons: ["transactional"] });
const PAGE = "/p/transactional/smtp-credentials";

async function signIn(email: string) {
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email, password: PASSWORD })).status, 303);
  return b;
}

const decode = (s: string) => s.replaceAll("&amp;", "&").replaceAll("&#39;", "'");

Deno.test("an admin creates a credential: shown once, stored hashed, a reload makes no second", async () => {
  const b = await signIn(org.email);
  const empty = await (await b.get(PAGE)).text();
  assert.match(empty, /No SMTP credentials yet/);
  assert.match(empty, /STARTTLS \(required\)/);
  const once = /name="once" value="([^"]+)"/.exec(empty)![1]!;

  const res = await b.post(PAGE, { name: "Web shop", once });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "no-store");
  const html = await res.text();
  const username = /data-testid="smtp-username">([^<]+)</.exec(html)![1]!;
  const password = decode(/data-testid="smtp-password">([^<]+)</.exec(html)![1]!);
  assert.match(username, /^smtp_[a-z0-9]{16}$/);
  assert.ok(password.length >= 40);

  const row = await t.deps.db.selectFrom("smtp_credentials" as never)
    .select(["secret_hash", "name", "last_used_at"] as never[])
    .where("tenant_id" as never, "=", org.tenant.id as never).executeTakeFirstOrThrow() as {
      secret_hash: string;
      name: string;
      last_used_at: Date | null;
    };
  assert.equal(row.secret_hash, await sha256Hex(password), "only the hash is stored");
  assert.notEqual(row.secret_hash, password);

  const again = await (await b.get(PAGE)).text();
  assert.doesNotMatch(again, new RegExp(password.replace(/[-]/g, "\\-")), "never shown again");
  assert.match(again, new RegExp(username));
  assert.match(again, /Web shop/);
  assert.match(again, /<td data-label="Last used">Never<\/td>/);

  const reload = await (await b.post(PAGE, { name: "Web shop", once })).text();
  assert.match(reload, /already submitted/);
  const count = await t.deps.db.selectFrom("smtp_credentials" as never)
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("tenant_id" as never, "=", org.tenant.id as never).executeTakeFirstOrThrow();
  assert.equal(Number(count.n), 1);

  // It authenticates, and the page says when it was last used.
  const login = await verifySmtpLogin(t.deps, username, password);
  assert.equal(login.ok, true);
  assert.doesNotMatch(await (await b.get(PAGE)).text(), /Last used">Never/);
});

Deno.test("revoking a credential stops it at once", async () => {
  const b = await signIn(org.email);
  const page = await (await b.get(PAGE)).text();
  const once = /name="once" value="([^"]+)"/.exec(page)![1]!;
  const html = await (await b.post(PAGE, { name: "ERP", once })).text();
  const username = /data-testid="smtp-username">([^<]+)</.exec(html)![1]!;
  const password = decode(/data-testid="smtp-password">([^<]+)</.exec(html)![1]!);
  const id = new RegExp(`action="${PAGE}/([0-9a-f-]{36})/revoke"`).exec(html)![1]!;
  assert.equal((await verifySmtpLogin(t.deps, username, password)).ok, true);

  const res = await b.post(`${PAGE}/${id}/revoke`, {});
  assert.equal(res.status, 303);
  const after = await (await b.get(PAGE)).text();
  assert.match(after, /Credential ERP revoked/);
  assert.match(after, /Revoked/);
  assert.deepEqual(await verifySmtpLogin(t.deps, username, password), {
    ok: false,
    reason: "invalid",
  });
});

Deno.test("non-admin staff, other tenants and tenants without the add-on cannot manage them", async () => {
  const email = "staff@cred-org.example";
  const { user } = await createUser(t.deps, org.tenant.id, { email, role: "user" }, "test");
  await setPassword(t.deps, { kind: "user", tenantId: org.tenant.id, userId: user.id }, PASSWORD);
  const staff = await signIn(email);
  assert.equal((await staff.get(PAGE)).status, 403);

  const plain = await seedTenant(t, { slug: "cred-plain" });
  const noAddon = await signIn(plain.email);
  const refused = await noAddon.get(PAGE);
  assert.equal(refused.status, 403);

  const other = await seedTenant(t, { slug: "cred-other", addons: ["transactional"] });
  const b = await signIn(other.email);
  await b.get(PAGE);
  const mine = await (await signIn(org.email)).get(PAGE);
  const id = new RegExp(`${PAGE}/([0-9a-f-]{36})/revoke`).exec(await mine.text())?.[1];
  assert.ok(id);
  assert.equal((await b.post(`${PAGE}/${id}/revoke`, {})).status, 404, "another tenant's: 404");
});
