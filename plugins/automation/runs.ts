// Runs of recurring rules: claiming each due occurrence exactly once, starting its send, and
// picking up what a crashed scheduler left half done.
//
// Exactly once: an occurrence is claimed by inserting its automation_runs row, whose key is
// (rule, occurrence time), in the transaction that moves the rule's next_run_at on; the rule
// row is locked with SKIP LOCKED, and a second scheduler that got past the lock anyway hits the
// unique key. The send is created in one transaction with the run's move to `started` (only by
// the run's holder), so a run has at most one send. A crash after the claim leaves the run
// `claimed` (taken over once its claim is older than the lease); a crash after the send was
// created leaves it `started` with a draft send, which is then expanded.
import { sql } from "kysely";
import type { AppDeps } from "../../core/deps.ts";
import { uuidv7 } from "../../core/db/ids.ts";
import { jsonb } from "../../core/db/json.ts";
import { AppError } from "../../core/errors.ts";
import { startMailingRun } from "../../core/mailings/mailing_run.ts";
import { expandSend } from "../../core/send/queue.ts";
import { randomToken } from "../../core/crypto.ts";
import { nextOccurrence } from "./schedule.ts";
import { type AutomationRunsTable, dbOf, type Rule, type Sample, tenantBlock } from "./store.ts";
import type { RunOptions } from "./rules.ts";
import { type Reason, reasonOf } from "./reasons.ts";

export interface RunSettings {
  /** Who claims (for the record and the takeover rule). */
  workerId: string;
  /** A claim older than this is taken over by another scheduler. */
  leaseMs: number;
  /** An occurrence found this late (the workers were down) is recorded as missed, not sent. */
  missedAfterMs: number;
}

/** Thrown inside the send's transaction when another worker holds the run: undoes the send. */
export class LostClaim extends Error {
  override name = "LostClaim";
}

type ClaimedRun = Pick<AutomationRunsTable, "tenant_id" | "id" | "rule_id" | "occurrence_at">;

/** Claims every due occurrence (up to `limit`), each once; moves the rules' next run on. */
export async function claimDueRuns(
  deps: AppDeps,
  s: RunSettings,
  limit = 20,
): Promise<ClaimedRun[]> {
  const now = deps.clock();
  return await dbOf(deps).transaction().execute(async (trx) => {
    // Due when the occurrence minus the rule's lead time has come.
    const due = await sql<Rule & { tenant_id: string }>`
      select * from automation_rules
      where active and kind = 'recurring' and next_run_at is not null
        and next_run_at - lead_minutes * interval '1 minute' <= ${now}
      order by next_run_at limit ${limit}
      for update skip locked`.execute(trx);
    const out: ClaimedRun[] = [];
    for (const r of due.rows) {
      const occurrence = new Date(r.next_run_at!);
      const late = now.getTime() - occurrence.getTime() > s.missedAfterMs;
      const id = uuidv7();
      const sample = (r.sample ?? null) as Sample | null;
      const inserted = await trx.insertInto("automation_runs").values({
        tenant_id: r.tenant_id,
        id,
        rule_id: r.id,
        occurrence_at: occurrence,
        status: late ? "skipped" : "claimed",
        reason: late ? "missed" : null,
        seed: sample?.mode === "random" ? (sample.seed ?? randomToken(9)) : null,
        claimed_by: s.workerId,
        claimed_at: now,
        finished_at: late ? now : null,
      }).onConflict((oc) => oc.doNothing()).returning("id").executeTakeFirst();
      // The next occurrence after this one and after now: missed ones are not caught up.
      const after = new Date(Math.max(occurrence.getTime(), now.getTime()));
      const tt = { weekdays: r.weekdays.map(Number), times: r.times, timeZone: r.time_zone };
      await trx.updateTable("automation_rules").set({ next_run_at: nextOccurrence(tt, after) })
        .where("tenant_id", "=", r.tenant_id).where("id", "=", r.id).execute();
      if (inserted && !late) {
        out.push({ tenant_id: r.tenant_id, id, rule_id: r.id, occurrence_at: occurrence });
      }
    }
    return out;
  });
}

/** Takes over runs whose scheduler died: claimed (no send yet) and older than the lease. */
export async function takeOverStaleRuns(deps: AppDeps, s: RunSettings): Promise<ClaimedRun[]> {
  const now = deps.clock();
  const cutoff = new Date(now.getTime() - s.leaseMs);
  const r = await sql<ClaimedRun>`
    update automation_runs r set claimed_by = ${s.workerId}, claimed_at = ${now}
    where (r.tenant_id, r.id) in (
      select tenant_id, id from automation_runs
      where status = 'claimed' and claimed_at < ${cutoff}
      limit 20 for update skip locked)
    returning r.tenant_id, r.id, r.rule_id, r.occurrence_at`.execute(deps.db);
  return r.rows;
}

/**
 * Starts a claimed run's send: the rule's segments, evaluated now, with the sample and its
 * seed; or records it as skipped (a plugin vetoed the send, the rule was stopped meanwhile) or
 * failed (the mailing cannot be sent as it stands) with the reason.
 */
