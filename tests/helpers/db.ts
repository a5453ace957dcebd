// Fresh databases for tests: a new PostgreSQL database per call when TEST_DATABASE_URL is set,
// otherwise an in-memory PGlite cloned from a cached, already-migrated snapshot (initdb is slow).
import postgres from "postgres";
import type { PGlite } from "@electric-sql/pglite";
import {
  CORE_MIGRATIONS,
  type Database,
  migrate,
  type MigrationSource,
  openDatabase,
} from "../../core/db/mod.ts";
import { randomToken } from "../../core/crypto.ts";

export const TEST_DATABASE_URL = Deno.env.get("TEST_DATABASE_URL") ?? "";

const snapshots = new Map<string, Promise<Blob>>();

export interface FreshOptions {
  /** Migration sources to apply; [] gives an empty database. Default: the core's. */
  sources?: MigrationSource[];
}

export async function freshDatabase(opts: FreshOptions = {}): Promise<Database> {
  const sources = opts.sources ?? [{ scope: "core", dir: CORE_MIGRATIONS }];
  if (TEST_DATABASE_URL) return await freshPostgres(sources);
  const id = sources.map((s) => `${s.scope}:${s.dir.href}`).join("|");
  let snapshot = snapshots.get(id);
  if (!snapshot) {
    snapshot = (async () => {
      const db = await openDatabase({});
      await migrate(db.db, sources);
      const blob = await (db as unknown as { pglite: PGlite }).pglite.dumpDataDir("none");
      await db.close();
      return blob;
    })();
    snapshots.set(id, snapshot);
  }
  return await openDatabase({ loadDataDir: await snapshot });
}

/** An empty PostgreSQL database of its own (for tests that run Skicka as a process). */
export async function freshPostgresUrl(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `skicka_t_${randomToken(6).toLowerCase().replace(/[^a-z0-9]/g, "x")}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async drop() {
      const a = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

async function freshPostgres(sources: MigrationSource[]): Promise<Database> {
  const { url, drop } = await freshPostgresUrl();
  const db = await openDatabase({ url, poolSize: 4 });
  await migrate(db.db, sources);
  const close = db.close.bind(db);
  return {
    ...db,
    async close() {
      await close();
      await drop();
    },
  };
}

/**
 * Environment for running Skicka itself (server or CLI) on a database of its own: a fresh
 * PostgreSQL database when TEST_DATABASE_URL is set, else PGlite in a temporary DATA_DIR.
 */
export async function processEnv(): Promise<
  { env: Record<string, string>; cleanup(): Promise<void> }
> {
  const dataDir = await Deno.makeTempDir({ prefix: "skicka-test-" });
  const env: Record<string, string> = { DATA_DIR: dataDir, LOG_LEVEL: "info" };
  let drop = () => Promise.resolve();
  if (TEST_DATABASE_URL) {
    const fresh = await freshPostgresUrl();
    env.DATABASE_URL = fresh.url;
    drop = fresh.drop;
  }
  return {
    env,
    async cleanup() {
      await drop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}
