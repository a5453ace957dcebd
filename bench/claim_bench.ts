// Cost of claimBatch (core/send/queue.ts): a worker claiming 500 rows under a lease from a queue
// of 100,000 ready rows spread over 10 sends of 2 tenants (fair sharing walks every send). After
// each measured claim the rows are put back untimed, so every iteration sees the same queue.
// PGlite always; PostgreSQL too when BENCH_DATABASE_URL or TEST_DATABASE_URL is set (it uses a
// database of its own, skicka_bench_claim, replaced on each run).
// Run: deno bench -A bench/claim_bench.ts
//      TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test deno bench -A bench/claim_bench.ts
import postgres from "postgres";
import { sql } from "kysely";
import { CORE_MIGRATIONS, type Database, migrate, openDatabase } from "../core/db/mod.ts";
import { PluginRegistry } from "../core/plugin.ts";
import { createTenant } from "../core/tenants/tenants.ts";
import { claimBatch, createSend } from "../core/send/queue.ts";

const ROWS = Number(Deno.env.get("BENCH_QUEUE_ROWS") ?? 100_000);
const SENDS = 10;
const BATCH = 500;
const PG_URL = Deno.env.get("BENCH_DATABASE_URL") ?? Deno.env.get("TEST_DATABASE_URL") ?? "";

async function seed(database: Database) {
  const db = database.db;
  await migrate(db, [{ scope: "core", dir: CORE_MIGRATIONS }]);
  const deps = { db, clock: () => new Date(), registry: new PluginRegistry([]) };
  for (let t = 0; t < 2; t++) {
    const tenant = await createTenant(deps, { name: `Claim Bench ${t}`, tier: "advanced" }, "b");
    for (let s = 0; s < SENDS / 2; s++) {
      const send = await createSend(deps, tenant.id, {
        kind: "mass",
        content: { from: { address: "news@bench.example" }, subject: "Hi", text: "Hi" },
        audience: {},
      }, "bench");
      await sql`update sends set status = 'sending' where tenant_id = ${tenant.id}
        and id = ${send.id}`.execute(db);
      // Ready over the last minute, in the order a real expansion and its retries leave them.
      await sql`insert into send_queue (tenant_id, send_id, id, priority, person_id, address,
          domain, ready_at, created_at)
        select ${tenant.id}, ${send.id}, gen_random_uuid(), 2, gen_random_uuid(),
          'u' || g || '@d' || (g % 50) || '.example', 'd' || (g % 50) || '.example',
          now() - interval '1 minute' + g * interval '1 ms', now()
        from generate_series(1, ${ROWS / SENDS}) g`.execute(db);
    }
  }
  await sql`analyze send_queue`.execute(db);
  return deps;
}

function claimBench(name: string, deps: Awaited<ReturnType<typeof seed>>) {
  Deno.bench({
    name,
    group: `claimBatch(${BATCH}) from ${ROWS} rows in ${SENDS} sends`,
    async fn(b) {
      b.start();
      const rows = await claimBatch(deps, "bench", { size: BATCH, leaseMs: 60_000 });
      b.end();
      if (rows.length !== BATCH) throw new Error(`claimed ${rows.length}, expected ${BATCH}`);
      await sql`update send_queue set status = 'queued', lease_until = null, leased_by = null,
          attempts = 0
        where status = 'leased'`.execute(deps.db);
    },
  });
}

const pglite = await openDatabase({});
claimBench("PGlite", await seed(pglite));

if (PG_URL) {
  const name = "skicka_bench_claim";
  const admin = postgres(PG_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  claimBench("PostgreSQL", await seed(await openDatabase({ url: url.href, poolSize: 2 })));
}
