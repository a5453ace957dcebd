// Statistics of a send and of a period: the counters kept on `sends` as outcomes and events are
// recorded, plus what only the event tables can tell (uniques, human vs machine, the timeline).
// Every query is by tenant and send (or period) through an index; nothing scans a whole table.
import { type RawBuilder, sql } from "kysely";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { addDays, isTimeZone, startOfLocalDay } from "../time_zone.ts";

type Deps = Pick<AppDeps, "db">;

export interface EngagementCounts {
  total: number;
  unique: number;
}

export interface SendStats {
  sendId: string;
  kind: string;
  status: string;
  subject: string;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** Messages queued after dedupe and exclusions. */
  recipients: number;
  excluded: Record<string, number>;
  excludedTotal: number;
  /** Accepted by the receiving server. */
  sent: number;
  /** Refused for good (5xx at delivery, or retries given up). */
  failed: number;
  /** Still waiting in the queue (including retries). */
  pending: number;
  bounced: { hard: number; soft: number; policy: number };
  /** Sent and not bounced afterwards. */
  delivered: number;
  complaints: number;
  unsubscribes: number;
  opens: { human: EngagementCounts; machine: EngagementCounts };
  clicks: { human: EngagementCounts; machine: EngagementCounts };
  /** Fractions 0..1 of delivered (clickToOpen: of unique human opens); null when undefined. */
  rates: {
    delivery: number | null;
    bounce: number | null;
    open: number | null;
    click: number | null;
    clickToOpen: number | null;
    unsubscribe: number | null;
    complaint: number | null;
  };
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : null);

/** The numbers of one send, or a 404 AppError. */
export async function sendStats(deps: Deps, tenantId: string, sendId: string): Promise<SendStats> {
  const s = await deps.db.selectFrom("sends").selectAll()
    .where("tenant_id", "=", tenantId).where("id", "=", sendId).executeTakeFirst();
  if (!s) throw new AppError("not_found");
  const row = s as unknown as Record<string, unknown>;
  const num = (k: string) => Number(row[k] ?? 0);

  const [engagement, pending, unsub] = await Promise.all([
    sql<{ kind: string; machine: boolean; total: string | number; uniq: string | number }>`
      select kind, machine, count(*) as total, count(distinct queue_id) as uniq
      from tracking_events where tenant_id = ${tenantId} and send_id = ${sendId}
      group by kind, machine`.execute(deps.db),
    sql<{ n: string | number }>`select count(*) as n from send_queue
      where tenant_id = ${tenantId} and send_id = ${sendId}
        and status in ('queued', 'leased', 'held')`.execute(deps.db),
    sql<{ n: string | number }>`select count(*) as n from unsubscribes
      where tenant_id = ${tenantId} and send_id = ${sendId}`.execute(deps.db),
  ]);
  const counts = (kind: string, machine: boolean): EngagementCounts => {
    const r = engagement.rows.find((e) => e.kind === kind && e.machine === machine);
    return { total: Number(r?.total ?? 0), unique: Number(r?.uniq ?? 0) };
  };
  const excluded = (s.excluded ?? {}) as Record<string, number>;
  const bounced = {
    hard: num("bounced_hard"),
    soft: num("bounced_soft"),
    policy: num("bounced_policy"),
  };
  const sent = num("sent");
  // Soft bounces after acceptance are final for this message (the retries were the remote's).
  const delivered = Math.max(0, sent - bounced.hard - bounced.soft);
  const opens = { human: counts("open", false), machine: counts("open", true) };
  const clicks = { human: counts("click", false), machine: counts("click", true) };
  const unsubscribes = Number(unsub.rows[0]?.n ?? 0);
  const complaints = num("complaints");
  return {
    sendId,
    kind: s.kind,
    status: s.status,
    subject: String((s.content as { subject?: string })?.subject ?? ""),
    startedAt: s.started_at,
    finishedAt: s.finished_at,
    recipients: s.total,
    excluded,
    excludedTotal: Object.values(excluded).reduce((a, b) => a + Number(b), 0),
    sent,
    failed: s.failed,
    pending: Number(pending.rows[0]?.n ?? 0),
    bounced,
    delivered,
    complaints,
    unsubscribes,
    opens,
    clicks,
    rates: {
      delivery: ratio(delivered, s.total),
      bounce: ratio(bounced.hard + bounced.soft + s.failed, sent + s.failed),
      open: ratio(opens.human.unique, delivered),
      click: ratio(clicks.human.unique, delivered),
      clickToOpen: ratio(clicks.human.unique, opens.human.unique),
      unsubscribe: ratio(unsubscribes, delivered),
      complaint: ratio(complaints, delivered),
    },
  };
}

