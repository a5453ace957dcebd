// Triggered sends: a person added to a watched list gets the rule's mailing at once.
//
// Durable in two steps. The afterListMembersAdded hook writes one pending event per (trigger,
// person, membership) right after the adding transaction commits, and wakes the worker; the
// worker also sweeps list_members for memberships the hook never saw (its process died in
// between). The event's unique key (rule, person, added_at) makes both paths write one row.
// Sending marks the events in the transaction that creates the send, so one membership is
// mailed once; a crash before expanding leaves a draft send the worker expands later. Processed
// events are pruned after a retention period (pruneTriggerEvents): by then the sweep, which
// looks back an hour behind its mark, can no longer find their memberships again.
import { sql } from "kysely";
import type { AppDeps } from "../../core/deps.ts";
import { uuidv7Block } from "../../core/db/ids.ts";
import { jsonb } from "../../core/db/json.ts";
import { AppError } from "../../core/errors.ts";
import type { ListMembersAdded } from "../../core/plugin.ts";
import { startMailingRun } from "../../core/mailings/mailing_run.ts";
import { expandSend } from "../../core/send/queue.ts";
import { dbOf, notifyAutomation, tenantBlocks } from "./store.ts";
import { LostClaim } from "./runs.ts";
import { type Reason, reasonOf } from "./reasons.ts";

/** Persons per triggered send (the audience's persons limit). */
const SEND_BATCH = 1000;
/** The sweep looks back this far behind its mark, for memberships committed late. */
const SWEEP_OVERLAP_MS = 60 * 60_000;

function blockIds() {
  const { prefix, base } = uuidv7Block();
  return sql<string>`(${prefix}::text || lpad(to_hex(${base}::bigint + row_number() over ()), 12,
    '0'))::uuid`;
}

/** The hook: pending events for every active trigger on the list, then a wake-up. */
export async function recordTriggerEvents(deps: AppDeps, ctx: ListMembersAdded): Promise<number> {
  let n = 0;
  for (let i = 0; i < ctx.personIds.length; i += 5000) {
    const ids = ctx.personIds.slice(i, i + 5000);
    const r = await sql`
      insert into automation_trigger_events
        (tenant_id, id, rule_id, person_id, added_at, status, created_at)
      select r.tenant_id, ${blockIds()}, r.id, x.person_id, ${ctx.at}::timestamptz, 'pending',
        ${deps.clock()}::timestamptz
      from automation_rules r cross join unnest(${ids}::uuid[]) as x(person_id)
      where r.tenant_id = ${ctx.tenantId} and r.list_id = ${ctx.listId}::uuid and r.active
        and r.kind = 'trigger' and r.active_since <= ${ctx.at}::timestamptz
      on conflict do nothing`.execute(deps.db);
    n += Number(r.numAffectedRows ?? 0);
  }
  if (n) await notifyAutomation(deps);
  return n;
}

export interface SweepOptions {
  /**
   * A rule whose mark is younger than this is left alone: its mark moves at most this often
   * (no rewrite of every rule row every round), and of several workers sweeping at once only the
   * first does the work. The worker passes its sweep interval.
   */
  minStepMs?: number;
}

/**
 * The safety net: memberships of watched lists that have no event yet. Returns how many.
 *
 * Set-based: one query for the tenants owning active triggers (plugin enabled, tenant active),
 * then one INSERT … SELECT over all their due rules that also moves the rules' marks, and one
 * UPDATE that moves the marks of rules whose tenant may not send (members added while the
 * organisation lacks the plugin or is suspended are not mailed later).
 */
