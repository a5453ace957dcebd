// Automation rules (recurring and triggered sends of a mailing) and waiting periods: tables,
// validation and the writes staff make through the API and UI.
import { type Kysely, sql } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../../core/deps.ts";
import type { DB } from "../../core/db/schema.ts";
import { isUuid, uuidv7 } from "../../core/db/ids.ts";
import { jsonb } from "../../core/db/json.ts";
import { AppError, type FieldIssue } from "../../core/errors.ts";
import { audit } from "../../core/tenants/audit.ts";
import { isTime, nextOccurrence } from "./schedule.ts";

export const AUTOMATION_CHANNEL = "skicka_automation";

export interface AutomationRulesTable {
  tenant_id: string;
  id: string;
  kind: "recurring" | "trigger";
  name: string;
  mailing_id: string;
  active: boolean;
  segment_ids: string[];
  exclude_segment_ids: string[];
  weekdays: number[];
  times: string[];
  time_zone: string;
  lead_minutes: number;
  next_run_at: Date | null;
  list_id: string | null;
  active_since: Date | null;
  swept_until: Date | null;
  sample: unknown;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export type RunStatus = "claimed" | "started" | "sent" | "skipped" | "failed";

export interface AutomationRunsTable {
  tenant_id: string;
  id: string;
  rule_id: string;
  occurrence_at: Date;
  status: RunStatus;
  send_id: string | null;
  seed: string | null;
  /** A reason code (runs.ts RunReason), said through the catalogue as automation.reason.<code>. */
  reason: string | null;
  reason_params: unknown;
  total: number | null;
  excluded: unknown;
  claimed_by: string;
  claimed_at: Date;
  finished_at: Date | null;
}

export interface AutomationTriggerEventsTable {
  tenant_id: string;
  id: string;
  rule_id: string;
  person_id: string;
  added_at: Date;
  status: "pending" | "sent" | "failed";
  send_id: string | null;
  reason: string | null;
  reason_params: unknown;
  created_at: Date;
  processed_at: Date | null;
}

export interface AutomationWaitingPeriodsTable {
  tenant_id: string;
  mailing_id: string;
  days: number;
  updated_by: string;
  updated_at: Date;
}

export type AutomationDB = DB & {
  automation_rules: AutomationRulesTable;
  automation_runs: AutomationRunsTable;
  automation_trigger_events: AutomationTriggerEventsTable;
  automation_waiting_periods: AutomationWaitingPeriodsTable;
};

export const dbOf = (deps: Pick<AppDeps, "db">) => deps.db as unknown as Kysely<AutomationDB>;

type Deps = Pick<AppDeps, "db" | "clock">;

/** Who gets a run: everyone eligible, or a systematic (every k-th) or random sample. */
export const Sample = z.object({
  mode: z.enum(["systematic", "random"]),
  /** At most this many persons… */
  count: z.number().int().min(1).max(10_000_000).optional(),
  /** …or this share of the eligible, in percent. */
  percent: z.number().gt(0).max(100).optional(),
  /** Every k-th eligible person (in person order, or in the seed's random order)… */
  every: z.number().int().min(1).max(1_000_000).optional(),
  /** …starting with this one (1-based). */
  start: z.number().int().min(1).max(1_000_000).optional(),
  /** Random samples: a fixed seed (same seed, same eligible persons → same sample). Empty: a
   * new seed per run, shown on the run so it can be reproduced. */
  seed: z.string().trim().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
}).strict().refine((s) => s.count !== undefined || s.percent !== undefined || s.every, {
  // The code is said as automation.issue.sample_size (issues.ts); the message is for logs.
  message: "sample_size",
  params: { code: "sample_size" },
  path: ["count"],
});
export type Sample = z.output<typeof Sample>;

const Name = z.string().trim().min(1).max(200);

export const RecurringInput = z.object({
  kind: z.literal("recurring"),
  name: Name,
  mailing_id: z.uuid(),
  segment_ids: z.array(z.uuid()).min(1).max(50),
  exclude_segment_ids: z.array(z.uuid()).max(50).default([]),
  weekdays: z.array(z.number().int().min(1).max(7)).min(1).max(7),
  times: z.array(z.string().refine(isTime, { message: "time", params: { code: "time" } }))
    .min(1).max(24),
  lead_minutes: z.number().int().min(0).max(1440).default(0),
  sample: Sample.nullable().default(null),
  active: z.boolean().default(true),
}).strict();

export const TriggerInput = z.object({
  kind: z.literal("trigger"),
  name: Name,
  mailing_id: z.uuid(),
  list_id: z.uuid(),
  active: z.boolean().default(true),
}).strict();

export const RuleInput = z.discriminatedUnion("kind", [RecurringInput, TriggerInput]);
export type RuleInput = z.input<typeof RuleInput>;

export const WaitingPeriodInput = z.object({
  mailing_id: z.uuid(),
  /** Days; null removes the waiting period. */
  days: z.number().int().min(1).max(3650).nullable(),
}).strict();

export type Rule = Awaited<ReturnType<typeof getRule>>;

const RULE_COLUMNS = [
  "id",
  "kind",
  "name",
  "mailing_id",
  "active",
  "segment_ids",
  "exclude_segment_ids",
  "weekdays",
  "times",
  "time_zone",
  "lead_minutes",
  "next_run_at",
  "list_id",
  "active_since",
  "sample",
  "created_by",
  "created_at",
  "updated_at",
] as const;

function normalize<T extends { sample: unknown; weekdays: number[] }>(r: T) {
  return {
    ...r,
    weekdays: r.weekdays.map(Number),
    sample: (r.sample ?? null) as Sample | null,
  };
}

export async function getRule(deps: Pick<AppDeps, "db">, tenantId: string, id: string) {
  if (!isUuid(id)) throw new AppError("not_found");
  const row = await dbOf(deps).selectFrom("automation_rules").select(RULE_COLUMNS)
    .where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst();
  if (!row) throw new AppError("not_found");
  return normalize(row);
}

/** The tenant's rules, newest first, with the mailing's subject for display. */
export async function listRules(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  opts: { mailingId?: string } = {},
) {
  let q = dbOf(deps).selectFrom("automation_rules as r")
    .innerJoin(
      "mailings as m",
      (j) => j.onRef("m.tenant_id", "=", "r.tenant_id").onRef("m.id", "=", "r.mailing_id"),
    )
    .select(RULE_COLUMNS.map((c) => `r.${c}` as const))
    .select("m.subject as mailing_subject")
    .where("r.tenant_id", "=", tenantId);
  if (opts.mailingId) q = q.where("r.mailing_id", "=", opts.mailingId);
  const rows = await q.orderBy("r.id", "desc").limit(500).execute();
  return rows.map(normalize);
}

/** Checks that what a rule names is the tenant's; each problem names its field. */
async function checkRefs(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  v: z.output<typeof RuleInput>,
): Promise<void> {
  const db = deps.db;
  const issues: FieldIssue[] = [];
  const m = await db.selectFrom("mailings").select("status").where("tenant_id", "=", tenantId)
    .where("id", "=", v.mailing_id).executeTakeFirst();
  if (!m) issues.push({ path: "mailing_id", code: "not_found", message: "" });
  else if (m.status === "cancelled") {
    issues.push({ path: "mailing_id", code: "cancelled", message: "" });
  }
  if (v.kind === "recurring") {
    for (const key of ["segment_ids", "exclude_segment_ids"] as const) {
      const ids = [...new Set(v[key])];
      if (!ids.length) continue;
      const found = new Set(
        (await db.selectFrom("segments").select("id").where("tenant_id", "=", tenantId)
          .where("id", "in", ids).execute()).map((s) => s.id),
      );
      v[key].forEach((id, i) => {
        if (!found.has(id)) issues.push({ path: `${key}.${i}`, code: "not_found", message: "" });
      });
    }
  } else {
    const l = await db.selectFrom("lists").select("id").where("tenant_id", "=", tenantId)
      .where("id", "=", v.list_id).executeTakeFirst();
    if (!l) issues.push({ path: "list_id", code: "not_found", message: "" });
  }
  if (issues.length) throw new AppError("validation", {}, issues);
}

async function tenantTimeZone(deps: Pick<AppDeps, "db">, tenantId: string): Promise<string> {
  const t = await deps.db.selectFrom("tenants").select("time_zone").where("id", "=", tenantId)
    .executeTakeFirst();
  return t?.time_zone ?? "UTC";
}

/** The columns a rule's input sets, with its schedule state for when it is (re)activated. */
function columnsOf(v: z.output<typeof RuleInput>, timeZone: string, now: Date) {
  if (v.kind === "recurring") {
    const weekdays = [...new Set(v.weekdays)].sort();
    const times = [...new Set(v.times)].sort();
    return {
      name: v.name,
      mailing_id: v.mailing_id,
      active: v.active,
      segment_ids: [...new Set(v.segment_ids)],
      exclude_segment_ids: [...new Set(v.exclude_segment_ids)],
      weekdays,
      times,
      time_zone: timeZone,
      lead_minutes: v.lead_minutes,
      next_run_at: v.active ? nextOccurrence({ weekdays, times, timeZone }, now) : null,
      list_id: null,
      active_since: null,
      sample: v.sample ? jsonb(v.sample) : null,
    };
  }
  return {
    name: v.name,
    mailing_id: v.mailing_id,
    active: v.active,
    segment_ids: [],
    exclude_segment_ids: [],
    weekdays: [],
    times: [],
    time_zone: timeZone,
    lead_minutes: 0,
    next_run_at: null,
    list_id: v.list_id,
    // Members already in the list (or added while the trigger was off) get nothing.
    active_since: v.active ? now : null,
    swept_until: v.active ? now : null,
    sample: null,
  };
}

/** Why a tenant's rules may not send now, or null when they may. */
export type TenantBlock = "not_enabled" | "tenant_suspended";

/**
 * Whether each tenant may send through its rules now: it has the plugin (a tenant moved to a
 * lower tier keeps its rules idle) and is active (a suspended one sends nothing). One query.
 */
export async function tenantBlocks(
  deps: Pick<AppDeps, "db" | "registry">,
  tenantIds: readonly string[],
): Promise<Map<string, TenantBlock | null>> {
  const out = new Map<string, TenantBlock | null>();
  const ids = [...new Set(tenantIds)];
  if (!ids.length) return out;
  const rows = await deps.db.selectFrom("tenants")
    .select(["id", "tier", "addons", "status", "updated_at"]).where("id", "in", ids).execute();
  for (const id of ids) out.set(id, "not_enabled");
  for (const t of rows) {
    const enabled = deps.registry.enabledFor({ ...t, addons: t.addons ?? [] }).has("automation");
    out.set(t.id, !enabled ? "not_enabled" : t.status !== "active" ? "tenant_suspended" : null);
  }
  return out;
}

export async function tenantBlock(
  deps: Pick<AppDeps, "db" | "registry">,
  tenantId: string,
): Promise<TenantBlock | null> {
  const b = (await tenantBlocks(deps, [tenantId])).get(tenantId);
  return b === undefined ? "not_enabled" : b;
}

/** Wakes the schedulers, so a new or changed timetable is seen at once. */
export async function notifyAutomation(deps: Pick<AppDeps, "db">): Promise<void> {
  await sql`select pg_notify(${AUTOMATION_CHANNEL}, '')`.execute(deps.db);
}

export async function createRule(deps: Deps, tenantId: string, input: RuleInput, actor: string) {
  const v = RuleInput.parse(input);
  await checkRefs(deps, tenantId, v);
  const now = deps.clock();
  const id = uuidv7();
  const cols = columnsOf(v, await tenantTimeZone(deps, tenantId), now);
  await dbOf(deps).transaction().execute(async (trx) => {
    await trx.insertInto("automation_rules").values({
      tenant_id: tenantId,
      id,
      kind: v.kind,
      ...cols,
      created_by: actor,
      created_at: now,
      updated_at: now,
    } as never).execute();
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "automation.rule_create",
      target: id,
      details: { kind: v.kind, name: v.name, mailing: v.mailing_id },
      at: now,
    });
  });
  await notifyAutomation(deps);
  return await getRule(deps, tenantId, id);
}

