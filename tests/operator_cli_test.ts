// The provisioning CLI, run as operators script it: real database, JSON out, clear errors.
import assert from "node:assert/strict";
import { main } from "../cli/operator.ts";
import { openDatabase } from "../core/db/mod.ts";
import { verifyApiKey } from "../core/auth/api_keys.ts";
import { consumeLoginToken } from "../core/auth/login.ts";
import { processEnv } from "./helpers/db.ts";

async function cli(env: Record<string, string>, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, env, (s) => out.push(s), (s) => err.push(s));
  return { code, out: out.join("\n"), err: err.join("\n") };
}

function json(out: string) {
  return JSON.parse(out);
}

Deno.test("operator CLI provisions a tenant, its admin and an API key, with --json output", async () => {
  const { env, cleanup } = await processEnv();
  try {
    const created = await cli(
      env,
      "tenant",
      "create",
      "--name",
      "Åbo Akademi",
      "--tier",
      "standard",
      "--json",
    );
    assert.equal(created.code, 0, created.err);
    const tenant = json(created.out);
    assert.equal(tenant.slug, "abo-akademi");
    assert.equal(tenant.tier, "standard");
    assert.equal(tenant.status, "active");

    const tier = await cli(
      env,
      "tenant",
      "set-tier",
      "abo-akademi",
      "--tier",
      "advanced",
      "--json",
    );
    assert.equal(tier.code, 0, tier.err);
    assert.equal(json(tier.out).tier, "advanced");

    const user = await cli(
      env,
      "user",
      "create",
      "--tenant",
      tenant.id,
      "--email",
      "Admin@abo.fi",
      "--role",
      "admin",
      "--json",
    );
    assert.equal(user.code, 0, user.err);
    const u = json(user.out);
    assert.equal(u.role, "admin");
    assert.match(u.setup_url, /\/password\/setup\/[\w-]{20,}$/);

    const key = await cli(
      env,
      "api-key",
      "create",
      "--tenant",
      "abo-akademi",
      "--scopes",
      "read,send",
      "--json",
    );
    assert.equal(key.code, 0, key.err);
    const k = json(key.out);
    assert.match(k.key, /^skk_/);

    const text = await cli(env, "tenant", "list");
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /abo-akademi\s+advanced\s+active/);

    const suspended = await cli(env, "tenant", "suspend", "abo-akademi", "--json");
    assert.equal(json(suspended.out).status, "suspended");

    // What the CLI printed really works against the database the server uses.
    const database = await openDatabase({
      url: env.DATABASE_URL,
      dataDir: env.DATABASE_URL ? undefined : env.DATA_DIR,
    });
    try {
      const deps = { db: database.db, clock: () => new Date() };
      const auth = await verifyApiKey(deps, k.key);
      assert.equal(auth.kind, "api_key");
      assert.equal(auth.kind === "api_key" && auth.tenant.id, tenant.id);
      assert.deepEqual(auth.kind === "api_key" && auth.scopes, ["read", "send"]);
      const token = u.setup_url.split("/").pop();
      const subject = await consumeLoginToken(deps, token);
      assert.deepEqual(subject, { kind: "user", tenantId: tenant.id, userId: u.id });
    } finally {
      await database.close();
    }
  } finally {
    await cleanup();
  }
});

Deno.test("operator CLI names the bad flag and changes nothing", async () => {
  const { env, cleanup } = await processEnv();
  try {
    const bad = await cli(env, "tenant", "create", "--name", "X Org", "--tier", "gold", "--json");
    assert.equal(bad.code, 1);
    const err = JSON.parse(bad.err).error;
    assert.equal(err.code, "validation");
    assert.match(err.message, /--tier/);

    const missing = await cli(env, "user", "create", "--tenant", "nobody", "--role", "admin");
    assert.equal(missing.code, 2);
    assert.match(missing.err, /--email is required/);

    const unknown = await cli(env, "tenant", "set-tier", "no-such-org", "--tier", "light");
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /not found/i);

    const scopes = await cli(env, "api-key", "create", "--tenant", "x", "--scopes", "root");
    assert.equal(scopes.code, 2);
    assert.match(scopes.err, /--scopes/);

    const list = await cli(env, "tenant", "list", "--json");
    assert.deepEqual(json(list.out).items, []);
  } finally {
    await cleanup();
  }
});

Deno.test("operator CLI hands out an operator API key that the operator API accepts", async () => {
  const { env, cleanup } = await processEnv();
  try {
    // The first CLI run on an empty database creates the operator, as the server would.
    const key = await cli(env, "operator", "key", "--json");
    assert.equal(key.code, 0, key.err);
    const k = json(key.out);
    assert.match(k.key, /^sko_/);
    const database = await openDatabase({
      url: env.DATABASE_URL,
      dataDir: env.DATABASE_URL ? undefined : env.DATA_DIR,
    });
    try {
      const auth = await verifyApiKey({ db: database.db, clock: () => new Date() }, k.key);
      assert.equal(auth.kind, "operator_key");
    } finally {
      await database.close();
    }
  } finally {
    await cleanup();
  }
});