export async function sweepLists(deps: AppDeps, opts: SweepOptions = {}): Promise<number> {
  const now = deps.clock();
  const stale = new Date(now.getTime() - (opts.minStepMs ?? 0));
  const owners = await sql<{ tenant_id: string }>`
    select distinct tenant_id from automation_rules
    where active and kind = 'trigger' and (swept_until is null or swept_until <= ${stale})`
    .execute(deps.db);
  if (!owners.rows.length) return 0;
  const blocks = await tenantBlocks(deps, owners.rows.map((r) => r.tenant_id));
  const open = [...blocks].filter(([, b]) => !b).map(([id]) => id);
  const closed = [...blocks].filter(([, b]) => b).map(([id]) => id);
  if (closed.length) {
    await sql`update automation_rules set swept_until = ${now}
      where tenant_id = any(${closed}::uuid[]) and active and kind = 'trigger'
        and (swept_until is null or swept_until <= ${stale})`.execute(deps.db);
  }
  if (!open.length) return 0;
  // Each rule is swept from its mark less an overlap (memberships committed late), never from
  // before it was switched on; the index on list_members (tenant, list, added_at) serves it.
  const r = await sql<{ n: number | string }>`
    with due as (
      select tenant_id, id, list_id,
        greatest(active_since, coalesce(swept_until, active_since)
          - ${SWEEP_OVERLAP_MS} * interval '1 millisecond') as since
      from automation_rules
      where tenant_id = any(${open}::uuid[]) and active and kind = 'trigger'
        and list_id is not null and active_since is not null
        and (swept_until is null or swept_until <= ${stale})
    ), marked as (
      update automation_rules r set swept_until = ${now}
      from due where r.tenant_id = due.tenant_id and r.id = due.id
    ), added as (
      insert into automation_trigger_events
        (tenant_id, id, rule_id, person_id, added_at, status, created_at)
      select m.tenant_id, ${blockIds()}, due.id, m.person_id, m.added_at, 'pending',
        ${now}::timestamptz
      from due join list_members m on m.tenant_id = due.tenant_id and m.list_id = due.list_id
        and m.added_at >= due.since and m.added_at <= ${now}::timestamptz
      on conflict do nothing
      returning 1
    )
    select count(*) as n from added`.execute(deps.db);
  return Number(r.rows[0]?.n ?? 0);
}

/** Processed events kept this long (the runs page shows them); older ones are deleted. */
export const TRIGGER_EVENT_RETENTION_DAYS = 90;

/**
 * Deletes processed (sent or failed) trigger events older than `days`, in batches through the
 * index on processed_at, so no statement holds many locks. Returns how many were deleted.
 */
export async function pruneTriggerEvents(
  deps: Pick<AppDeps, "db" | "clock">,
  opts: { days?: number; batch?: number; maxBatches?: number } = {},
): Promise<number> {
  const days = opts.days ?? TRIGGER_EVENT_RETENTION_DAYS;
  const cutoff = new Date(deps.clock().getTime() - days * 86_400_000);
  let total = 0;
  for (let i = 0; i < (opts.maxBatches ?? 20); i++) {
    const r = await sql`delete from automation_trigger_events
      where (tenant_id, id) in (
        select tenant_id, id from automation_trigger_events
        where status <> 'pending' and processed_at < ${cutoff}
        limit ${opts.batch ?? 5000})`.execute(deps.db);
    const n = Number(r.numAffectedRows ?? 0);
    total += n;
    if (n < (opts.batch ?? 5000)) break;
  }
  return total;
}

/**
 * Sends pending events, one send per rule and batch of persons. Events of a rule that was
 * stopped meanwhile are dropped as failed ("stopped"). Returns how many events were handled.
 */
