// The automation plugin's expansion rules: the waiting period of a mailing (an exclusion) and a
// run's sample (systematic or seeded random). Pure SQL handed to the core's expansion, so the
// recipient count before a send and the send itself agree.
import { sql } from "kysely";
import { z } from "zod";
import type { ExpansionContext, ExpansionRules } from "../../core/send/expansion.ts";
import { Sample } from "./store.ts";

/** What a send's audience carries under audience.plugins.automation. */
export const RunOptions = z.object({
  rule_id: z.uuid().optional(),
  run_id: z.uuid().optional(),
  sample: Sample.nullable().optional(),
  /** The seed this run's random sample was drawn with. */
  seed: z.string().max(64).optional(),
});
export type RunOptions = z.output<typeof RunOptions>;

/**
 * Someone who got this mailing (a message queued or sent, not a test send, not failed) within
 * its waiting period is left out: the persons of the mailing's recent sends (index
 * sends_mailing) and their queue rows (index send_queue_send), joined once by the expansion.
 */
function waitingPeriod(ctx: ExpansionContext, mailingId: string) {
  const notThis = ctx.sendId ? sql`and s.id <> ${ctx.sendId}::uuid` : sql``;
  return sql`
    select q.person_id from automation_waiting_periods w
    join sends s on s.tenant_id = w.tenant_id and s.mailing_id = w.mailing_id
      and not s.is_test and s.created_at >= ${ctx.at}::timestamptz - w.days * interval '1 day'
      ${notThis}
    join send_queue q on q.tenant_id = s.tenant_id and q.send_id = s.id
      and q.status in ('queued', 'leased', 'held', 'sent')
    where w.tenant_id = ${ctx.tenantId} and w.mailing_id = ${mailingId}::uuid
      and q.person_id is not null`;
}

/** The sample's order: by person (systematic) or by a hash of seed and person (random). */
export function sampleRules(sample: Sample, seed: string | undefined): ExpansionRules["sample"] {
  return {
    order: sample.mode === "random" ? sql`md5(${seed ?? ""} || person_id::text)` : sql`person_id`,
    every: sample.every,
    start: sample.start,
    count: sample.count,
    percent: sample.percent,
    reason: "sample",
  };
}

export function expansionRules(ctx: ExpansionContext): Promise<ExpansionRules | null> {
  const rules: ExpansionRules = {};
  if (ctx.mailingId) {
    rules.excludeSets = [{ reason: "waiting_period", persons: waitingPeriod(ctx, ctx.mailingId) }];
  }
  const o = RunOptions.safeParse(ctx.options ?? {});
  if (o.success && o.data.sample) rules.sample = sampleRules(o.data.sample, o.data.seed);
  return Promise.resolve(rules.excludeSets || rules.sample ? rules : null);
}