/** Replaces a rule's settings (its kind stays). Changing the timetable recomputes the next run. */
export async function updateRule(
  deps: Deps,
  tenantId: string,
  id: string,
  input: RuleInput,
  actor: string,
) {
  const before = await getRule(deps, tenantId, id);
  const v = RuleInput.parse(input);
  if (v.kind !== before.kind) {
    throw new AppError("validation", {}, [{ path: "kind", code: "immutable", message: "" }]);
  }
  await checkRefs(deps, tenantId, v);
  const now = deps.clock();
  const cols = columnsOf(v, before.time_zone, now);
  // A trigger that stays on keeps its start: editing it must not skip members added meanwhile.
  if (v.kind === "trigger" && before.active && v.active && before.list_id === v.list_id) {
    Object.assign(cols, { active_since: before.active_since, swept_until: undefined });
  }
  await dbOf(deps).transaction().execute(async (trx) => {
    await trx.updateTable("automation_rules").set({ ...cols, updated_at: now } as never)
      .where("tenant_id", "=", tenantId).where("id", "=", id).execute();
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "automation.rule_update",
      target: id,
      details: { name: v.name, active: v.active },
      at: now,
    });
  });
  await notifyAutomation(deps);
  return await getRule(deps, tenantId, id);
}

/**
 * The stop switch (and switching back on). Stopped, a recurring rule has no next run and a
 * trigger sends nothing; switched on again, a recurring rule continues from its next occurrence
 * and a trigger only answers members added from then on.
 */