export async function sendPending(deps: AppDeps, limit = 5000): Promise<number> {
  const db = dbOf(deps);
  const pending = await db.selectFrom("automation_trigger_events as e")
    .innerJoin(
      "automation_rules as r",
      (j) => j.onRef("r.tenant_id", "=", "e.tenant_id").onRef("r.id", "=", "e.rule_id"),
    )
    .select([
      "e.tenant_id",
      "e.id",
      "e.rule_id",
      "e.person_id",
      "r.mailing_id",
      "r.active",
    ])
    .where("e.status", "=", "pending").orderBy("e.created_at").limit(limit).execute();
  const byRule = new Map<string, typeof pending>();
  for (const e of pending) {
    const k = `${e.tenant_id}/${e.rule_id}`;
    byRule.set(k, [...(byRule.get(k) ?? []), e]);
  }
  const blocks = await tenantBlocks(deps, pending.map((e) => e.tenant_id));
  for (const events of byRule.values()) {
    const first = events[0]!;
    const ids = events.map((e) => e.id);
    if (!first.active) {
      await close(deps, first.tenant_id, ids, { code: "stopped" });
      continue;
    }
    // Lost the plugin or suspended: these memberships are not mailed, now or later.
    const blocked = blocks.get(first.tenant_id);
    if (blocked) {
      await close(deps, first.tenant_id, ids, { code: blocked });
      continue;
    }
    for (let i = 0; i < events.length; i += SEND_BATCH) {
      await sendBatch(deps, events.slice(i, i + SEND_BATCH));
    }
  }
  return pending.length;
}

async function sendBatch(
  deps: AppDeps,
  events: {
    tenant_id: string;
    id: string;
    rule_id: string;
    person_id: string;
    mailing_id: string;
  }[],
): Promise<void> {
  const first = events[0]!;
  const ids = events.map((e) => e.id);
  try {
    await startMailingRun(deps, first.tenant_id, first.mailing_id, {
      actor: `automation:${first.rule_id}`,
      // Automated mail is mass mail whatever its size: unsubscribes bind it.
      kind: "mass",
      audience: {
        persons: [...new Set(events.map((e) => e.person_id))],
        plugins: { automation: { rule_id: first.rule_id } },
      },
      onCreated: async (trx, sendId) => {
        const r = await sql`update automation_trigger_events
          set status = 'sent', send_id = ${sendId}::uuid, processed_at = ${deps.clock()}
          where tenant_id = ${first.tenant_id} and id = any(${ids}::uuid[])
            and status = 'pending'`.execute(trx);
        // Another worker sent some of these meanwhile: this send must not exist.
        if (Number(r.numAffectedRows ?? 0) !== ids.length) throw new LostClaim(first.rule_id);
      },
    });
  } catch (e) {
    if (e instanceof LostClaim) return;
    deps.log.warn("triggered send failed", { rule: first.rule_id, error: String(e) });
    await close(deps, first.tenant_id, ids, reasonOf(e));
  }
}

/** Records events as failed (not sent) with the reason. */
async function close(deps: AppDeps, tenantId: string, ids: string[], reason: Reason) {
  const params = reason.params ? jsonb(reason.params) : null;
  await sql`update automation_trigger_events
    set status = 'failed', reason = ${reason.code}, reason_params = ${params},
      processed_at = ${deps.clock()}
    where tenant_id = ${tenantId} and id = any(${ids}::uuid[])
      and (status = 'pending' or (status = 'sent' and not exists (select 1 from sends s
        where s.tenant_id = automation_trigger_events.tenant_id
          and s.id = automation_trigger_events.send_id)))`
    .execute(deps.db);
}

/** Expands triggered sends left as drafts by a worker that died before expanding them. */
export async function resumeTriggeredSends(deps: AppDeps, leaseMs: number): Promise<number> {
  const cutoff = new Date(deps.clock().getTime() - leaseMs);
  const rows = await sql<{ tenant_id: string; send_id: string; rule_id: string }>`
    select distinct e.tenant_id, e.send_id, e.rule_id
    from automation_trigger_events e
    join sends s on s.tenant_id = e.tenant_id and s.id = e.send_id
    where e.status = 'sent' and s.status = 'draft' and s.created_at < ${cutoff}
    limit 20`.execute(deps.db);
  for (const r of rows.rows) {
    try {
      await expandSend(deps, r.tenant_id, r.send_id, `automation:${r.rule_id}`);
    } catch (e) {
      if (!(e instanceof AppError && e.code === "conflict")) throw e;
    }
  }
  return rows.rows.length;
}
