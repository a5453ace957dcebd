// The page under /p/transactional: transactional mail per stream and tag over the last days —
// sent, delivered, bounce rate, opens and clicks, per day — from the same report as the API.
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { formatDay, formatNumber, formatPercent, type Locale, t } from "../../core/i18n/mod.ts";
import { requireTenant } from "../../core/http/context.ts";
import { STREAM_NAME } from "../../core/send/stream_message.ts";
import { Page } from "../../routes/ui/layout.tsx";
import { streamReport, type Totals } from "./report.ts";

const P = "transactional";
const PERIODS = [7, 30, 90] as const;

function Row(props: { label: string; v: Totals; l: Locale }) {
  const { v, l } = props;
  const n = (x: number) => formatNumber(x, l);
  return (
    <tr>
      <td>{props.label}</td>
      <td data-label={t(l, `${P}.sent`)}>{n(v.sent)}</td>
      <td data-label={t(l, `${P}.delivered`)}>{n(v.delivered)}</td>
      <td data-label={t(l, `${P}.failed`)}>{n(v.failed)}</td>
      <td data-label={t(l, `${P}.queued`)}>{n(v.waiting)}</td>
      <td data-label={t(l, `${P}.bounced`)}>{n(v.bounced)}</td>
      <td data-label={t(l, `${P}.bounce_rate`)}>{formatPercent(v.bounce_rate, l)}</td>
      <td data-label={t(l, `${P}.opened`)}>
        {n(v.opened)} ({formatPercent(v.open_rate, l)})
      </td>
      <td data-label={t(l, `${P}.clicked`)}>
        {n(v.clicked)} ({formatPercent(v.click_rate, l)})
      </td>
    </tr>
  );
}

function Head(props: { first: string; l: Locale }) {
  const { l } = props;
  return (
    <thead>
      <tr>
        <th>{props.first}</th>
        <th>{t(l, `${P}.sent`)}</th>
        <th>{t(l, `${P}.delivered`)}</th>
        <th>{t(l, `${P}.failed`)}</th>
        <th>{t(l, `${P}.queued`)}</th>
        <th>{t(l, `${P}.bounced`)}</th>
        <th>{t(l, `${P}.bounce_rate`)}</th>
        <th>{t(l, `${P}.opened`)}</th>
        <th>{t(l, `${P}.clicked`)}</th>
      </tr>
    </thead>
  );
}

export function reportUi(app: Hono, deps: AppDeps): void {
  app.get("/", async function transactionalReport(c: Context) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const daysParam = Number(c.req.query("days"));
    const days = (PERIODS as readonly number[]).includes(daysParam) ? daysParam : 30;
    const streamParam = c.req.query("stream") ?? "";
    const stream = STREAM_NAME.test(streamParam) ? streamParam : undefined;
    const tagParam = (c.req.query("tag") ?? "").slice(0, 64);
    const tag = tagParam || undefined;
    const report = await streamReport(deps, tenant.id, {
      days,
      stream,
      tag,
      defaultTimeZone: c.get("timeZone"),
      locale: l,
    });
    // The choices come from what was sent: the unfiltered report's streams and tags.
    const all = stream || tag
      ? await streamReport(deps, tenant.id, { days, defaultTimeZone: c.get("timeZone"), locale: l })
      : report;
    return c.html(
      <Page c={c} deps={deps} title={t(l, `${P}.title`)}>
        <h1>{t(l, `${P}.title`)}</h1>
        <p class="muted">{t(l, `${P}.intro`)}</p>
        <form method="get" class="card row" data-testid="report-filter">
          <label>
            {t(l, `${P}.stream`)}
            <select name="stream">
              <option value="">—</option>
              {all.streams.map((s) => (
                <option value={s.stream} selected={s.stream === stream}>{s.stream}</option>
              ))}
            </select>
          </label>
          <label>
            {t(l, `${P}.tag`)}
            <select name="tag">
              <option value="">{t(l, `${P}.all_tags`)}</option>
              {all.tags.map((x) => <option value={x.tag} selected={x.tag === tag}>{x.tag}</option>)}
            </select>
          </label>
          <label>
            {t(l, `${P}.period`, { days })}
            <select name="days">
              {PERIODS.map((d) => (
                <option value={String(d)} selected={d === days}>
                  {t(l, `${P}.period`, { days: d })}
                </option>
              ))}
            </select>
          </label>
          <button type="submit">{t(l, `${P}.show`)}</button>
        </form>
        {report.total.messages === 0
          ? <p class="card muted" data-testid="report-empty">{t(l, `${P}.none`)}</p>
          : (
            <>
              <div class="card">
                <table class="responsive" data-testid="report-streams">
                  <Head first={t(l, `${P}.stream`)} l={l} />
                  <tbody>
                    {report.streams.map((s) => <Row label={s.stream} v={s} l={l} />)}
                  </tbody>
                </table>
              </div>
              {report.tags.length > 0 && (
                <div class="card">
                  <table class="responsive" data-testid="report-tags">
                    <Head first={t(l, `${P}.tag`)} l={l} />
                    <tbody>{report.tags.map((x) => <Row label={x.tag} v={x} l={l} />)}</tbody>
                  </table>
                </div>
              )}
              <div class="card">
                <table class="responsive" data-testid="report-days">
                  <Head first={t(l, `${P}.day`)} l={l} />
                  <tbody>
                    {report.days.map((d) => <Row label={formatDay(d.day, l)} v={d} l={l} />)}
                  </tbody>
                </table>
                <p class="muted">{t(l, `${P}.tracking_note`)}</p>
              </div>
            </>
          )}
      </Page>,
    );
  });
}