export async function startRun(deps: AppDeps, s: RunSettings, run: ClaimedRun): Promise<void> {
  const db = dbOf(deps);
  const rule = await db.selectFrom("automation_rules").selectAll()
    .where("tenant_id", "=", run.tenant_id).where("id", "=", run.rule_id).executeTakeFirst();
  const row = await db.selectFrom("automation_runs").select(["seed", "status", "claimed_by"])
    .where("tenant_id", "=", run.tenant_id).where("id", "=", run.id).executeTakeFirst();
  if (!row || row.status !== "claimed" || row.claimed_by !== s.workerId) return;
  if (!rule || !rule.active) {
    return await finishRun(deps, s, run, "skipped", { reason: { code: "stopped" } });
  }
  // Lost the plugin (tier) or suspended: the occurrence is recorded, nothing is sent.
  const blocked = await tenantBlock(deps, run.tenant_id);
  if (blocked) return await finishRun(deps, s, run, "skipped", { reason: { code: blocked } });
  const sample = (rule.sample ?? null) as Sample | null;
  const options: RunOptions = {
    rule_id: rule.id,
    run_id: run.id,
    ...(sample ? { sample } : {}),
    ...(row.seed ? { seed: row.seed } : {}),
  };
  try {
    const r = await startMailingRun(deps, run.tenant_id, rule.mailing_id, {
      actor: `automation:${rule.id}`,
      kind: "mass",
      audience: {
        segments: rule.segment_ids,
        exclude_segments: rule.exclude_segment_ids,
        plugins: { automation: options },
      },
      // With a lead time the audience is taken early; the messages wait until the occurrence.
      readyAt: new Date(run.occurrence_at),
      onCreated: async (trx, sendId) => {
        const moved = await dbOf({ db: trx }).updateTable("automation_runs")
          .set({ status: "started", send_id: sendId })
          .where("tenant_id", "=", run.tenant_id).where("id", "=", run.id)
          .where("status", "=", "claimed").where("claimed_by", "=", s.workerId)
          .executeTakeFirst();
        // Another scheduler took the run over: this send must not exist.
        if (!Number(moved.numUpdatedRows)) throw new LostClaim(run.id);
      },
    });
    await finishRun(deps, s, run, "sent", { total: r.total, excluded: r.excluded }, "started");
  } catch (e) {
    if (e instanceof LostClaim) return;
    const reason = reasonOf(e);
    if (reason.code === "vetoed") return await finishRun(deps, s, run, "skipped", { reason });
    deps.log.warn("automation run failed", { run: run.id, error: String(e) });
    // From `started` too: a send that could not be expanded was removed again.
    await finishRun(deps, s, run, "failed", { reason });
    await finishRun(deps, s, run, "failed", { reason }, "started");
  }
}

/** Expands the draft sends of runs whose scheduler died between creating and expanding. */
export async function resumeStartedRuns(deps: AppDeps, s: RunSettings): Promise<number> {
  const cutoff = new Date(deps.clock().getTime() - s.leaseMs);
  const rows = await dbOf(deps).selectFrom("automation_runs as r")
    .innerJoin(
      "sends as x",
      (j) => j.onRef("x.tenant_id", "=", "r.tenant_id").onRef("x.id", "=", "r.send_id"),
    )
    .select(["r.tenant_id", "r.id", "r.rule_id", "r.occurrence_at", "x.id as send_id", "x.status"])
    .where("r.status", "=", "started").where("r.claimed_at", "<", cutoff).limit(20).execute();
  for (const r of rows) {
    try {
      if (r.status === "draft") {
        await expandSend(deps, r.tenant_id, r.send_id, `automation:${r.rule_id}`, {
          readyAt: new Date(r.occurrence_at),
        });
      }
      const send = await deps.db.selectFrom("sends").select(["total", "excluded"])
        .where("tenant_id", "=", r.tenant_id).where("id", "=", r.send_id).executeTakeFirstOrThrow();
      await finishRun(
        deps,
        s,
        r,
        "sent",
        {
          total: Number(send.total),
          excluded: send.excluded,
        },
        "started",
        true,
      );
    } catch (e) {
      // Another scheduler is expanding it right now: it finishes the run.
      if (!(e instanceof AppError && e.code === "conflict")) throw e;
    }
  }
  return rows.length;
}

async function finishRun(
  deps: AppDeps,
  s: RunSettings,
  run: Pick<ClaimedRun, "tenant_id" | "id">,
  status: "sent" | "skipped" | "failed",
  o: { reason?: Reason; total?: number; excluded?: Record<string, number> },
  from: "claimed" | "started" = "claimed",
  anyHolder = false,
): Promise<void> {
  let q = dbOf(deps).updateTable("automation_runs").set({
    status,
    reason: o.reason?.code ?? null,
    reason_params: o.reason?.params ? jsonb(o.reason.params) : null,
    total: o.total ?? null,
    excluded: o.excluded ? jsonb(o.excluded) : null,
    finished_at: deps.clock(),
  }).where("tenant_id", "=", run.tenant_id).where("id", "=", run.id).where("status", "=", from);
  if (!anyHolder) q = q.where("claimed_by", "=", s.workerId);
  await q.execute();
}