export async function setRuleActive(
  deps: Deps,
  tenantId: string,
  id: string,
  active: boolean,
  actor: string,
) {
  const r = await getRule(deps, tenantId, id);
  const now = deps.clock();
  const set = !active
    ? { active: false, next_run_at: null, active_since: null }
    : r.kind === "recurring"
    ? {
      active: true,
      next_run_at: nextOccurrence(
        { weekdays: r.weekdays, times: r.times, timeZone: r.time_zone },
        now,
      ),
    }
    : { active: true, active_since: now, swept_until: now };
  await dbOf(deps).transaction().execute(async (trx) => {
    await trx.updateTable("automation_rules").set({ ...set, updated_at: now })
      .where("tenant_id", "=", tenantId).where("id", "=", id).execute();
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: active ? "automation.rule_start" : "automation.rule_stop",
      target: id,
      at: now,
    });
  });
  await notifyAutomation(deps);
  return await getRule(deps, tenantId, id);
}

export async function deleteRule(deps: Deps, tenantId: string, id: string, actor: string) {
  await getRule(deps, tenantId, id);
  const now = deps.clock();
  await dbOf(deps).transaction().execute(async (trx) => {
    await trx.deleteFrom("automation_rules").where("tenant_id", "=", tenantId)
      .where("id", "=", id).execute();
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "automation.rule_delete",
      target: id,
      at: now,
    });
  });
}