export interface TimelinePoint {
  at: Date;
  opens: number;
  clicks: number;
  machineOpens: number;
  machineClicks: number;
}

/**
 * Opens and clicks per hour (or per day when the events span more than four days), human and
 * machine apart. Buckets are the reader's hours and days (timeZone; days begin at local
 * midnight, whatever the DST), and buckets without events are filled with zeros so a chart's
 * x-axis is even.
 */
export async function sendTimeline(
  deps: Deps,
  tenantId: string,
  sendId: string,
  opts: { timeZone?: string } = {},
): Promise<{ unit: "hour" | "day"; points: TimelinePoint[] }> {
  const tz = opts.timeZone && isTimeZone(opts.timeZone) ? opts.timeZone : "UTC";
  const span = await sql<{ first: Date | null; last: Date | null }>`
    select min(created_at) as first, max(created_at) as last from tracking_events
    where tenant_id = ${tenantId} and send_id = ${sendId}`.execute(deps.db);
  const first = span.rows[0]?.first;
  const last = span.rows[0]?.last;
  if (!first || !last) return { unit: "hour", points: [] };
  const unit = new Date(last).getTime() - new Date(first).getTime() > 4 * 86_400_000
    ? "day"
    : "hour";
  // Truncated on the local wall clock, the series walks local time (a DST day keeps one
  // bucket), and each bucket start is turned back into an instant.
  const r = await sql<{
    at: string | number;
    opens: string | number;
    clicks: string | number;
    machine_opens: string | number;
    machine_clicks: string | number;
  }>`
    with e as (
      select date_trunc(${unit}, created_at at time zone ${tz}) as local, kind, machine
      from tracking_events where tenant_id = ${tenantId} and send_id = ${sendId}
    ), buckets as (
      select generate_series(min(local), max(local), ${`1 ${unit}`}::interval) as local from e
    )
    select extract(epoch from (b.local at time zone ${tz})) as at,
      count(e.kind) filter (where e.kind = 'open' and not e.machine) as opens,
      count(e.kind) filter (where e.kind = 'click' and not e.machine) as clicks,
      count(e.kind) filter (where e.kind = 'open' and e.machine) as machine_opens,
      count(e.kind) filter (where e.kind = 'click' and e.machine) as machine_clicks
    from buckets b left join e on e.local = b.local
    group by b.local order by b.local limit 2001`.execute(deps.db);
  const points = r.rows.map((p) => ({
    at: new Date(Number(p.at) * 1000),
    opens: Number(p.opens),
    clicks: Number(p.clicks),
    machineOpens: Number(p.machine_opens),
    machineClicks: Number(p.machine_clicks),
  }));
  return { unit, points };
}

export const RECIPIENT_FILTERS = [
  "all",
  "sent",
  "pending",
  "failed",
  "opened",
  "clicked",
  "bounced",
  "unsubscribed",
] as const;
export type RecipientFilter = (typeof RECIPIENT_FILTERS)[number];

export interface RecipientRow {
  id: string;
  person_id: string | null;
  address: string;
  status: string;
  sent_at: Date | null;
  opened_at: Date | null;
  clicked_at: Date | null;
  bounce: string | null;
  unsubscribed: boolean;
  last_reply: string | null;
}

/** A page of a send's recipients by status, in queue order (cursor = last id seen). */
export async function sendRecipients(
  deps: Deps,
  tenantId: string,
  sendId: string,
  opts: { filter?: RecipientFilter; after?: string; limit?: number } = {},
): Promise<RecipientRow[]> {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 10_000);
  const filter = opts.filter ?? "all";
  const cond = {
    all: sql`true`,
    sent: sql`q.status = 'sent'`,
    pending: sql`q.status in ('queued', 'leased', 'held')`,
    failed: sql`q.status = 'failed'`,
    opened: sql`q.opened_at is not null`,
    clicked: sql`q.clicked_at is not null`,
    bounced: sql`b.kind is not null`,
    unsubscribed: sql`u.id is not null`,
  }[filter];
  const r = await sql<RecipientRow>`
    select q.id, q.person_id, q.address, q.status, q.sent_at, q.opened_at, q.clicked_at,
      b.kind as bounce, (u.id is not null) as unsubscribed, q.last_reply
    from send_queue q
    left join lateral (select kind from bounces where tenant_id = q.tenant_id
      and queue_id = q.id order by created_at desc limit 1) b on true
    left join lateral (select id from unsubscribes where tenant_id = q.tenant_id
      and queue_id = q.id limit 1) u on true
    where q.tenant_id = ${tenantId} and q.send_id = ${sendId}
      ${opts.after ? sql`and q.id > ${opts.after}` : sql``}
      and ${cond}
    order by q.id limit ${limit}`.execute(deps.db);
  return r.rows;
}

