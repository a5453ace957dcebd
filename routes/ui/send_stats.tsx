// Statistics pages: one send's numbers (each explained), its opens and clicks over time as a
// server-rendered SVG chart, its recipients by status with a CSV export; and totals over a
// period. No JavaScript needed.
import type { Hono } from "hono";
import { stream } from "hono/streaming";
import { z } from "zod";
import type { AppDeps } from "../../core/deps.ts";
import {
  exclusionLabel,
  formatDateTime,
  formatDay,
  formatNumber,
  formatPercent,
  type Locale,
  t,
} from "../../core/i18n/mod.ts";
import { getSend } from "../../core/send/queue.ts";
import { requireTenant } from "../../core/http/context.ts";
import { AppError } from "../../core/errors.ts";
import {
  MAX_PERIOD_DAYS,
  periodDaily,
  periodStats,
  RECIPIENT_FILTERS,
  type RecipientFilter,
  sendRecipients,
  sendStats,
  sendTimeline,
  type TimelinePoint,
} from "../../core/feedback/stats.ts";
import { Page } from "./layout.tsx";
import { csvCell } from "../../core/http/csv.ts";
import { SendStatsPanels } from "./send_stats_panels.tsx";
import { addDays, isTimeZone, localDate, startOfLocalDay } from "../../core/time_zone.ts";

const PAGE = 50;
const RecipientQuery = z.object({
  status: z.enum(RECIPIENT_FILTERS).default("all"),
  after: z.uuid().optional(),
});

const percent = (n: number | null, l: Locale) => n === null ? "–" : formatPercent(n, l);

/** Opens and clicks over time: human lines solid, machine lines dashed. */
export function TimelineChart(
  { points, l, tz, unit }: { points: TimelinePoint[]; l: Locale; tz: string; unit: string },
) {
  const W = 720, H = 220, P = 36;
  const max = Math.max(1, ...points.flatMap((p) => [p.opens, p.clicks, p.machineOpens]));
  // A single point sits in the middle, not on the axis.
  const x = (i: number) =>
    P + (points.length < 2 ? (W - 2 * P) / 2 : (i * (W - 2 * P)) / (points.length - 1));
  const y = (v: number) => H - P - (v * (H - 2 * P)) / max;
  const line = (f: (p: TimelinePoint) => number) =>
    points.map((p, i) => `${x(i).toFixed(1)},${y(f(p)).toFixed(1)}`).join(" ");
  const series = [
    { key: "stats.opens_human", f: (p: TimelinePoint) => p.opens, cls: "s-open" },
    { key: "stats.clicks_human", f: (p: TimelinePoint) => p.clicks, cls: "s-click" },
    { key: "stats.opens_machine", f: (p: TimelinePoint) => p.machineOpens, cls: "s-machine" },
  ];
  const first = points[0], last = points[points.length - 1];
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={t(l, "stats.chart_label", { unit: t(l, `stats.unit.${unit}`) })}
        data-testid="timeline"
      >
        <line x1={P} y1={H - P} x2={W - P} y2={H - P} class="axis" />
        <line x1={P} y1={P} x2={P} y2={H - P} class="axis" />
        <text x={P - 6} y={P + 4} text-anchor="end" class="tick">{formatNumber(max, l)}</text>
        <text x={P - 6} y={H - P + 4} text-anchor="end" class="tick">0</text>
        {first && <text x={P} y={H - P + 18} class="tick">{formatDateTime(first.at, l, tz)}</text>}
        {last && points.length > 1 && (
          <text x={W - P} y={H - P + 18} text-anchor="end" class="tick">
            {formatDateTime(last.at, l, tz)}
          </text>
        )}
        {series.map((s) => <polyline points={line(s.f)} class={`series ${s.cls}`} />)}
        {points.length <= 200 && series.flatMap((s) =>
          points.map((p, i) => (
            <circle cx={x(i).toFixed(1)} cy={y(s.f(p)).toFixed(1)} r="3" class={`dot ${s.cls}`} />
          ))
        )}
      </svg>
      <figcaption>
        {series.map((s) => <span class={`legend ${s.cls}`}>{t(l, s.key)}</span>)}
      </figcaption>
    </figure>
  );
}

/** Numbers with their rate (of delivered, unless said) and the help text that explains them. */
function Stats(
  { l, testid, items }: {
    l: Locale;
    testid: string;
    items: [label: string, value: number, rate?: number | null][];
  },
) {
  return (
    <dl class="stats" data-testid={testid}>
      {items.map(([label, value, rate]) => (
        <div class="stat" data-stat={label}>
          <dt>{t(l, `stats.${label}`)}</dt>
          <dd>
            <strong>{formatNumber(value, l)}</strong>
            {rate !== undefined && <span class="muted">{percent(rate, l)}</span>}
          </dd>
          <dd class="help">{t(l, `stats.help.${label}`)}</dd>
        </div>
      ))}
    </dl>
  );
}

