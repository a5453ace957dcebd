// Statistics of a send and of a period: the counters kept on `sends` as outcomes and events are
// recorded, plus what only the event tables can tell (uniques, human vs machine, the timeline).
// Every query is by tenant and send (or period) through an index; nothing scans a whole table.
import { sql } from "kysely";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";

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
 * machine apart. Buckets without events are filled with zeros so a chart's x-axis is even.
 */
export async function sendTimeline(
  deps: Deps,
  tenantId: string,
  sendId: string,
): Promise<{ unit: "hour" | "day"; points: TimelinePoint[] }> {
  const span = await sql<{ first: Date | null; last: Date | null }>`
    select min(created_at) as first, max(created_at) as last from tracking_events
    where tenant_id = ${tenantId} and send_id = ${sendId}`.execute(deps.db);
  const first = span.rows[0]?.first;
  const last = span.rows[0]?.last;
  if (!first || !last) return { unit: "hour", points: [] };
  const unit = new Date(last).getTime() - new Date(first).getTime() > 4 * 86_400_000
    ? "day"
    : "hour";
  const step = unit === "day" ? 86_400 : 3_600;
  const r = await sql<{ at: string | number; kind: string; machine: boolean; n: string | number }>`
    select floor(extract(epoch from created_at) / ${step}) * ${step} as at, kind, machine,
      count(*) as n
    from tracking_events where tenant_id = ${tenantId} and send_id = ${sendId}
    group by 1, 2, 3 order by 1`.execute(deps.db);
  const utc = (epochSeconds: string | number) => Number(epochSeconds) * 1000;
  const byTime = new Map<number, TimelinePoint>();
  for (const e of r.rows) {
    const at = utc(e.at);
    const p = byTime.get(at) ??
      { at: new Date(at), opens: 0, clicks: 0, machineOpens: 0, machineClicks: 0 };
    const n = Number(e.n);
    if (e.kind === "open") e.machine ? (p.machineOpens += n) : (p.opens += n);
    else e.machine ? (p.machineClicks += n) : (p.clicks += n);
    byTime.set(at, p);
  }
  const times = [...byTime.keys()].sort((a, b) => a - b);
  const points: TimelinePoint[] = [];
  for (let t = times[0]!; t <= times[times.length - 1]!; t += step * 1000) {
    points.push(
      byTime.get(t) ?? { at: new Date(t), opens: 0, clicks: 0, machineOpens: 0, machineClicks: 0 },
    );
    if (points.length > 2_000) break;
  }
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

/** Totals over the sends started in [from, to), test sends left out. */
export async function periodStats(
  deps: Deps,
  tenantId: string,
  from: Date,
  to: Date,
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
      and not coalesce(is_test, false)`.execute(deps.db);
  const row = r.rows[0]!;
  const out = {} as PeriodStats;
  for (const [k, v] of Object.entries(row)) out[k as keyof PeriodStats] = Number(v);
  return out;
}
