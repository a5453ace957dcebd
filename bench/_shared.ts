// What the PostgreSQL benches share: a database of their own (created and dropped on the server
// at BENCH_DATABASE_URL, default TEST_DATABASE_URL or the local
// postgres://postgres@127.0.0.1:5432/test), deps on it, a verified shop sender, a list of
// generated persons, a relay transport to Postfix's smtp-sink, and the figures they report.
import postgres from "postgres";
import { sql } from "kysely";
import { loadConfig } from "../core/config.ts";
import { CORE_MIGRATIONS, type Database, migrate, openDatabase } from "../core/db/mod.ts";
import type { Tier } from "../core/db/schema.ts";
import { createLogger, type Logger, silentLogger } from "../core/log.ts";
import { PluginRegistry } from "../core/plugin.ts";
import type { AppDeps } from "../core/deps.ts";
import { createTenant } from "../core/tenants/tenants.ts";
import { createSender, verifySender } from "../core/mailings/senders.ts";
import { RelayTransport } from "../core/send/smtp_transport.ts";
import { randomToken } from "../core/crypto.ts";

/** A server the bench may create and drop databases on. */
export const ADMIN_URL = Deno.env.get("BENCH_DATABASE_URL") ??
  Deno.env.get("TEST_DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/test";

/** Progress goes to stderr: stdout is the result. */
export function log(s: string) {
  console.error(s);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A new, empty database `skicka_bench_<prefix>_…` on ADMIN_URL. */
export async function freshDatabase(prefix: string) {
  const name = `skicka_bench_${prefix}_${randomToken(6).toLowerCase().replace(/[^a-z0-9]/g, "x")}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async drop() {
      const a = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

export interface BenchDatabase {
  url: string;
  database: Database;
  /** Closes the connections and drops the database. */
  close(): Promise<void>;
}

/**
 * A fresh database (see freshDatabase), open with `poolSize` connections and migrated for the core
 * and `registry`'s plugins.
 */
export async function benchDatabase(
  prefix: string,
  opts: { poolSize: number; registry?: PluginRegistry },
): Promise<BenchDatabase> {
  const fresh = await freshDatabase(prefix);
  const database = await openDatabase({ url: fresh.url, poolSize: opts.poolSize });
  const close = async () => {
    await database.close();
    await fresh.drop();
  };
  try {
    await migrate(database.db, [
      { scope: "core", dir: CORE_MIGRATIONS },
      ...(opts.registry?.migrationSources() ?? []),
    ]);
  } catch (e) {
    await close();
    throw e;
  }
  return { url: fresh.url, database, close };
}

/** Debug logs on stderr with BENCH_TRACE set; silent otherwise. */
export function traceLogger(): Logger {
  return Deno.env.get("BENCH_TRACE") ? createLogger("debug", {}) : silentLogger;
}

/** Deps on the bench's database; `config` is added to DATABASE_URL and BASE_URL. */
export function benchDeps(
  bench: BenchDatabase,
  opts: { registry?: PluginRegistry; config?: Record<string, string>; log?: Logger } = {},
): AppDeps {
  return {
    config: loadConfig({
      DATABASE_URL: bench.url,
      BASE_URL: "http://bench.skicka.test",
      ...opts.config,
    }),
    database: bench.database,
    db: bench.database.db,
    log: opts.log ?? silentLogger,
    clock: () => new Date(),
    secret: "bench-secret-bench-secret-bench-secret-0",
    registry: opts.registry ?? new PluginRegistry([]),
  };
}

export const SHOP_ADDRESS = "orders@bench.skicka.test";

/** A tenant with the transactional add-on and its verified sender "Shop" <SHOP_ADDRESS>. */
export async function benchShop(deps: AppDeps, tier: Tier) {
  const tenant = await createTenant(deps, {
    name: "Bench Shop",
    tier,
    addons: ["transactional"],
  }, "bench");
  const sender = await createSender(deps, tenant.id, {
    name: "Shop",
    address: SHOP_ADDRESS,
  }, "bench");
  await verifySender(deps, tenant.id, sender.id, "bench");
  return { tenant, sender };
}

/**
 * `n` persons "Förnamn<i> Efternamn<i>" (with "Organisation <i % 100>" if `organisations`), each
 * with the primary address user<i>@domain<i % domains>.example, all members of `listId`; then
 * analyze.
 */
export async function insertAudience(
  deps: AppDeps,
  tenantId: string,
  listId: string,
  opts: { n: number; domains: number; organisations?: boolean },
) {
  const orgColumn = opts.organisations ? sql`organisation, ` : sql``;
  const orgValue = opts.organisations ? sql`'Organisation ' || (g % 100), ` : sql``;
  await sql`insert into persons (tenant_id, id, first_name, last_name, ${orgColumn}created_at,
        updated_at)
      select ${tenantId}, skicka_uuidv7(), 'Förnamn' || g, 'Efternamn' || g, ${orgValue}now(), now()
      from generate_series(1, ${opts.n}) g`.execute(deps.db);
  await sql`insert into person_addresses (tenant_id, id, person_id, address, address_key,
        is_primary, created_at)
      select p.tenant_id, skicka_uuidv7(), p.id, a.addr, a.addr, true, now()
      from (select id, tenant_id, row_number() over (order by id) as n from persons
        where tenant_id = ${tenantId}) p,
      lateral (select 'user' || p.n || '@domain' || (p.n % ${opts.domains}) || '.example' as addr) a`
    .execute(deps.db);
  await sql`insert into list_members (tenant_id, list_id, person_id, added_at)
      select tenant_id, ${listId}, id, now() from persons where tenant_id = ${tenantId}`
    .execute(deps.db);
  await sql`analyze`.execute(deps.db);
}

/**
 * The relay transport to a sink at `host:port`, in the clear, with no limit per domain (a
 * campaign's domains all share one: it runs at full speed).
 */
export function relayToSink(host: string, port: number, maxConnections = 8) {
  return new RelayTransport(`smtp://${host}:${port}`, {
    pool: { tls: "off", maxConnections },
    concurrency: 64,
    domainLimit: { ratePerSecond: 1e9, burst: 1e9 },
  });
}

/** The `q` quantile of sorted `s` (nearest rank); NaN when empty. */
function quantile(s: number[], q: number): number {
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
}

/** The median (nearest rank, the lower of two middles) of `xs`. */
export function median(xs: number[]): number {
  return quantile([...xs].sort((a, b) => a - b), 0.5);
}

/** Count, median, p99 and max of `ms`, to a tenth. */
export function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    n: s.length,
    median: r(quantile(s, 0.5)),
    p99: r(quantile(s, 0.99)),
    max: r(s[s.length - 1] ?? NaN),
  };
}

/** The machine's 1, 5 and 15 minute load averages, as a closing line of a table. */
export function loadAverageLine(load = Deno.loadavg()): string {
  return `\n\nload average: ${load.join(", ")}`;
}
