// Applies core and plugin SQL migrations in order, each in its own transaction, recorded by checksum.
import { type Kysely, sql } from "kysely";
import { splitSql } from "./sql_split.ts";
import { sha256Hex } from "../crypto.ts";

export interface MigrationSource {
  /** "core" or a plugin name: migrations are numbered per scope. */
  scope: string;
  /** Folder holding NNNN_name.sql files. */
  dir: URL;
}

export interface Migration {
  scope: string;
  name: string;
  checksum: string;
  sql: string;
}

export class MigrationError extends Error {
  override name = "MigrationError";
}

export interface MigrateResult {
  applied: string[];
}

// An arbitrary constant: every process that migrates takes the same advisory lock.
const LOCK_KEY = 7_391_202_611;

export async function readMigrations(source: MigrationSource): Promise<Migration[]> {
  const found: Migration[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(source.dir));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  for (const entry of entries) {
    if (!entry.isFile || !entry.name.endsWith(".sql")) continue;
    if (!/^\d{4}_[a-z0-9_]+\.sql$/.test(entry.name)) {
      throw new MigrationError(
        `Migration file ${source.scope}/${entry.name} must be named NNNN_snake_case.sql`,
      );
    }
    const text = (await Deno.readTextFile(new URL(entry.name, source.dir))).replace(/\r\n/g, "\n");
    found.push({
      scope: source.scope,
      name: entry.name,
      checksum: await sha256Hex(text),
      sql: text,
    });
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Applies pending migrations; a migration whose file changed after it was applied stops
 * everything, because the database no longer matches what the code believes it ran.
 */
export async function migrate(
  // deno-lint-ignore no-explicit-any -- runs before and beside any typed schema
  db: Kysely<any>,
  sources: MigrationSource[],
): Promise<MigrateResult> {
  const all = (await Promise.all(sources.map(readMigrations))).flat();
  await sql`create table if not exists schema_migrations (
    scope text not null,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now(),
    primary key (scope, name)
  )`.execute(db);

  const applied = await appliedChecksums(db);
  for (const m of all) {
    const previous = applied.get(key(m));
    if (previous !== undefined && previous !== m.checksum) {
      throw new MigrationError(
        `Migration ${m.scope}/${m.name} was changed after it was applied ` +
          `(recorded checksum ${previous.slice(0, 12)}…, file now ${m.checksum.slice(0, 12)}…). ` +
          `Restore the original file and put the change in a new migration.`,
      );
    }
  }

  const done: string[] = [];
  for (const m of all) {
    if (applied.has(key(m))) continue;
    await db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${LOCK_KEY})`.execute(trx);
      // Another process may have applied it while we waited for the lock.
      const again = await sql<{ checksum: string }>`
        select checksum from schema_migrations where scope = ${m.scope} and name = ${m.name}`
        .execute(trx);
      if (again.rows.length > 0) return;
      for (const statement of splitSql(m.sql)) {
        try {
          await sql.raw(statement).execute(trx);
        } catch (e) {
          throw new MigrationError(
            `Migration ${m.scope}/${m.name} failed: ${(e as Error).message}\n  in: ${
              statement.slice(0, 200)
            }`,
          );
        }
      }
      await sql`insert into schema_migrations (scope, name, checksum)
        values (${m.scope}, ${m.name}, ${m.checksum})`.execute(trx);
      done.push(key(m));
    });
  }
  return { applied: done };
}

// deno-lint-ignore no-explicit-any
async function appliedChecksums(db: Kysely<any>): Promise<Map<string, string>> {
  const rows = await sql<{ scope: string; name: string; checksum: string }>`
    select scope, name, checksum from schema_migrations`.execute(db);
  return new Map(rows.rows.map((r) => [`${r.scope}/${r.name}`, r.checksum]));
}

function key(m: { scope: string; name: string }): string {
  return `${m.scope}/${m.name}`;
}