/** A rule's runs (recurring) or triggered sends, newest first. */
export async function listRuns(deps: Pick<AppDeps, "db">, tenantId: string, ruleId: string) {
  const rule = await getRule(deps, tenantId, ruleId);
  const db = dbOf(deps);
  if (rule.kind === "recurring") {
    const rows = await db.selectFrom("automation_runs as r")
      .leftJoin(
        "sends as s",
        (j) => j.onRef("s.tenant_id", "=", "r.tenant_id").onRef("s.id", "=", "r.send_id"),
      )
      .select([
        "r.id",
        "r.occurrence_at",
        "r.status",
        "r.send_id",
        "r.seed",
        "r.reason",
        "r.reason_params",
        "r.total",
        "r.excluded",
        "r.finished_at",
        "s.sent",
        "s.status as send_status",
      ])
      .where("r.tenant_id", "=", tenantId).where("r.rule_id", "=", ruleId)
      .orderBy("r.occurrence_at", "desc").limit(200).execute();
    return rows.map((r) => ({
      ...r,
      excluded: (r.excluded ?? {}) as Record<string, number>,
      sent: r.sent === null ? null : Number(r.sent),
      total: r.total === null ? null : Number(r.total),
    }));
  }
  const rows = await db.selectFrom("automation_trigger_events as e")
    .leftJoin(
      "sends as s",
      (j) => j.onRef("s.tenant_id", "=", "e.tenant_id").onRef("s.id", "=", "e.send_id"),
    )
    .select([
      "e.id",
      "e.added_at as occurrence_at",
      "e.status",
      "e.send_id",
      "e.person_id",
      "e.reason",
      "e.reason_params",
      "e.processed_at as finished_at",
      "s.total",
      "s.excluded",
      "s.sent",
      "s.status as send_status",
    ])
    .where("e.tenant_id", "=", tenantId).where("e.rule_id", "=", ruleId)
    .orderBy("e.created_at", "desc").limit(200).execute();
  return rows.map((r) => ({
    ...r,
    seed: null,
    excluded: (r.excluded ?? {}) as Record<string, number>,
    sent: r.sent === null ? null : Number(r.sent),
    total: r.total === null ? null : Number(r.total),
  }));
}

