// Reports on transactional mail per stream and tag: sent, delivered, bounces, complaints, opens
// and clicks, in total and per day (in the reader's time zone). Read straight from the queue
// rows: their ids are UUIDv7, so "since" is a primary-key range, not a scan of the stream.
import { sql } from "kysely";
import { z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { AppError } from "../../core/errors.ts";
import { type Locale, t } from "../../core/i18n/mod.ts";
import { STREAM_NAME } from "../../core/send/stream_message.ts";

export const ReportQuery = z.object({
  days: z.coerce.number().int().min(1).max(90).default(30).openapi({
    param: { name: "days", in: "query" },
  }),
  stream: z.string().regex(STREAM_NAME).optional().openapi({
    param: { name: "stream", in: "query" },
  }),
  tag: z.string().max(64).optional().openapi({ param: { name: "tag", in: "query" } }),
  time_zone: z.string().max(64).optional().openapi({
    param: { name: "time_zone", in: "query" },
    description: "IANA zone for the days (default: the organisation's)",
  }),
});
export type ReportQuery = z.infer<typeof ReportQuery>;

const Totals = z.object({
  messages: z.number().int(),
  sent: z.number().int(),
  delivered: z.number().int(),
  failed: z.number().int(),
  waiting: z.number().int(),
  suppressed: z.number().int(),
  bounced: z.number().int(),
  complained: z.number().int(),
  opened: z.number().int(),
  clicked: z.number().int(),
  /** Of attempted (sent or failed): a 5xx during delivery is a bounce that never was "sent". */
  bounce_rate: z.number(),
  /** Of delivered. */
  open_rate: z.number(),
  click_rate: z.number(),
});
export type Totals = z.infer<typeof Totals>;

export const ReportSchema = z.object({
  since: z.string(),
  time_zone: z.string(),
  streams: z.array(z.object({ stream: z.string() }).extend(Totals.shape)),
  tags: z.array(z.object({ tag: z.string() }).extend(Totals.shape)),
  days: z.array(z.object({ day: z.string() }).extend(Totals.shape)),
  total: Totals,
}).openapi("TransactionalReport");

/** The smallest UUIDv7 of a moment: ids at or after it were made at or after it. */
function uuidFloor(at: Date): string {
  const h = at.getTime().toString(16).padStart(12, "0");
  return `${h.slice(0, 8)}-${h.slice(8)}-7000-8000-000000000000`;
}

interface Counts {
  messages: number;
  sent: number;
  failed: number;
  waiting: number;
  suppressed: number;
  bounced: number;
  delivered: number;
  complained: number;
  opened: number;
  clicked: number;
}

function totals(c: Counts): Totals {
  const n = (x: unknown) => Number(x ?? 0);
  const sent = n(c.sent);
  const delivered = n(c.delivered);
  const rate = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 10_000) / 10_000 : 0);
  return {
    messages: n(c.messages),
    sent,
    delivered,
    failed: n(c.failed),
    waiting: n(c.waiting),
    suppressed: n(c.suppressed),
    bounced: n(c.bounced),
    complained: n(c.complained),
    opened: n(c.opened),
    clicked: n(c.clicked),
    bounce_rate: rate(n(c.bounced), sent + n(c.failed)),
    open_rate: rate(n(c.opened), delivered),
    click_rate: rate(n(c.clicked), delivered),
  };
}

export async function streamReport(
  deps: Pick<AppDeps, "db" | "clock">,
  tenantId: string,
  q: Partial<ReportQuery> & { defaultTimeZone?: string; locale?: Locale },
) {
  const days = q.days ?? 30;
  if (q.time_zone !== undefined && !validZone(q.time_zone)) {
    throw new AppError("validation", {}, [{
      path: "time_zone",
      code: "invalid_time_zone",
      message: t(q.locale ?? "en", "transactional.issue.invalid_time_zone"),
    }]);
  }
  const tz = validZone(q.time_zone) ?? validZone(q.defaultTimeZone) ?? "UTC";
  const now = deps.clock();
  // From the start of the first day in the reader's zone, roughly: a day back covers the shift.
  const since = new Date(now.getTime() - days * 86_400_000);
  const floor = uuidFloor(new Date(since.getTime() - 86_400_000));
  const streamFilter = q.stream ? sql`and s.stream = ${q.stream}` : sql``;
  const tagFilter = q.tag
    ? sql`and (q.data -> 'tags') @> jsonb_build_array(${q.tag}::text)`
    : sql``;
  // One pass over the period's rows; bounces and complaints joined per row (each at most once).
  const base = sql`
    select s.stream, q.status, q.last_reply, q.opened_at, q.clicked_at, q.data -> 'tags' as tags,
      (q.created_at at time zone ${tz})::date as day,
      exists (select 1 from bounces b where b.tenant_id = q.tenant_id and b.queue_id = q.id
        and b.kind <> 'complaint') as bounced,
      exists (select 1 from bounces b where b.tenant_id = q.tenant_id and b.queue_id = q.id
        and b.kind = 'complaint') as complained
    from send_queue q
    join sends s on s.tenant_id = q.tenant_id and s.id = q.send_id and s.stream is not null
    where q.tenant_id = ${tenantId} and q.id >= ${floor}::uuid and q.created_at >= ${since}
      ${streamFilter} ${tagFilter}`;
  const measures = sql`count(*)::int as messages,
    count(*) filter (where status = 'sent')::int as sent,
    count(*) filter (where status = 'failed')::int as failed,
    count(*) filter (where status in ('queued', 'leased', 'held'))::int as waiting,
    count(*) filter (where status = 'cancelled' and last_reply like 'suppressed:%')::int
      as suppressed,
    count(*) filter (where bounced)::int as bounced,
    count(*) filter (where status = 'sent' and not bounced)::int as delivered,
    count(*) filter (where complained)::int as complained,
    count(*) filter (where opened_at is not null)::int as opened,
    count(*) filter (where clicked_at is not null)::int as clicked`;
  const byStream = await sql<Counts & { stream: string }>`
    with m as (${base}) select stream, ${measures} from m group by stream order by stream`
    .execute(deps.db);
  const byTag = await sql<Counts & { tag: string }>`
    with m as (${base}) select tag, ${measures}
    from m, jsonb_array_elements_text(coalesce(m.tags, '[]'::jsonb)) as tag
    group by tag order by count(*) desc, tag limit 100`.execute(deps.db);
  const byDay = await sql<Counts & { day: string | Date }>`
    with m as (${base}) select day, ${measures} from m group by day order by day`
    .execute(deps.db);
  const total = await sql<Counts>`with m as (${base}) select ${measures} from m`.execute(deps.db);
  return {
    since,
    time_zone: tz,
    streams: byStream.rows.map((r) => ({ stream: r.stream, ...totals(r) })),
    tags: byTag.rows.map((r) => ({ tag: r.tag, ...totals(r) })),
    days: byDay.rows.map((r) => ({ day: dayString(r.day), ...totals(r) })),
    total: totals(total.rows[0]!),
  };
}

/** PGlite gives a date column as a Date at UTC midnight, postgres.js as "YYYY-MM-DD". */
function dayString(d: string | Date): string {
  return d instanceof Date ? d.toISOString().slice(0, 10) : String(d).slice(0, 10);
}

function validZone(tz: string | undefined): string | undefined {
  if (!tz) return undefined;
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return tz;
  } catch {
    return undefined;
  }
}
