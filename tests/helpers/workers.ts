// Racing workers on PostgreSQL: a fresh, migrated database, and deps for workers that each run on
// connections of their own (as separate worker processes would) while sharing one clock that the
// test moves. PGlite is one connection, so callers need TEST_DATABASE_URL.
import { CORE_MIGRATIONS, type Database, migrate, openDatabase } from "../../core/db/mod.ts";
import { loadConfig } from "../../core/config.ts";
import { silentLogger } from "../../core/log.ts";
import type { PluginRegistry } from "../../core/plugin.ts";
import type { AppDeps } from "../../core/deps.ts";
import { freshPostgresUrl } from "./db.ts";

export interface RaceDatabase {
  /** The fresh database's URL (for worker processes of their own). */
  url: string;
  /** The test's own connections. */
  database: Database;
  /** Deps on the test's own connections. */
  deps: AppDeps;
  /** Deps on `db`, with the shared clock and registry. */
  depsFor(db: Database): AppDeps;
  /** The shared clock: now, moved by every `advance`. */
  clock(): Date;
  /** Moves the shared clock by `ms` (negative moves it back). */
  advance(ms: number): void;
  /** Opens `n` further connection pools on the database; the caller closes them. */
  connections(n: number, poolSize?: number): Promise<Database[]>;
  /** Closes the test's connections and drops the database. */
  close(): Promise<void>;
}

/** A fresh PostgreSQL database migrated for the core and `registry`'s plugins. */
export async function raceDatabase(registry: PluginRegistry): Promise<RaceDatabase> {
  const fresh = await freshPostgresUrl();
  const database = await openDatabase({ url: fresh.url, poolSize: 4 });
  await migrate(database.db, [
    { scope: "core", dir: CORE_MIGRATIONS },
    ...registry.migrationSources(),
  ]);
  let offset = 0;
  const clock = () => new Date(Date.now() + offset);
  const depsFor = (db: Database): AppDeps => ({
    config: loadConfig({ BASE_URL: "http://skicka.test" }),
    database: db,
    db: db.db,
    log: silentLogger,
    clock,
    secret: "test-secret-test-secret-test-secret-0123",
    registry,
  });
  return {
    url: fresh.url,
    database,
    deps: depsFor(database),
    depsFor,
    clock,
    advance: (ms) => void (offset += ms),
    connections: (n, poolSize) =>
      Promise.all(
        Array.from({ length: n }, () =>
          openDatabase(poolSize === undefined ? { url: fresh.url } : { url: fresh.url, poolSize })),
      ),
    async close() {
      await database.close();
      await fresh.drop();
    },
  };
}
