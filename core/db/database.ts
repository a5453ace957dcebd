// Opens the store: embedded PGlite by default, a PostgreSQL server when DATABASE_URL is set.
import { Kysely, PGliteDialect } from "kysely";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { PostgresJSDialect } from "kysely-postgres-js";
import type { DB } from "./schema.ts";

export type DatabaseKind = "pglite" | "postgres";

export interface Database {
  db: Kysely<DB>;
  kind: DatabaseKind;
  /** Subscribe to NOTIFY on a channel; returns an unsubscribe function. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** postgres:// URL; when empty, PGlite is used. */
  url?: string;
  /** PGlite data directory; omitted means in memory. */
  dataDir?: string;
  /** A PGlite data-dir dump to start from (fast fresh databases in tests). */
  loadDataDir?: Blob;
  poolSize?: number;
}

/**
 * PostgreSQL's int8 (bigint, count(*)) arrives as a number from PGlite and as a string from
 * postgres.js; we parse it as a number on both so the store never sees the difference.
 * Counts and ids here stay far below 2^53.
 */
const int8AsNumber = {
  to: 20,
  from: [20],
  parse: (x: string) => Number(x),
  serialize: (x: number | bigint) => x.toString(),
};

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  if (opts.url) {
    const sql = postgres(opts.url, {
      max: opts.poolSize ?? 10,
      onnotice: () => {},
      types: { int8: int8AsNumber },
      connection: { application_name: "skicka" },
    });
    const db = new Kysely<DB>({ dialect: new PostgresJSDialect({ postgres: sql }) });
    return {
      db,
      kind: "postgres",
      async listen(channel, onNotify) {
        const sub = await sql.listen(channel, onNotify);
        return () => sub.unlisten();
      },
      async close() {
        await db.destroy();
      },
    };
  }
  let unlock = () => {};
  if (opts.dataDir) {
    await Deno.mkdir(opts.dataDir, { recursive: true });
    unlock = await lockDataDir(opts.dataDir);
  }
  const pglite = new PGlite({
    dataDir: opts.dataDir ? `${opts.dataDir}/pglite` : undefined,
    loadDataDir: opts.loadDataDir,
    // Extensions the migrations create; a PostgreSQL server has them in its contrib package.
    extensions: { pg_trgm },
  });
  await pglite.waitReady;
  const db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) });
  return {
    db,
    kind: "pglite",
    async listen(channel, onNotify) {
      return await pglite.listen(channel, onNotify);
    },
    async close() {
      await db.destroy();
      if (!pglite.closed) await pglite.close();
      unlock();
    },
    // Exposed for the test helper that snapshots a migrated database.
    ...({ pglite } as object),
  };
}

/** Thrown when another live process holds the embedded database. */
export class DatabaseLockedError extends Error {
  override name = "DatabaseLockedError";
}

/**
 * PGlite is single-process: two processes on one data directory corrupt it. A lock file with
 * the holder's pid refuses a second opener; a lock left by a dead process is taken over.
 */
async function lockDataDir(dataDir: string): Promise<() => void> {
  const path = `${dataDir}/skicka.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await Deno.writeTextFile(path, String(Deno.pid), { createNew: true });
      return () => {
        try {
          Deno.removeSync(path);
        } catch { /* already gone */ }
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      const pid = Number(await Deno.readTextFile(path).catch(() => ""));
      if (pid && pid !== Deno.pid && processAlive(pid)) {
        throw new DatabaseLockedError(
          `The embedded database in ${dataDir} is in use by process ${pid}. ` +
            `PGlite allows one process: stop it first, or set DATABASE_URL to use PostgreSQL.`,
        );
      }
      await Deno.remove(path).catch(() => {});
    }
  }
  throw new DatabaseLockedError(`Could not lock ${path}`);
}

function processAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    // Without /proc (not Linux) we cannot tell; assume the lock is stale only if it is ours.
    return Deno.build.os !== "linux";
  }
}
