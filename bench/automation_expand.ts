// deno run -A bench/automation_expand.ts — what the automation plugin's expansion rules cost on
// PostgreSQL: expanding one audience of BENCH_N persons (default 100,000) without the plugin, with
// it (the waiting-period rule is always there; no period set), with a 7-day waiting period after
// an earlier send to everyone (all excluded), and with a 10 % seeded random sample. Ends with one
// JSON line of milliseconds.
//
// Env: BENCH_N, BENCH_DATABASE_URL (default TEST_DATABASE_URL or the local
// postgres://postgres@127.0.0.1:5432/test; the bench creates and drops its own database).
import { sql } from "kysely";
import { PluginRegistry } from "../core/plugin.ts";
import { createTenant } from "../core/tenants/tenants.ts";
import { createSegment } from "../core/people/saved_segments.ts";
import { createMailing } from "../core/mailings/mailings.ts";
import { createSend, expandSend } from "../core/send/queue.ts";
import { uuidv7Block } from "../core/db/ids.ts";
import { automationPlugin } from "../plugins/automation/mod.ts";
import { benchDatabase } from "./_shared.ts";

const N = Number(Deno.env.get("BENCH_N") ?? 100_000);

const withPlugin = new PluginRegistry([automationPlugin]);
const bench = await benchDatabase("auto", { poolSize: 4, registry: withPlugin });
try {
  const db = bench.database.db;
  const clock = () => new Date();
  const base = { db, clock, registry: withPlugin };
  const tenant = await createTenant(base, { name: "Automation Bench", tier: "advanced" }, "b");
  const pid = uuidv7Block();
  await sql`insert into persons (tenant_id, id, first_name, tags, created_at, updated_at)
    select ${tenant.id}, (${pid.prefix}::text || lpad(to_hex(${pid.base}::bigint + g), 12,
      '0'))::uuid, 'P' || g, array['all'], now(), now()
    from generate_series(1, ${N}) g`.execute(db);
  const aid = uuidv7Block();
  await sql`insert into person_addresses (tenant_id, id, person_id, address, address_key,
      is_primary, created_at)
    select tenant_id, (${aid.prefix}::text || lpad(to_hex(${aid.base}::bigint + n), 12,
      '0'))::uuid, id, 'u' || n || '@d' || (n % 50) || '.example',
      'u' || n || '@d' || (n % 50) || '.example', true, now()
    from (select tenant_id, id, substr(first_name, 2)::bigint as n from persons) p`.execute(db);
  await sql`vacuum analyze`.execute(db);
  const seg = await createSegment(base, tenant.id, {
    name: "All",
    definition: { op: "and", conditions: [{ tag: "all", has: true }] },
  }, "b");
  const m = await createMailing(base, tenant.id, { subject: "Bench" }, "user:b");

  const expand = async (registry: PluginRegistry, plugins?: Record<string, unknown>) => {
    const s = await createSend(base, tenant.id, {
      kind: "mass",
      content: { from: { address: "a@b.example" }, subject: "x", text: "x" },
      audience: { segments: [seg.id], ...(plugins ? { plugins } : {}) },
    }, "b");
    await db.updateTable("sends").set({ mailing_id: m.id }).where("id", "=", s.id).execute();
    const t0 = performance.now();
    const r = await expandSend({ db, clock, registry }, tenant.id, s.id, "b");
    const ms = Math.round(performance.now() - t0);
    // Each case starts from the same state: this send's rows must not count as "received".
    await sql`update sends set status = 'cancelled' where id = ${s.id}`.execute(db);
    await sql`update send_queue set status = 'cancelled' where send_id = ${s.id}`.execute(db);
    console.error(`${ms} ms`, r.total, JSON.stringify(r.excluded));
    return { ms, total: r.total };
  };
  const out: Record<string, number> = {};
  out.core_only = (await expand(new PluginRegistry([]))).ms;
  out.plugin_no_period = (await expand(withPlugin)).ms;
  // An earlier send of the mailing to everyone, still counting (status sent).
  const prev = await expand(withPlugin);
  await sql`update send_queue set status = 'sent' where tenant_id = ${tenant.id}
    and send_id = (select id from sends where tenant_id = ${tenant.id} order by id desc limit 1)`
    .execute(db);
  await sql`update sends set status = 'done' where tenant_id = ${tenant.id}
    and id = (select id from sends where tenant_id = ${tenant.id} order by id desc limit 1)`
    .execute(db);
  await sql`insert into automation_waiting_periods values (${tenant.id}, ${m.id}, 7, 'b', now())`
    .execute(db);
  await sql`analyze`.execute(db);
  const excluded = await expand(withPlugin);
  if (excluded.total !== 0 || prev.total !== N) throw new Error("unexpected totals");
  out.waiting_period_all_excluded = excluded.ms;
  await sql`delete from automation_waiting_periods`.execute(db);
  out.random_sample_10pct = (await expand(withPlugin, {
    automation: { sample: { mode: "random", percent: 10 }, seed: "bench" },
  })).ms;
  console.log(JSON.stringify({ bench: "automation_expand", persons: N, ms: out }));
} finally {
  await bench.close();
}
