// Plugins' expansion rules (the expansionRules hook): extra exclusions counted under the
// plugin's reason, a chosen address instead of the primary (with and without falling back),
// and samples — and the count before sending agrees with what the send queues, every time.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { seedTenant, testApp } from "./helpers/app.ts";
import type { Plugin } from "../core/plugin.ts";
import { createPerson } from "../core/people/persons.ts";
import { createSend, expandSend } from "../core/send/queue.ts";
import { countRecipients } from "../core/mailings/recipients.ts";
import { Audience } from "../core/send/queue.ts";
import { z } from "zod";

const Options = z.object({
  skip_last_name: z.string().optional(),
  skip_first_name: z.string().optional(),
  domain: z.string().optional(),
  fallback: z.boolean().optional(),
  seed: z.string().optional(),
  every: z.number().optional(),
  count: z.number().optional(),
  percent: z.number().optional(),
});

const rulesPlugin: Plugin = {
  name: "rules_probe",
  tier: "advanced",
  messages: { en: { "exclusion.skipped": "Skipped by the probe" } },
  hooks: {
    expansionRules(ctx) {
      const o = Options.parse(ctx.options ?? {});
      const sampled = o.seed !== undefined || o.every !== undefined;
      return Promise.resolve({
        exclude: o.skip_last_name
          ? [{ reason: "skipped", when: sql`p.last_name = ${o.skip_last_name}` }]
          : [],
        excludeSets: o.skip_first_name
          ? [{
            reason: "set",
            persons:
              sql`select id as person_id from persons where first_name = ${o.skip_first_name}`,
          }]
          : [],
        address: o.domain
          ? {
            condition: sql`a.address_key like ${"%@" + o.domain}`,
            fallbackToPrimary: o.fallback,
            missingReason: "no_such_address",
          }
          : undefined,
        sample: sampled
          ? {
            order: o.seed !== undefined ? sql`md5(${o.seed} || person_id::text)` : sql`person_id`,
            every: o.every,
            count: o.count,
            percent: o.percent,
            reason: "not_sampled",
          }
          : undefined,
      });
    },
  },
};

const t = await testApp({ plugins: [rulesPlugin] });

async function org(tier: "advanced" | "standard") {
  const { tenant } = await seedTenant(t, { tier });
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) {
    const addresses = [{ address: `p${i}@home.example` }];
    if (i % 4 === 0) addresses.push({ address: `p${i}@work.example` });
    const p = await createPerson(t.deps, tenant.id, {
      first_name: `P${i}`,
      last_name: i < 3 ? "Skip" : "Keep",
      addresses,
    }, "test");
    ids.push(p.id);
  }
  return { tid: tenant.id, ids };
}

async function expand(tid: string, audience: z.input<typeof Options> & { persons: string[] }) {
  const { persons, ...plugin } = audience;
  const aud = Audience.parse({ persons, plugins: { rules_probe: plugin } });
  const counted = await countRecipients(t.deps, tid, aud);
  const s = await createSend(t.deps, tid, {
    kind: "mass",
    content: { from: { address: "a@uni.example" }, subject: "S", text: "x" },
    audience: aud,
  }, "test");
  const expanded = await expandSend(t.deps, tid, s.id, "test");
  const rows = await t.deps.db.selectFrom("send_queue").select(["person_id", "address"])
    .where("tenant_id", "=", tid).where("send_id", "=", s.id).orderBy("address").execute();
  assert.equal(counted.total, expanded.total, "the count before sending agrees with the send");
  assert.deepEqual(counted.excluded, expanded.excluded);
  return { ...expanded, rows };
}

Deno.test("a plugin's exclusion is counted under its own reason", async () => {
  const { tid, ids } = await org("advanced");
  const r = await expand(tid, { persons: ids, skip_last_name: "Skip" });
  assert.equal(r.total, 17);
  assert.deepEqual(r.excluded, { "rules_probe.skipped": 3 });
});

Deno.test("an exclusion set (a joined query of person ids) is counted under its reason", async () => {
  const { tid, ids } = await org("advanced");
  const r = await expand(tid, { persons: ids, skip_last_name: "Skip", skip_first_name: "P7" });
  assert.equal(r.total, 16);
  assert.deepEqual(r.excluded, { "rules_probe.skipped": 3, "rules_probe.set": 1 });
});

Deno.test("a tenant without the plugin gets none of its rules", async () => {
  const { tid, ids } = await org("standard");
  const r = await expand(tid, { persons: ids, skip_last_name: "Skip", every: 2 });
  assert.equal(r.total, 20);
  assert.deepEqual(r.excluded, {});
});

Deno.test("a chosen address replaces the primary; without fallback the rest are excluded", async () => {
  const { tid, ids } = await org("advanced");
  const strict = await expand(tid, { persons: ids, domain: "work.example" });
  assert.equal(strict.total, 5);
  assert.ok(strict.rows.every((r) => r.address.endsWith("@work.example")));
  assert.deepEqual(strict.excluded, { "rules_probe.no_such_address": 15 });

  const lenient = await expand(tid, { persons: ids, domain: "work.example", fallback: true });
  assert.equal(lenient.total, 20);
  assert.equal(lenient.rows.filter((r) => r.address.endsWith("@work.example")).length, 5);
  assert.deepEqual(lenient.excluded, {});
});

Deno.test("samples: systematic every k-th, and a seeded random sample that repeats", async () => {
  const { tid, ids } = await org("advanced");
  const every = await expand(tid, { persons: ids, every: 3 });
  assert.equal(every.total, 7); // rows 1, 4, 7, …, 19 of 20
  assert.deepEqual(every.excluded, { "rules_probe.not_sampled": 13 });

  const a = await expand(tid, { persons: ids, seed: "s1", count: 5 });
  const b = await expand(tid, { persons: ids, seed: "s1", count: 5 });
  const c = await expand(tid, { persons: ids, seed: "other", count: 5 });
  assert.equal(a.total, 5);
  assert.deepEqual(a.rows, b.rows, "the same seed picks the same persons");
  assert.notDeepEqual(a.rows, c.rows, "another seed picks others");

  const pct = await expand(tid, { persons: ids, skip_last_name: "Skip", seed: "s", percent: 50 });
  assert.equal(pct.total, 9); // ceil(17 × 50 %) of the 17 eligible
  assert.deepEqual(pct.excluded, { "rules_probe.skipped": 3, "rules_probe.not_sampled": 8 });
});
