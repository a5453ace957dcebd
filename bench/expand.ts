// deno task bench:expand — expanding a 1,000,000-recipient audience into the send queue on
// PostgreSQL: the time of the one INSERT … SELECT and this process's peak RSS (flat: the
// audience never passes through it). Ends with one JSON line.
//
// Env: BENCH_N (default 1000000), BENCH_DATABASE_URL (default TEST_DATABASE_URL or the local
// postgres://postgres@127.0.0.1:5432/test; the bench creates and drops its own database).
import { sql } from "kysely";
import { PluginRegistry } from "../core/plugin.ts";
import { createTenant } from "../core/tenants/tenants.ts";
import { createSegment } from "../core/people/saved_segments.ts";
import { createSend, expandSend } from "../core/send/queue.ts";
import { listPersons } from "../core/people/persons.ts";
import { uuidv7Block } from "../core/db/ids.ts";
import { benchDatabase, median } from "./_shared.ts";

const N = Number(Deno.env.get("BENCH_N") ?? 1_000_000);

const bench = await benchDatabase("expand", { poolSize: 4 });
try {
  const db = bench.database.db;
  const deps = { db, clock: () => new Date(), registry: new PluginRegistry([]) };
  const tenant = await createTenant(deps, { name: "Expand Bench", tier: "advanced" }, "bench");
  console.error(`generating ${N} persons…`);
  const t0 = performance.now();
  // 2% deceased, 1% without an address, 1% undeliverable: exclusions to count. Ids as
  // expandSend makes them (uuidv7Block), numbered by g: drawing random bytes per row would make
  // the set-up slower than what is measured.
  const pid = uuidv7Block();
  await sql`insert into persons (tenant_id, id, first_name, organisation, tags, status,
      created_at, updated_at)
    select ${tenant.id},
      (${pid.prefix}::text || lpad(to_hex(${pid.base}::bigint + g), 12, '0'))::uuid,
      'P' || g, 'Org ' || (g % 500),
      case when g % 3 = 0 then array['alumni'] else array['staff'] end,
      case when g % 50 = 0 then 'deceased' else 'active' end, now(), now()
    from generate_series(1, ${N}) g`.execute(db);
  const aid = uuidv7Block();
  await sql`insert into person_addresses (tenant_id, id, person_id, address, address_key,
      is_primary, undeliverable_at, created_at)
    select tenant_id,
      (${aid.prefix}::text || lpad(to_hex(${aid.base}::bigint + n), 12, '0'))::uuid, id,
      'u' || n || '@d' || (n % 50) || '.example', 'u' || n || '@d' || (n % 50) || '.example',
      true, case when n % 100 = 1 then now() end, now()
    from (select tenant_id, id, status, substr(first_name, 2)::bigint as n from persons) p
    where status = 'active' and n % 100 <> 2`.execute(db);
  await sql`vacuum analyze`.execute(db);
  // The set-up wrote ~1 GB of WAL: without a checkpoint now, the one it forces lands inside the
  // measured expansion (superuser only; elsewhere the measurement just includes it).
  await sql`checkpoint`.execute(db).catch(() => {});
  console.error(`generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // Everyone, through two overlapping segments (each person must still be queued once).
  const all = await createSegment(deps, tenant.id, {
    name: "Alumni",
    definition: { op: "and", conditions: [{ tag: "alumni", has: true }] },
  }, "bench");
  const rest = await createSegment(deps, tenant.id, {
    name: "Everyone",
    definition: { op: "and", conditions: [] },
  }, "bench");
  const send = await createSend(deps, tenant.id, {
    kind: "mass",
    content: { from: { address: "news@bench.example" }, subject: "Hi", text: "Hi" },
    audience: { segments: [all.id, rest.id] },
  }, "bench");

  let peak = Deno.memoryUsage().rss;
  const timer = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 20);
  const t1 = performance.now();
  const result = await expandSend(deps, tenant.id, send.id, "bench");
  const seconds = (performance.now() - t1) / 1000;
  clearInterval(timer);
  console.error(`queued ${result.total}, excluded ${JSON.stringify(result.excluded)}`);
  console.error(`expansion: ${seconds.toFixed(2)} s, peak RSS ${Math.round(peak / 2 ** 20)} MB`);
  // The staff search box on the same million: a name part, and the start of an address.
  const search: Record<string, number> = {};
  for (const q of ["P123456", "u777@d", "org 42"]) {
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t = performance.now();
      await listPersons({ db }, tenant.id, { q, status: "active" }, { limit: 50 });
      times.push(performance.now() - t);
    }
    search[q] = Math.round(median(times));
  }
  console.error(`person search medians (ms): ${JSON.stringify(search)}`);
  console.log(JSON.stringify({
    n: N,
    queued: result.total,
    excluded: result.excluded,
    expand_s: Number(seconds.toFixed(2)),
    peak_rss_mb: Math.round(peak / 2 ** 20),
    search_ms: search,
  }));
} finally {
  await bench.close();
}
