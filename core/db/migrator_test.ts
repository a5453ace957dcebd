import assert from "node:assert/strict";
import { sql } from "kysely";
import { migrate, MigrationError } from "./migrator.ts";
import { freshDatabase } from "../../tests/helpers/db.ts";

async function tempMigrations(files: Record<string, string>): Promise<URL> {
  const dir = await Deno.makeTempDir({ prefix: "skicka-mig-" });
  for (const [name, body] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, body);
  }
  return new URL(`file://${dir}/`);
}

Deno.test("migrate() applies in order, re-running is a no-op, a changed migration is refused", async () => {
  const database = await freshDatabase({ sources: [] });
  try {
    const dir = await tempMigrations({
      "0002_add_col.sql": "alter table things add column note text default 'x;y';",
      "0001_things.sql": `create table things (id int primary key);
        -- a comment with a ; in it
        create function bump(i int) returns int language sql as $$ select i + 1; $$;`,
    });
    const sources = [{ scope: "test", dir }];
    const first = await migrate(database.db, sources);
    assert.deepEqual(first.applied, ["test/0001_things.sql", "test/0002_add_col.sql"]);
    const cols = await sql<{ n: number }>`select bump(1) as n`.execute(database.db);
    assert.equal(cols.rows[0]?.n, 2);

    const again = await migrate(database.db, sources);
    assert.deepEqual(again.applied, []);

    await Deno.writeTextFile(new URL("0001_things.sql", dir), "create table things (id bigint);");
    await assert.rejects(
      () => migrate(database.db, sources),
      (e: unknown) =>
        e instanceof MigrationError && /test\/0001_things\.sql was changed after it was applied/
          .test(e.message),
    );
  } finally {
    await database.close();
  }
});

Deno.test("migrate() rolls back a failing migration completely", async () => {
  const database = await freshDatabase({ sources: [] });
  try {
    const dir = await tempMigrations({
      "0001_bad.sql": "create table half (id int);\ninsert into missing_table values (1);",
    });
    await assert.rejects(() => migrate(database.db, [{ scope: "t", dir }]), /0001_bad\.sql failed/);
    const exists = await sql<{ n: number }>`
      select count(*) as n from information_schema.tables where table_name = 'half'`
      .execute(database.db);
    assert.equal(exists.rows[0]?.n, 0);
    const recorded = await sql<{ n: number }>`select count(*) as n from schema_migrations`
      .execute(database.db);
    assert.equal(recorded.rows[0]?.n, 0);
  } finally {
    await database.close();
  }
});

Deno.test("core migrations apply and bigint counts come back as numbers", async () => {
  const database = await freshDatabase();
  try {
    const r = await sql<{ n: number; id: string }>`
      select count(*) as n, skicka_uuidv7()::text as id from tenants`.execute(database.db);
    assert.equal(r.rows[0]?.n, 0);
    assert.equal(typeof r.rows[0]?.n, "number");
    assert.match(r.rows[0]!.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab]/);
  } finally {
    await database.close();
  }
});
