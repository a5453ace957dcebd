// A whole Skicka app on a fresh database, with a controllable clock, for end-to-end tests.
import type { Hono } from "hono";
import { loadConfig } from "../../core/config.ts";
import { CORE_MIGRATIONS, type Database, type MigrationSource } from "../../core/db/mod.ts";
import { createLogger, silentLogger } from "../../core/log.ts";
import { type Plugin, PluginRegistry } from "../../core/plugin.ts";
import { registerMessages } from "../../core/i18n/mod.ts";
import type { AppDeps } from "../../core/deps.ts";
import { buildApp } from "../../routes/mod.ts";
import { createTenant } from "../../core/tenants/tenants.ts";
import { createUser } from "../../core/tenants/users.ts";
import { setPassword } from "../../core/auth/login.ts";
import { createApiKey, type Scope } from "../../core/auth/api_keys.ts";
import type { Tier } from "../../core/db/schema.ts";
import { freshDatabase } from "./db.ts";

export interface TestApp {
  app: Hono;
  deps: AppDeps;
  database: Database;
  /** Moves the app's clock forward. */
  advance(ms: number): void;
  close(): Promise<void>;
}

export async function testApp(
  opts: { plugins?: Plugin[]; env?: Record<string, string> } = {},
): Promise<TestApp> {
  const plugins = opts.plugins ?? [];
  const registry = new PluginRegistry(plugins);
  for (const p of plugins) if (p.messages) registerMessages(p.name, p.messages);
  const sources: MigrationSource[] = [
    { scope: "core", dir: CORE_MIGRATIONS },
    ...registry.migrationSources(),
  ];
  const database = await freshDatabase({ sources });
  let offset = 0;
  const deps: AppDeps = {
    config: loadConfig({ BASE_URL: "http://skicka.test", ...opts.env }),
    database,
    db: database.db,
    log: Deno.env.get("TEST_LOG") ? createLogger("debug", {}) : silentLogger,
    clock: () => new Date(Date.now() + offset),
    secret: "test-secret-test-secret-test-secret-0123",
    registry,
  };
  const app = await buildApp(deps);
  return {
    app,
    deps,
    database,
    advance: (ms) => void (offset += ms),
    close: () => database.close(),
  };
}

export const PASSWORD = "correct horse battery";

/** A tenant with an admin who has a password, and an API key with the given scopes. */
export async function seedTenant(
  t: TestApp,
  opts: { tier?: Tier; addons?: string[]; scopes?: Scope[]; slug?: string } = {},
) {
  const tenant = await createTenant(t.deps, {
    name: `Org ${opts.slug ?? crypto.randomUUID().slice(0, 8)}`,
    slug: opts.slug,
    tier: opts.tier ?? "light",
    addons: opts.addons ?? [],
  }, "test");
  const email = `admin@${tenant.slug}.example`;
  const { user } = await createUser(t.deps, tenant.id, { email, role: "admin" }, "test");
  await setPassword(t.deps, { kind: "user", tenantId: tenant.id, userId: user.id }, PASSWORD);
  const key = await createApiKey(t.deps, {
    tenantId: tenant.id,
    name: "test",
    scopes: opts.scopes ?? ["read", "write", "admin"],
  });
  return { tenant, user, email, key: key.key, keyId: key.id };
}

export function bearer(key: string, extra: Record<string, string> = {}): RequestInit {
  return { headers: { authorization: `Bearer ${key}`, ...extra } };
}

/** A tiny cookie jar so tests can browse the UI like a browser without JavaScript. */
export class Browser {
  cookies = new Map<string, string>();
  constructor(readonly app: Hono) {}

  get(path: string): Promise<Response> {
    return this.#send(path, { method: "GET" });
  }

  /** Posts a form; the CSRF token is taken from the last page unless `csrf` says otherwise. */
  post(path: string, form: Record<string, string | string[]>, csrf?: string | null) {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) for (const x of [v].flat()) body.append(k, x);
    const token = csrf === undefined ? this.csrf : csrf;
    if (token) body.append("_csrf", token);
    return this.#send(path, {
      method: "POST",
      body,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
  }

  csrf: string | null = null;

  async #send(path: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) {
      headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    }
    const res = await this.app.request(path, { ...init, headers });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const i = pair.indexOf("=");
      const name = pair.slice(0, i);
      const value = pair.slice(i + 1);
      if (!value || /max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const type = res.headers.get("content-type") ?? "";
    if (type.includes("html")) {
      const html = await res.clone().text();
      const m = /name="_csrf" value="([^"]+)"/.exec(html);
      if (m) this.csrf = m[1]!;
    }
    return res;
  }
}

/** A JSON API caller for one key: `await api("POST", "/persons", {...})` → status and body. */
export function apiClient(t: TestApp, key: string) {
  return async (method: string, path: string, body?: unknown) => {
    const res = await t.app.request(`/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    // deno-lint-ignore no-explicit-any -- tests check response bodies field by field
    return { status: res.status, body: await res.json() as Record<string, any> };
  };
}
