// Segment counts on a million persons in PostgreSQL: the editor's live count, a name search, a
// send audience. The data is generated set-based in SQL into a fresh database, then analysed.
// Run: BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test deno bench -A bench/segments_bench.ts
// (TEST_DATABASE_URL works too; BENCH_PERSONS changes the size, BENCH_EXPLAIN=1 prints plans.)
import postgres from "postgres";
import { type Kysely, sql } from "kysely";
import { CORE_MIGRATIONS, type DB, migrate, openDatabase } from "../core/db/mod.ts";
import {
  audiencePredicate,
  audienceQuery,
  compileSegment,
  countSegment,
} from "../core/people/segments.ts";
import { createSegment } from "../core/people/saved_segments.ts";
import type { Group } from "../core/people/segment_definition.ts";

const url = Deno.env.get("BENCH_DATABASE_URL") ?? Deno.env.get("TEST_DATABASE_URL") ?? "";
const PERSONS = Number(Deno.env.get("BENCH_PERSONS") ?? 1_000_000);
const DB_NAME = "skicka_bench_segments";
const TENANT = "01900000-0000-7000-8000-000000000001";
const OTHER_TENANT = "01900000-0000-7000-8000-000000000002";
const LIST_Z = "01900000-0000-7000-8000-0000000000a1";
const LIST_BIG = "01900000-0000-7000-8000-0000000000a2";

/** Drops and recreates the bench database (one name, so reruns leave nothing behind). */
async function freshDatabaseUrl(base: string): Promise<string> {
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${DB_NAME} with (force)`);
  await admin.unsafe(`create database ${DB_NAME}`);
  await admin.end();
  const u = new URL(base);
  u.pathname = `/${DB_NAME}`;
  return u.href;
}

async function time<T>(label: string, f: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const r = await f();
  console.log(`  ${label}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return r;
}

