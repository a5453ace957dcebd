// Exactly once with several automation workers on PostgreSQL, each on its own connections (as
// separate worker processes would be) and sharing a moved clock: every recurring occurrence
// starts one send, every list membership is mailed once, and a run whose worker died after
// claiming it is taken over and sent once. PGlite is one connection, so this needs
// TEST_DATABASE_URL.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { TEST_DATABASE_URL } from "../../tests/helpers/db.ts";
import { raceDatabase } from "../../tests/helpers/workers.ts";
import { PluginRegistry } from "../../core/plugin.ts";
import { uuidv7 } from "../../core/db/ids.ts";
import { createTenant } from "../../core/tenants/tenants.ts";
import { createPerson } from "../../core/people/persons.ts";
import { addListMembers, createList } from "../../core/people/lists.ts";
import { createSegment } from "../../core/people/saved_segments.ts";
import { createSender, verifySender } from "../../core/mailings/senders.ts";
import { createMailing } from "../../core/mailings/mailings.ts";
import { automationPlugin } from "./mod.ts";
import { AutomationWorker } from "./scheduler.ts";
import { createRule } from "./store.ts";

const ignore = !TEST_DATABASE_URL;
if (ignore) console.warn("automation race_test: set TEST_DATABASE_URL to run it");

Deno.test({
  name: "four workers on separate connections: each run and each membership sent exactly once",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const env = await raceDatabase(new PluginRegistry([automationPlugin]));
    const { deps, clock, advance } = env;
    const dbs = await env.connections(4);
    const workers = dbs.map((d, i) =>
      new AutomationWorker(env.depsFor(d), { id: `w${i}`, leaseMs: 60_000, batch: 2 })
    );
    try {
      const tenant = await createTenant(deps, { name: "Race", tier: "advanced" }, "test");
      const tid = tenant.id;
      const sender = await createSender(deps, tid, { name: "N", address: "n@race.example" }, "t");
      await verifySender(deps, tid, sender.id, "test");
      const persons: string[] = [];
      for (let i = 0; i < 30; i++) {
        persons.push(
          (await createPerson(deps, tid, {
            first_name: `P${i}`,
            tags: ["all"],
            addresses: [{ address: `p${i}@race.example` }],
          }, "t")).id,
        );
      }
      const seg = await createSegment(deps, tid, {
        name: "All",
        definition: { op: "and", conditions: [{ tag: "all", has: true }] },
      }, "t");
      const mailing = async (subject: string) =>
        (await createMailing(deps, tid, {
          from_identity_id: sender.id,
          subject,
          body_html: "<p>Hej {{firstname}}</p>",
        }, "user:test")).id;

      // Eight recurring rules, all due at the same instant.
      const rules: string[] = [];
      for (let i = 0; i < 8; i++) {
        rules.push(
          (await createRule(deps, tid, {
            kind: "recurring",
            name: `R${i}`,
            mailing_id: await mailing(`Recurring ${i}`),
            segment_ids: [seg.id],
            weekdays: [1, 2, 3, 4, 5, 6, 7],
            times: ["03:00"],
          }, "t")).id,
        );
      }
      const next = await sql<{ at: Date }>`select min(next_run_at) as at from automation_rules`
        .execute(deps.db);
      advance(new Date(next.rows[0]!.at).getTime() - clock().getTime() + 1000);
      for (let round = 0; round < 3; round++) await Promise.all(workers.map((w) => w.tick()));
      const runs = await sql<{ rule_id: string; n: number; sends: number }>`
        select r.rule_id, count(*)::int as n, count(distinct s.id)::int as sends
        from automation_runs r join sends s on s.tenant_id = r.tenant_id and s.id = r.send_id
        where r.status = 'sent' group by r.rule_id`.execute(deps.db);
      assert.equal(runs.rows.length, 8);
      for (const r of runs.rows) assert.deepEqual([r.n, r.sends], [1, 1], r.rule_id);
      const claimers = await sql<{ n: number }>`
        select count(distinct claimed_by)::int as n from automation_runs`.execute(deps.db);
      console.log(`8 runs claimed by ${claimers.rows[0]!.n} of 4 workers`);
      const sendsOfRules = await sql<{ n: number }>`select count(*)::int as n from sends s
        join automation_rules r on r.tenant_id = s.tenant_id and r.mailing_id = s.mailing_id`
        .execute(deps.db);
      assert.equal(Number(sendsOfRules.rows[0]!.n), 8, "no orphan sends");

      // A trigger: 30 persons join the list; four workers race for the pending events.
      const list = await createList(deps, tid, { name: "L" }, "t");
      const trigMailing = await mailing("Welcome");
      await createRule(deps, tid, {
        kind: "trigger",
        name: "T",
        mailing_id: trigMailing,
        list_id: list.id,
      }, "t");
      advance(1000);
      // The hook is bound to this process's deps only when routes or start() ran; the sweep
      // (run by every worker, every five minutes; one statement each) must find the
      // memberships anyway.
      await addListMembers(deps, tid, list.id, { person_ids: persons }, "t");
      advance(5 * 60_000); // the sweep's interval
      for (let round = 0; round < 3; round++) await Promise.all(workers.map((w) => w.tick()));
      const rows = await sql<{ person_id: string; n: number }>`
        select q.person_id, count(*)::int as n from send_queue q
        join sends s on s.tenant_id = q.tenant_id and s.id = q.send_id
        where s.mailing_id = ${trigMailing} group by q.person_id`.execute(deps.db);
      assert.equal(rows.rows.length, 30);
      assert.ok(rows.rows.every((r) => Number(r.n) === 1), "each member mailed once");

      // A worker died after claiming a run: another takes it over once the lease is over.
      const ruleId = rules[0]!;
      const occ = new Date(clock().getTime() - 1000);
      await sql`insert into automation_runs (tenant_id, id, rule_id, occurrence_at, status,
          claimed_by, claimed_at)
        values (${tid}, ${uuidv7()}, ${ruleId}, ${occ}, 'claimed', 'dead-worker', ${occ})`
        .execute(deps.db);
      await Promise.all(workers.map((w) => w.tick()));
      const early = await sql<{ status: string }>`select status from automation_runs
        where rule_id = ${ruleId} and occurrence_at = ${occ}`.execute(deps.db);
      assert.equal(early.rows[0]!.status, "claimed", "not taken over while the lease holds");
      advance(61_000);
      await Promise.all(workers.map((w) => w.tick()));
      const taken = await sql<{ status: string; claimed_by: string; total: number }>`
        select status, claimed_by, total from automation_runs
        where rule_id = ${ruleId} and occurrence_at = ${occ}`.execute(deps.db);
      assert.equal(taken.rows[0]!.status, "sent");
      assert.notEqual(taken.rows[0]!.claimed_by, "dead-worker");
      assert.equal(Number(taken.rows[0]!.total), 30);
    } finally {
      await Promise.all(dbs.map((d) => d.close()));
      await env.close();
    }
  },
});