export function sendStatsPages(app: Hono, deps: AppDeps) {
  app.get("/sends/:id/stats", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const id = z.uuid().safeParse(c.req.param("id"));
    if (!id.success) throw new AppError("not_found");
    const q = RecipientQuery.safeParse(c.req.query());
    if (!q.success) throw new AppError("not_found");
    const [s, timeline, rows] = await Promise.all([
      sendStats(deps, tenant.id, id.data),
      sendTimeline(deps, tenant.id, id.data, { timeZone: tz }),
      sendRecipients(deps, tenant.id, id.data, {
        filter: q.data.status,
        after: q.data.after,
        limit: PAGE + 1,
      }),
    ]);
    const more = rows.length > PAGE;
    const shown = rows.slice(0, PAGE);
    return c.html(
      <Page c={c} deps={deps} title={t(l, "stats.title")}>
        <h1>{t(l, "stats.title")}</h1>
        <p class="muted">
          {s.subject} · {t(l, `stats.status.${s.status}`)}
          {s.startedAt && <>{" · "}{formatDateTime(s.startedAt, l, tz)}</>}
        </p>
        <div class="card">
          <Stats
            l={l}
            testid="numbers"
            items={[
              ["recipients", s.recipients],
              ["excluded", s.excludedTotal],
              ["sent", s.sent],
              ["delivered", s.delivered, s.rates.delivery],
              ["pending", s.pending],
              ["failed", s.failed],
              ["bounced_hard", s.bounced.hard, s.rates.bounce],
              ["bounced_soft", s.bounced.soft],
              ["bounced_policy", s.bounced.policy],
              ["opened", s.opens.human.unique, s.rates.open],
              ["clicked", s.clicks.human.unique, s.rates.click],
              ["machine", s.opens.machine.total + s.clicks.machine.total],
              ["unsubscribed", s.unsubscribes, s.rates.unsubscribe],
              ["complaints", s.complaints, s.rates.complaint],
            ]}
          />
          {s.excludedTotal > 0 && (
            <p class="muted" data-testid="excluded">
              {Object.entries(s.excluded).map(([reason, n]) =>
                `${exclusionLabel(l, reason)}: ${formatNumber(Number(n), l)}`
              ).join(" · ")}
            </p>
          )}
          <p class="muted">
            {t(l, "stats.totals", {
              opens: s.opens.human.total,
              clicks: s.clicks.human.total,
              ctor: percent(s.rates.clickToOpen, l),
            })}
          </p>
        </div>
        <SendStatsPanels c={c} deps={deps} tenantId={tenant.id} sendId={id.data} />
        <div class="card">
          <h2>{t(l, "stats.over_time")}</h2>
          {timeline.points.length
            ? <TimelineChart points={timeline.points} l={l} tz={tz} unit={timeline.unit} />
            : <p class="muted">{t(l, "stats.no_events")}</p>}
        </div>
        <div class="card">
          <h2>{t(l, "stats.recipients")}</h2>
          <nav class="filters">
            {RECIPIENT_FILTERS.map((f) => (
              <a
                href={`?status=${f}`}
                aria-current={f === q.data.status ? "page" : undefined}
              >
                {t(l, `stats.filter.${f}`)}
              </a>
            ))}
            <a href={`/sends/${id.data}/recipients.csv?status=${q.data.status}`} download>
              {t(l, "stats.csv")}
            </a>
          </nav>
          <table class="responsive" data-testid="recipients">
            <thead>
              <tr>
                <th>{t(l, "stats.col.address")}</th>
                <th>{t(l, "stats.col.status")}</th>
                <th>{t(l, "stats.col.sent")}</th>
                <th>{t(l, "stats.col.opened")}</th>
                <th>{t(l, "stats.col.clicked")}</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <tr>
                  <td data-label={t(l, "stats.col.address")}>
                    {r.person_id ? <a href={`/people/${r.person_id}`}>{r.address}</a> : r.address}
                  </td>
                  <td data-label={t(l, "stats.col.status")} title={r.last_reply ?? ""}>
                    {t(l, `stats.row.${r.status}`)}
                    {r.bounce && <>· {t(l, `stats.bounce.${r.bounce}`)}</>}
                    {r.unsubscribed && <>· {t(l, "stats.filter.unsubscribed")}</>}
                  </td>
                  <td>{r.sent_at ? formatDateTime(r.sent_at, l, tz) : ""}</td>
                  <td>{r.opened_at ? formatDateTime(r.opened_at, l, tz) : ""}</td>
                  <td>{r.clicked_at ? formatDateTime(r.clicked_at, l, tz) : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {more && (
            <a href={`?status=${q.data.status}&after=${shown[shown.length - 1]!.id}`}>
              {t(l, "common.next")}
            </a>
          )}
        </div>
      </Page>,
    );
  });

  // The recipient list as CSV, streamed page by page: never the whole send in memory.
  app.get("/sends/:id/recipients.csv", async (c) => {
    const tenant = requireTenant(c);
    const id = z.uuid().safeParse(c.req.param("id"));
    const q = RecipientQuery.safeParse(c.req.query());
    if (!id.success || !q.success) throw new AppError("not_found");
    await getSend(deps, tenant.id, id.data); // 404 for another tenant's send
    c.header("content-type", "text/csv; charset=utf-8");
    c.header("content-disposition", `attachment; filename="recipients-${id.data}.csv"`);
    return stream(c, async (out) => {
      await out.write(
        "address,person_id,status,sent_at,opened_at,clicked_at,bounce,unsubscribed\r\n",
      );
      let after: string | undefined;
      for (;;) {
        const rows = await sendRecipients(deps, tenant.id, id.data, {
          filter: q.data.status as RecipientFilter,
          after,
          limit: 1000,
        });
        if (!rows.length) break;
        await out.write(
          rows.map((r) =>
            [
              r.address,
              r.person_id ?? "",
              r.status,
              r.sent_at?.toISOString() ?? "",
              r.opened_at?.toISOString() ?? "",
              r.clicked_at?.toISOString() ?? "",
              r.bounce ?? "",
              r.unsubscribed ? "yes" : "",
            ].map(csvCell).join(",") + "\r\n"
          ).join(""),
        );
        after = rows[rows.length - 1]!.id;
      }
    });
  });

  app.get("/stats", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    // Days are the reader's: "1 March" starts at midnight where they are, not in UTC.
    const tz = isTimeZone(c.get("timeZone")) ? c.get("timeZone") : "UTC";
    const q = z.object({
      from: z.iso.date().optional(),
      to: z.iso.date().optional(),
    }).safeParse(c.req.query());
    const todayText = localDate(deps.clock(), tz);
    let toText = (q.success && q.data.to) || todayText;
    let fromText = (q.success && q.data.from) || addDays(toText, -30);
    const invalid = !q.success || fromText > toText ||
      addDays(fromText, MAX_PERIOD_DAYS) <= toText;
    if (invalid) [fromText, toText] = [addDays(todayText, -30), todayText];
    const from = startOfLocalDay(fromText, tz);
    const to = startOfLocalDay(addDays(toText, 1), tz);
    const [p, daily] = await Promise.all([
      periodStats(deps, tenant.id, from, to),
      periodDaily(deps, tenant.id, { from: fromText, to: toText, timeZone: tz }),
    ]);
    const delivered = Math.max(0, p.sent - p.bouncedHard - p.bouncedSoft);
    return c.html(
      <Page c={c} deps={deps} title={t(l, "stats.period_title")}>
        <h1>{t(l, "stats.period_title")}</h1>
        {invalid && (
          <p class="flash error" role="alert" data-testid="period-invalid">
            {t(l, "stats.period_invalid", { n: MAX_PERIOD_DAYS })}
          </p>
        )}
        <form method="get" class="inline">
          <label>
            {t(l, "stats.from")} <input type="date" name="from" value={fromText} />
          </label>
          <label>
            {t(l, "stats.to")} <input type="date" name="to" value={toText} />
          </label>
          <button type="submit">{t(l, "stats.show")}</button>
        </form>
        <div class="card">
          <Stats
            l={l}
            testid="period"
            items={[
              ["sends", p.sends],
              ["recipients", p.recipients],
              ["sent", p.sent],
              ["delivered", delivered, p.recipients ? delivered / p.recipients : null],
              ["bounced_hard", p.bouncedHard],
              ["opened", p.uniqueOpens, delivered ? p.uniqueOpens / delivered : null],
              ["clicked", p.uniqueClicks, delivered ? p.uniqueClicks / delivered : null],
              ["machine", p.machineOpens + p.machineClicks],
              ["complaints", p.complaints],
            ]}
          />
        </div>
        <div class="card">
          <h2>{t(l, "stats.per_day", { tz })}</h2>
          <p class="muted">{t(l, "stats.per_day_help", { tz })}</p>
          <table class="responsive" data-testid="per-day">
            <thead>
              <tr>
                <th>{t(l, "stats.col.day")}</th>
                <th>{t(l, "stats.col.sends")}</th>
                <th>{t(l, "stats.col.messages")}</th>
                <th>{t(l, "stats.col.opens")}</th>
                <th>{t(l, "stats.col.clicks")}</th>
                <th>{t(l, "stats.col.machine")}</th>
              </tr>
            </thead>
            <tbody>
              {daily.map((d) => (
                <tr data-day={d.day}>
                  <td data-label={t(l, "stats.col.day")}>{formatDay(d.day, l)}</td>
                  <td data-label={t(l, "stats.col.sends")}>{formatNumber(d.sends, l)}</td>
                  <td data-label={t(l, "stats.col.messages")}>{formatNumber(d.sent, l)}</td>
                  <td data-label={t(l, "stats.col.opens")}>{formatNumber(d.opens, l)}</td>
                  <td data-label={t(l, "stats.col.clicks")}>{formatNumber(d.clicks, l)}</td>
                  <td data-label={t(l, "stats.col.machine")}>{formatNumber(d.machine, l)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Page>,
    );
  });
}