/** One million persons of one tenant (plus a smaller second tenant), all in SQL. */
async function generate(db: Kysely<DB>, n: number): Promise<void> {
  console.log(`segments_bench: generating ${n.toLocaleString("en")} persons in ${DB_NAME}`);
  await sql`insert into tenants (id, slug, name, tier, addons, created_at, updated_at) values
    (${TENANT}, 'bench', 'Bench', 'advanced', '{}', now(), now()),
    (${OTHER_TENANT}, 'bench-other', 'Other', 'light', '{}', now(), now())`.execute(db);
  // Time-ordered ids like uuidv7: 48-bit milliseconds, version 7, variant 8, then the number.
  await sql`create function bench_id(t int, i bigint) returns uuid language sql immutable as $$
    select (lpad(to_hex(1700000000000 + i), 12, '0') || '7' || lpad(to_hex(t), 3, '0') || '8'
      || lpad(to_hex(i), 15, '0'))::uuid $$`.execute(db);
  await sql`insert into custom_fields (tenant_id, key, label, type, created_at)
    values (${TENANT}, 'size', 'Size', 'number', now())`.execute(db);
  await sql`insert into lists (tenant_id, id, name, created_at, updated_at) values
    (${TENANT}, ${LIST_Z}, 'Z', now(), now()), (${TENANT}, ${LIST_BIG}, 'Big', now(), now())`
    .execute(db);

  for (const [tenant, t, count] of [[TENANT, 1, n], [OTHER_TENANT, 2, n / 10]] as const) {
    await time(
      `persons of tenant ${t}`,
      () =>
        sql`insert into persons (tenant_id, id, first_name, last_name, organisation, title,
          language, custom, tags, status, created_at, updated_at)
        select ${tenant}::uuid, bench_id(${t}, i),
          (array['Anna','Erik','Lars','Karin','Maria','Johan','Eva','Nils','Sara','Olof','Ida',
            'Matti','Liisa','Jens','Mette','Sven','Greta','Timo','Aino','Frida'])[1 + i % 20],
          (array['Lind','Berg','Sjö','Holm','Ek','Dahl','Ström','Nord','Sand','Lund','Kall',
            'Virta','Mäki','Koski','Han','Jør'])[1 + (i / 20) % 16]
            || (array['qvist','gren','ström','berg','man','son','sen','nen','la','ström','dahl',
              'blad','ling','fors'])[1 + (i / 320) % 14]
            || case when i % 7 = 0 then '-' || (array['Ahl','Bo','Cy'])[1 + i % 3] else '' end,
          (array['Acme','Nordic','Baltic','Svea','Fenno','Dansk','Global','Green','Polar',
            'Viking','Aurora','Fjord'])[1 + (i / 3) % 12] || ' ' ||
            (array['AB','Oy','ApS','Group','Consulting','Labs','Trading'])[1 + (i / 36) % 7]
            || ' ' || (i % 5000),
          (array['', 'CEO', 'Engineer', 'Teacher', 'Nurse', 'Designer'])[1 + i % 6],
          (array['sv','en','fi','da',null])[1 + i % 5],
          jsonb_build_object('size', i % 500),
          case when i % 20 = 0 then array['vip'] else '{}'::text[] end
            || case when i % 3 = 0 then array['newsletter'] else '{}'::text[] end
            || case when i % 11 = 0 then array['customer'] else '{}'::text[] end,
          case when i % 50 = 0 then 'deleted' when i % 199 = 0 then 'deceased' else 'active' end,
          now() - (i % 1500) * interval '1 day', now() - (i % 300) * interval '1 day'
        from generate_series(1, ${count}::bigint) i`.execute(db),
    );
    // Nine in ten have an address; every 25th has a second, typed one.
    await time(
      `addresses of tenant ${t}`,
      () =>
        sql`insert into person_addresses (tenant_id, id, person_id, address, address_key,
          is_primary, type, created_at)
        select ${tenant}::uuid, bench_id(${t} + 100, i), bench_id(${t}, i),
          'p' || i || '@example.org', 'p' || i || '@example.org', true, null, now()
        from generate_series(1, ${count}::bigint) i where i % 10 <> 0
        union all
        select ${tenant}::uuid, bench_id(${t} + 200, i), bench_id(${t}, i),
          'w' || i || '@work.example', 'w' || i || '@work.example', false, 'work', now()
        from generate_series(25, ${count}::bigint, 25) i`.execute(db),
    );
  }
  await time(
    "list members",
    () =>
      sql`insert into list_members (tenant_id, list_id, person_id, added_at)
      select ${TENANT}::uuid, ${LIST_Z}::uuid, bench_id(1, i), now()
      from generate_series(7, ${n}::bigint, 20) i
      union all
      select ${TENANT}::uuid, ${LIST_BIG}::uuid, bench_id(1, i), now()
      from generate_series(1, ${n}::bigint, 3) i`.execute(db),
  );
  await time("vacuum analyze", () => sql`vacuum analyze`.execute(db));
}

