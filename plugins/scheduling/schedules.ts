// Scheduling a mailing: schedule, reschedule and unschedule (back to draft), read back for the
// API and UI. A scheduled mailing is locked against edits by the core (only drafts are edited);
// unscheduling makes it a draft again. The scheduler (scheduler.ts) starts it when due.
import { type Kysely, sql } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../../core/deps.ts";
import type { DB } from "../../core/db/schema.ts";
import { isUuid, uuidv7 } from "../../core/db/ids.ts";
import { AppError, type FieldIssue } from "../../core/errors.ts";
import { audit } from "../../core/tenants/audit.ts";
import { assertStatus, getMailing, lockMailing } from "../../core/mailings/mailings.ts";
import { freezeContent } from "../../core/mailings/send.ts";
import type { ReasonParams } from "./reasons.ts";
import { instantToLocal, localToInstant, offsetLabel } from "../../core/time_zone.ts";

export const SCHEDULING_CHANNEL = "skicka_scheduling";

export type ScheduleStatus = "scheduled" | "starting" | "started" | "cancelled" | "failed";

export interface ScheduledMailingsTable {
  tenant_id: string;
  id: string;
  mailing_id: string;
  due_at: Date;
  local_time: string;
  time_zone: string;
  status: ScheduleStatus;
  claimed_by: string | null;
  lease_until: Date | null;
  attempts: number;
  send_id: string | null;
  /** Why it did not start: a reason code (reasons.ts), said in the reader's language. */
  error: string | null;
  /** The reason's parameters and field issues. */
  error_params: ReasonParams | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
}
export type SchedulingDB = DB & { scheduled_mailings: ScheduledMailingsTable };
export const dbOf = (deps: Pick<AppDeps, "db">) => deps.db as unknown as Kysely<SchedulingDB>;

/**
 * When to send: `local` is a wall-clock time in the tenant's time zone (what people type);
 * `at` an instant with an offset (what integrations have). Exactly one.
 */
export const ScheduleInput = z.object({
  local: z.string().max(40).optional(),
  at: z.iso.datetime({ offset: true }).optional(),
}).strict();
export type ScheduleInput = z.input<typeof ScheduleInput>;

/** Issues carry their parameters so the route can say them in the reader's language. */
export type SchedulingIssue = FieldIssue & { params?: Record<string, string> };

const issue = (
  path: string,
  code: string,
  params?: Record<string, string>,
  kind: "validation" | "conflict" = "validation",
): AppError => new AppError(kind, {}, [{ path, code, message: "", params } as SchedulingIssue]);

/**
 * The instant asked for, checked: it exists in the zone (DST gap) and lies in the future. The
 * instant is the truth; the local time is kept for showing, with its offset when that wall
 * time happens twice (fall-back night), so the second 02:30 is never read as the first.
 */
export function resolveDueAt(input: ScheduleInput, timeZone: string, now: Date) {
  const v = ScheduleInput.parse(input);
  if ((v.local === undefined) === (v.at === undefined)) throw issue("local", "one_of");
  let at: Date;
  if (v.local !== undefined) {
    const r = localToInstant(v.local.trim(), timeZone);
    if (!r) throw issue("local", "invalid_local");
    if ("gap" in r) {
      throw issue("local", "time_in_gap", {
        local: v.local.trim().replace("T", " "),
        tz: timeZone,
        next: r.next.replace("T", " "),
      });
    }
    at = r.at;
  } else {
    at = new Date(v.at!);
  }
  if (at.getTime() <= now.getTime()) throw issue(v.local !== undefined ? "local" : "at", "in_past");
  return { at, local: localTimeOf(at, timeZone) };
}

/** The wall time of an instant in the zone, "+HH:MM" appended when that wall time is ambiguous. */
export function localTimeOf(at: Date, timeZone: string): string {
  const local = instantToLocal(at, timeZone);
  const r = localToInstant(local, timeZone);
  return r && "ambiguous" in r && r.ambiguous ? `${local}${offsetLabel(at, timeZone)}` : local;
}

const COLUMNS = [
  "id",
  "mailing_id",
  "due_at",
  "local_time",
  "time_zone",
  "status",
  "attempts",
  "send_id",
  "error",
  "error_params",
  "created_by",
  "created_at",
  "updated_at",
  "started_at",
] as const;
export type Schedule = Pick<ScheduledMailingsTable, (typeof COLUMNS)[number]>;

/** The mailing's latest schedule (live or past), or null when it was never scheduled. */
export async function getSchedule(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  mailingId: string,
): Promise<Schedule | null> {
  if (!isUuid(mailingId)) return null;
  return await dbOf(deps).selectFrom("scheduled_mailings").select(COLUMNS)
    .where("tenant_id", "=", tenantId).where("mailing_id", "=", mailingId)
    .orderBy("id", "desc").limit(1).executeTakeFirst() ?? null;
}