export interface PeriodStats {
  sends: number;
  recipients: number;
  sent: number;
  failed: number;
  bouncedHard: number;
  bouncedSoft: number;
  complaints: number;
  uniqueOpens: number;
  uniqueClicks: number;
  machineOpens: number;
  machineClicks: number;
}

/**
 * Totals over the sends started in [from, to), test sends left out. `onlySends` narrows them to
 * the ids a subquery yields (e.g. the sends of some mailings); it must select one send id column
 * and be scoped to the tenant itself.
 */
export async function periodStats(
  deps: Deps,
  tenantId: string,
  from: Date,
  to: Date,
  opts: { onlySends?: RawBuilder<unknown> } = {},
): Promise<PeriodStats> {
  const r = await sql<Record<keyof PeriodStats, string | number>>`
    select count(*) as "sends", coalesce(sum(total), 0) as "recipients",
      coalesce(sum(sent), 0) as "sent", coalesce(sum(failed), 0) as "failed",
      coalesce(sum(bounced_hard), 0) as "bouncedHard",
      coalesce(sum(bounced_soft), 0) as "bouncedSoft",
      coalesce(sum(complaints), 0) as "complaints",
      coalesce(sum(unique_opens), 0) as "uniqueOpens",
      coalesce(sum(unique_clicks), 0) as "uniqueClicks",
      coalesce(sum(machine_opens), 0) as "machineOpens",
      coalesce(sum(machine_clicks), 0) as "machineClicks"
    from sends where tenant_id = ${tenantId} and started_at >= ${from} and started_at < ${to}
      and not coalesce(is_test, false) and stream is null
      ${opts.onlySends ? sql`and id in (${opts.onlySends})` : sql``}`.execute(deps.db);
  const row = r.rows[0]!;
  const out = {} as PeriodStats;
  for (const [k, v] of Object.entries(row)) out[k as keyof PeriodStats] = Number(v);
  return out;
}

export interface DayStats {
  /** The reader's calendar day, YYYY-MM-DD. */
  day: string;
  /** Sends started that day (test sends left out) and their messages accepted so far. */
  sends: number;
  sent: number;
  /** Opens and clicks that day (of the period's sends): people and machines apart. */
  opens: number;
  clicks: number;
  machine: number;
}

/** The longest period shown day by day. */
export const MAX_PERIOD_DAYS = 366;

/**
 * The period's figures day by day, days being the reader's (timeZone): an event at 23:30 UTC
 * falls on the next day in Helsinki. Only the sends started in the period are read, so the
 * events are found through their send's index, never by scanning all of a tenant's events.
 */
export async function periodDaily(
  deps: Deps,
  tenantId: string,
  period: { from: string; to: string; timeZone: string },
): Promise<DayStats[]> {
  const tz = isTimeZone(period.timeZone) ? period.timeZone : "UTC";
  const from = startOfLocalDay(period.from, tz);
  const to = startOfLocalDay(addDays(period.to, 1), tz);
  const [sends, events] = await Promise.all([
    sql<{ day: string; sends: string | number; sent: string | number }>`
      select to_char(started_at at time zone ${tz}, 'YYYY-MM-DD') as day, count(*) as sends,
        coalesce(sum(sent), 0) as sent
      from sends where tenant_id = ${tenantId} and started_at >= ${from} and started_at < ${to}
        and not coalesce(is_test, false) and stream is null
      group by 1`.execute(deps.db),
    sql<{ day: string; kind: string; machine: boolean; n: string | number }>`
      select to_char(e.created_at at time zone ${tz}, 'YYYY-MM-DD') as day, e.kind, e.machine,
        count(*) as n
      from sends s join tracking_events e on e.tenant_id = s.tenant_id and e.send_id = s.id
      where s.tenant_id = ${tenantId} and s.started_at >= ${from} and s.started_at < ${to}
        and not coalesce(s.is_test, false) and s.stream is null
        and e.created_at >= ${from} and e.created_at < ${to}
      group by 1, 2, 3`.execute(deps.db),
  ]);
  const days = new Map<string, DayStats>();
  for (let d = period.from, i = 0; d <= period.to && i < MAX_PERIOD_DAYS; d = addDays(d, 1), i++) {
    days.set(d, { day: d, sends: 0, sent: 0, opens: 0, clicks: 0, machine: 0 });
  }
  for (const r of sends.rows) {
    const d = days.get(r.day);
    if (d) Object.assign(d, { sends: Number(r.sends), sent: Number(r.sent) });
  }
  for (const r of events.rows) {
    const d = days.get(r.day);
    if (!d) continue;
    if (r.machine) d.machine += Number(r.n);
    else if (r.kind === "open") d.opens += Number(r.n);
    else d.clicks += Number(r.n);
  }
  return [...days.values()];
}