const CASES: Record<string, Group> = {
  "(organisation contains X AND tag Y) OR list Z": {
    op: "or",
    conditions: [
      {
        op: "and",
        conditions: [
          { field: "organisation", match: "contains", value: "acme" },
          { tag: "vip", has: true },
        ],
      },
      { list: LIST_Z, member: true },
    ],
  },
  "name contains (trigram index)": {
    op: "and",
    conditions: [{ field: "name", match: "contains", value: "karin kalls" }],
  },
  "organisation contains, selective": {
    op: "and",
    conditions: [{ field: "organisation", match: "contains", value: "fenno labs 12" }],
  },
  "custom number equals": {
    op: "and",
    conditions: [{ field: "custom.size", match: "equals", value: "42" }],
  },
  "organisation equals (expression index)": {
    op: "and",
    conditions: [{ field: "organisation", match: "equals", value: "fenno ab 12" }],
  },
  "tag AND NOT tag AND has work address": {
    op: "and",
    conditions: [
      { tag: "customer", has: true },
      { tag: "newsletter", has: false },
      { has_address: true, type: "work" },
    ],
  },
  "custom number equals OR language, created in a range": {
    op: "and",
    conditions: [
      {
        op: "or",
        conditions: [
          { field: "custom.size", match: "equals", value: "42" },
          { field: "language", match: "equals", value: "da" },
        ],
      },
      { created: { from: "2024-01-01", to: "2024-12-31" } },
    ],
  },
  "everyone (empty AND)": { op: "and", conditions: [] },
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function run(base: string): Promise<void> {
  const benchUrl = await freshDatabaseUrl(base);
  const database = await openDatabase({ url: benchUrl, poolSize: 2 });
  const db = database.db;
  await migrate(db, [{ scope: "core", dir: CORE_MIGRATIONS }]);
  await generate(db, PERSONS);
  const deps = { db };

  const saved = await Promise.all(
    ["(organisation contains X AND tag Y) OR list Z", "tag AND NOT tag AND has work address"].map(
      (name) =>
        createSegment(
          { db, clock: () => new Date() },
          TENANT,
          { name, definition: CASES[name]! },
          "bench",
        ),
    ),
  );
  const segmentIds = saved.map((s) => s.id);
  const cases: [string, () => Promise<number>][] = [
    ...Object.entries(CASES).map(([name, def]) =>
      [`count: ${name}`, () => countSegment(deps, TENANT, def)] as [string, () => Promise<number>]
    ),
    [
      "audience: 2 overlapping segments + list Big (count of distinct persons)",
      async () => {
        const q = await audienceQuery(db, TENANT, segmentIds, [LIST_BIG]);
        const r = await db.selectFrom(q.as("x")).select(sql<number>`count(*)`.as("n"))
          .executeTakeFirstOrThrow();
        return Number(r.n);
      },
    ],
    [
      "audiencePredicate (every status) in a WHERE: same audience",
      async () => {
        const reach = await audiencePredicate(db, TENANT, {
          segments: segmentIds,
          lists: [LIST_BIG],
        });
        const r = await sql<{ n: number }>`select count(*)::int as n from persons p
          where p.tenant_id = ${TENANT} and ${reach}`.execute(db);
        return r.rows[0]!.n;
      },
    ],
  ];

  if (Deno.env.get("BENCH_EXPLAIN")) {
    for (const [name, def] of Object.entries(CASES)) {
      const filter = await compileSegment(db, TENANT, def);
      const q = filter(db.selectFrom("persons as p").select(sql`count(*)`.as("n")));
      const plan = await sql<{ "QUERY PLAN": string }>`explain (analyze, buffers off) ${q}`
        .execute(db);
      console.log(`\n== ${name}\n${plan.rows.map((r) => r["QUERY PLAN"]).join("\n")}`);
    }
  }

  // deno bench reports averages and percentiles; the median is what we compare against 1 s.
  console.log("\nsegments_bench: medians of 11 runs (after 2 warm-up runs)");
  for (const [name, f] of cases) {
    await f();
    await f();
    const times: number[] = [];
    let count = 0;
    for (let i = 0; i < 11; i++) {
      const started = performance.now();
      count = await f();
      times.push(performance.now() - started);
    }
    console.log(`  ${median(times).toFixed(1).padStart(7)} ms  ${name}  → ${count} persons`);
  }

  for (const [name, f] of cases) {
    Deno.bench({ name, group: "segments", n: 15, warmup: 2, fn: async () => void (await f()) });
  }
  globalThis.addEventListener("unload", () => void database.close());
}

if (!url) {
  console.log("segments_bench: skipped; set BENCH_DATABASE_URL or TEST_DATABASE_URL (PostgreSQL)");
  Deno.bench({ name: "segments (needs PostgreSQL)", ignore: true, fn() {} });
} else {
  await run(url);
}