/** Mailings waiting for their time (and those starting now), soonest first. */
export async function listUpcoming(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  limit = 200,
) {
  return await dbOf(deps).selectFrom("scheduled_mailings as s")
    .innerJoin(
      "mailings as m",
      (j) => j.onRef("m.tenant_id", "=", "s.tenant_id").onRef("m.id", "=", "s.mailing_id"),
    )
    .select([
      "s.id",
      "s.mailing_id",
      "s.due_at",
      "s.local_time",
      "s.time_zone",
      "s.status",
      "s.created_by",
      "m.subject",
    ])
    .where("s.tenant_id", "=", tenantId).where("s.status", "in", ["scheduled", "starting"])
    // A mailing cancelled on its own page keeps its row until the scheduler drops it.
    .where("m.status", "=", "scheduled")
    .orderBy("s.due_at").orderBy("s.id").limit(limit).execute();
}

/** Wakes idle schedulers so they see a new or moved due time. After the commit. */
export async function notifySchedulers(deps: Pick<AppDeps, "db">): Promise<void> {
  await sql`select pg_notify(${SCHEDULING_CHANNEL}, '')`.execute(deps.db);
}

/**
 * Schedules a draft (checking now what the send will need: sender, subject, body, recipients),
 * or moves the time of a scheduled mailing that has not started. The mailing becomes
 * `scheduled`, which the core keeps from being edited.
 */
export async function scheduleMailing(
  deps: AppDeps,
  tenant: { id: string; time_zone: string },
  mailingId: string,
  input: ScheduleInput,
  actor: string,
): Promise<Schedule> {
  const now = deps.clock();
  const due = resolveDueAt(input, tenant.time_zone, now);
  const m = await getMailing(deps, tenant.id, mailingId);
  assertStatus(m, ["draft", "scheduled"]);
  if (m.status === "draft") {
    const r = m.recipients;
    if (!(r.segments.length + r.lists.length + r.persons.length + r.addresses.length)) {
      throw new AppError("validation", {}, [{ path: "recipients", code: "required", message: "" }]);
    }
    await freezeContent(deps, tenant.id, m); // throws naming what is missing
  }
  await dbOf(deps).transaction().execute(async (trx) => {
    const cur = await lockMailing(trx as unknown as Kysely<DB>, tenant.id, mailingId);
    assertStatus(cur, ["draft", "scheduled"]);
    if (cur.status === "scheduled") {
      const moved = await trx.updateTable("scheduled_mailings").set({
        due_at: due.at,
        local_time: due.local,
        time_zone: tenant.time_zone,
        updated_at: now,
      }).where("tenant_id", "=", tenant.id).where("mailing_id", "=", mailingId)
        .where("status", "=", "scheduled").executeTakeFirst();
      if (!moved.numUpdatedRows) throw issue("status", "already_started", {}, "conflict");
    } else {
      await trx.insertInto("scheduled_mailings").values({
        tenant_id: tenant.id,
        id: uuidv7(),
        mailing_id: mailingId,
        due_at: due.at,
        local_time: due.local,
        time_zone: tenant.time_zone,
        status: "scheduled",
        claimed_by: null,
        lease_until: null,
        attempts: 0,
        send_id: null,
        error: null,
        error_params: null,
        created_by: actor,
        created_at: now,
        updated_at: now,
        started_at: null,
      }).execute();
      // A new version, so an editor still open on the draft cannot save over the schedule.
      await trx.updateTable("mailings").set({
        status: "scheduled",
        version: cur.version + 1,
        updated_by: actor,
        updated_at: now,
      }).where("tenant_id", "=", tenant.id).where("id", "=", mailingId).execute();
    }
    await audit(trx as unknown as Kysely<DB>, {
      tenantId: tenant.id,
      actor,
      action: cur.status === "scheduled" ? "mailing.reschedule" : "mailing.schedule",
      target: mailingId,
      details: { due_at: due.at.toISOString(), local: due.local, time_zone: tenant.time_zone },
      at: now,
    });
  });
  await notifySchedulers(deps);
  return (await getSchedule(deps, tenant.id, mailingId))!;
}

/** Unschedules a mailing that has not started: it is a draft again, editable and unsent. */
export async function unscheduleMailing(
  deps: Pick<AppDeps, "db" | "clock">,
  tenantId: string,
  mailingId: string,
  actor: string,
): Promise<void> {
  const now = deps.clock();
  await dbOf(deps).transaction().execute(async (trx) => {
    const cur = await lockMailing(trx as unknown as Kysely<DB>, tenantId, mailingId);
    const live = await trx.selectFrom("scheduled_mailings").select(["id", "status"])
      .where("tenant_id", "=", tenantId).where("mailing_id", "=", mailingId)
      .where("status", "in", ["scheduled", "starting"]).forUpdate().executeTakeFirst();
    if (!live || cur.status !== "scheduled") throw issue("status", "not_scheduled", {}, "conflict");
    if (live.status === "starting") throw issue("status", "already_started", {}, "conflict");
    await trx.updateTable("scheduled_mailings").set({ status: "cancelled", updated_at: now })
      .where("tenant_id", "=", tenantId).where("id", "=", live.id).execute();
    await trx.updateTable("mailings").set({
      status: "draft",
      version: cur.version + 1,
      updated_by: actor,
      updated_at: now,
    }).where("tenant_id", "=", tenantId).where("id", "=", mailingId).execute();
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "mailing.unschedule",
      target: mailingId,
      at: now,
    });
  });
  await notifySchedulers(deps);
}