export async function listWaitingPeriods(deps: Pick<AppDeps, "db">, tenantId: string) {
  return await dbOf(deps).selectFrom("automation_waiting_periods as w")
    .innerJoin(
      "mailings as m",
      (j) => j.onRef("m.tenant_id", "=", "w.tenant_id").onRef("m.id", "=", "w.mailing_id"),
    )
    .select(["w.mailing_id", "w.days", "w.updated_at", "m.subject as mailing_subject"])
    .where("w.tenant_id", "=", tenantId).orderBy("m.subject").execute();
}

export async function getWaitingPeriod(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  mailingId: string,
): Promise<number | null> {
  if (!isUuid(mailingId)) return null;
  const r = await dbOf(deps).selectFrom("automation_waiting_periods").select("days")
    .where("tenant_id", "=", tenantId).where("mailing_id", "=", mailingId).executeTakeFirst();
  return r ? Number(r.days) : null;
}

/** Sets (or with days null removes) the waiting period of a mailing. */
export async function setWaitingPeriod(
  deps: Deps,
  tenantId: string,
  input: z.input<typeof WaitingPeriodInput>,
  actor: string,
) {
  const v = WaitingPeriodInput.parse(input);
  const m = await deps.db.selectFrom("mailings").select("id").where("tenant_id", "=", tenantId)
    .where("id", "=", v.mailing_id).executeTakeFirst();
  if (!m) {
    throw new AppError("validation", {}, [{ path: "mailing_id", code: "not_found", message: "" }]);
  }
  const now = deps.clock();
  await dbOf(deps).transaction().execute(async (trx) => {
    if (v.days === null) {
      await trx.deleteFrom("automation_waiting_periods").where("tenant_id", "=", tenantId)
        .where("mailing_id", "=", v.mailing_id).execute();
    } else {
      await trx.insertInto("automation_waiting_periods").values({
        tenant_id: tenantId,
        mailing_id: v.mailing_id,
        days: v.days,
        updated_by: actor,
        updated_at: now,
      }).onConflict((oc) =>
        oc.columns(["tenant_id", "mailing_id"]).doUpdateSet({
          days: v.days!,
          updated_by: actor,
          updated_at: now,
        })
      ).execute();
    }
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "automation.waiting_period",
      target: v.mailing_id,
      details: { days: v.days },
      at: now,
    });
  });
  return { mailing_id: v.mailing_id, days: v.days };
}
