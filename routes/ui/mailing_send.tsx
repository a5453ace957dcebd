// Before and after sending: the review page (recipient count after dedupe and exclusions, the
// merge-field report, test send, Send with confirmation), Send itself, and the status page of
// a mailing that is sending or sent with live progress (static/mailing_progress.js polls JSON).
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import {
  exclusionLabel,
  formatDateTime,
  formatNumber,
  type Locale,
  t,
} from "../../core/i18n/mod.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { getMailing, type Mailing } from "../../core/mailings/mailings.ts";
import { cancelMailing, mailingProgress, sendMailing } from "../../core/mailings/send.ts";
import { countRecipients, mergeFieldReport } from "../../core/mailings/recipients.ts";
import { AppError } from "../../core/errors.ts";
import { Csrf, Page } from "./layout.tsx";
import { errorText, field, readForm } from "./forms.ts";
import type { Flash, FlashStore } from "./flash.ts";
import { previewPages } from "./mailing_preview.tsx";
import { testSendParts } from "./mailing_test_send.tsx";
import { MailingPanels } from "./mailing_panels.tsx";

type Progress = Awaited<ReturnType<typeof mailingProgress>>;

/** Progress as numbers and ready-made text in the viewer's locale, for the page and for JSON. */
export function progressView(p: Progress, l: Locale) {
  const s = p.send;
  const total = s?.total ?? 0;
  const sent = s?.sent ?? 0;
  const done = p.status !== "sending";
  const eta = p.eta_seconds;
  return {
    status: p.status,
    status_text: t(l, `mailui.status.${p.status}`),
    total,
    sent,
    failed: s?.failed ?? 0,
    done,
    text: t(l, "mailui.progress", { sent, total }),
    rate: t(l, "mailui.rate", { n: p.rate_per_minute }),
    eta: done || eta === 0
      ? ""
      : eta === null
      ? t(l, "mailui.eta_unknown")
      : t(l, "mailui.eta", { min: Math.max(1, Math.ceil(eta / 60)) }),
    final: s && done
      ? t(l, "mailui.final", { sent, failed: s.failed, cancelled: s.cancelled })
      : "",
    percent: total ? Math.round(sent / total * 100) : 0,
  };
}

/** A mailing that is no longer a draft: what was sent, and live progress while sending. */
export async function statusPage(c: Context, deps: AppDeps, m: Mailing, flash: Flash | null) {
  const tenant = requireTenant(c);
  const l = c.get("locale");
  const tz = c.get("timeZone");
  const v = progressView(await mailingProgress(deps, tenant.id, m.id), l);
  const title = m.subject || t(l, "mailui.no_subject");
  return c.html(
    <Page c={c} deps={deps} title={title} flash={flash}>
      <p>
        <a href="/mailings">← {t(l, "mailui.title")}</a>
      </p>
      <div class="row">
        <h1>{title}</h1>
        <span class={`badge status-${m.status}`} data-testid="status">
          {t(l, `mailui.status.${m.status}`)}
        </span>
      </div>
      <div class="card stack">
        <p>
          {t(l, "mailui.from")}:{" "}
          {m.from_name ? `${m.from_name} <${m.from_address}>` : m.from_address}
        </p>
        {m.sent_at && <p>{t(l, "mailui.sent_at", { at: formatDateTime(m.sent_at, l, tz) })}</p>}
        {m.send_id && (
          <div
            class="progress"
            data-progress-url={`/mailings/${m.id}/progress.json`}
            data-done={String(v.done)}
          >
            <progress max={100} value={v.percent}></progress>
            <p>
              <strong data-testid="progress">{v.text}</strong> · <span class="rate">{v.rate}</span>
              {" "}
              <span class="eta">{v.eta}</span>
            </p>
            <p class="final" data-testid="final">{v.final}</p>
            {!v.done && (
              <noscript>
                <meta http-equiv="refresh" content="5" />
              </noscript>
            )}
          </div>
        )}
        <div class="row">
          <form method="post" action={`/mailings/${m.id}/copy`}>
            <Csrf c={c} />
            <button type="submit" class="secondary">{t(l, "mailui.copy")}</button>
          </form>
          {(m.status === "sending" || m.status === "scheduled") && (
            <form
              method="post"
              action={`/mailings/${m.id}/cancel`}
              data-confirm={t(l, "mailui.cancel_confirm")}
            >
              <Csrf c={c} />
              <button type="submit" class="danger">{t(l, "mailui.cancel")}</button>
            </form>
          )}
        </div>
      </div>
      <MailingPanels c={c} deps={deps} mailing={m} />
      <script src="/mailings/assets/mailing_progress.js" defer></script>
    </Page>,
  );
}

export function sendPages(app: Hono, deps: AppDeps, flash: FlashStore) {
  previewPages(app, deps);
  const { TestSendCard, routes: testSendRoutes } = testSendParts(deps, flash);
  testSendRoutes(app);

  app.get("/mailings/:id/review", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const m = await getMailing(deps, tenant.id, c.req.param("id"));
    if (m.status !== "draft") return c.redirect(`/mailings/${m.id}`, 303);
    let problem = "";
    const [count, report] = await Promise.all([
      countRecipients(deps, tenant.id, m.recipients, {
        subscriptionTypeId: m.subscription_type_id,
        mailingId: m.id,
      }),
      mergeFieldReport(deps, tenant.id, m),
    ]).catch((err) => {
      problem = errorText(c, err);
      return [null, null];
    });
    const excluded = Object.entries(count?.excluded ?? {}).filter(([, n]) => n);
    const warnings = (report?.fields ?? []).filter((f) => f.missing > 0 || f.unknown);
    const title = t(l, "mailui.review_title", { subject: m.subject || t(l, "mailui.no_subject") });
    return c.html(
      <Page c={c} deps={deps} title={title} flash={await flash.take(c)}>
        <p>
          <a href={`/mailings/${m.id}`}>← {t(l, "mailui.back_to_edit")}</a>
        </p>
        <h1>{title}</h1>
        {problem && <p class="field-error" role="alert">{problem}</p>}
        {count && (
          <section class="card stack" data-testid="count">
            <h2>{t(l, "mailui.recipients_n", { n: count.total })}</h2>
            <p class="muted">
              {t(l, "mailui.count_parts", { persons: count.persons, addresses: count.addresses })}
            </p>
            {excluded.length > 0 && (
              <div>
                <strong>{t(l, "mailui.excluded")}</strong>
                <ul data-testid="excluded">
                  {excluded.map(([reason, n]) => (
                    <li>{exclusionLabel(l, reason)}: {formatNumber(n!, l)}</li>
                  ))}
                </ul>
              </div>
            )}
          </section>
        )}
        {report && (
          <section class="card stack" data-testid="merge-report">
            <h2>{t(l, "mailui.merge_report")}</h2>
            {warnings.length === 0 ? <p>{t(l, "mailui.merge_all_ok")}</p> : (
              <ul>
                {warnings.map((f) => (
                  <li data-field={f.name}>
                    <code>{`{{${f.name}}}`}</code> {f.unknown ? t(l, "mailui.merge_unknown") : t(
                      l,
                      f.has_default ? "mailui.merge_missing_default" : "mailui.merge_missing",
                      {
                        n: f.missing,
                        total: report.recipients,
                      },
                    )}
                  </li>
                ))}
              </ul>
            )}
            {report.raw_addresses.without_person > 0 && (
              <p data-testid="raw-warning">
                {t(l, "mailui.raw_without_person", { n: report.raw_addresses.without_person })}
              </p>
            )}
          </section>
        )}
        <section class="card stack">
          <h2>{t(l, "mailui.preview")}</h2>
          <p>
            <a class="button secondary" href={`/mailings/${m.id}/preview`}>
              {t(l, "mailui.open_preview")}
            </a>
          </p>
        </section>
        <TestSendCard c={c} mailing={m} />
        <MailingPanels c={c} deps={deps} mailing={m} />
        <section class="card stack">
          <h2>{t(l, "mailui.send")}</h2>
          <form
            method="post"
            action={`/mailings/${m.id}/send`}
            class="stack"
            data-confirm={t(l, "mailui.send_confirm", { n: count?.total ?? 0 })}
          >
            <Csrf c={c} />
            <input type="hidden" name="version" value={String(m.version)} />
            <label class="check">
              <input type="checkbox" name="confirm" value="yes" required />{" "}
              {t(l, "mailui.send_confirm", { n: count?.total ?? 0 })}
            </label>
            <button type="submit" disabled={!count || count.total === 0}>
              {t(l, "mailui.send_now")}
            </button>
          </form>
        </section>
        <script src="/mailings/assets/mailing_progress.js" defer></script>
      </Page>,
    );
  });

  app.post("/mailings/:id/send", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const id = c.req.param("id");
    await getMailing(deps, tenant.id, id);
    const form = await readForm(c);
    if (field(form, "confirm") !== "yes") {
      await flash.set(c, { kind: "error", text: t(l, "mailui.confirm_needed") });
      return c.redirect(`/mailings/${id}/review`, 303);
    }
    try {
      await sendMailing(deps, tenant.id, id, actorOf(c), {
        version: Number(field(form, "version")),
      });
    } catch (err) {
      await flash.set(c, { kind: "error", text: errorText(c, err) });
      return c.redirect(`/mailings/${id}/review`, 303);
    }
    await flash.set(c, { kind: "ok", text: t(l, "mailui.sending_started") });
    return c.redirect(`/mailings/${id}`, 303);
  });

  app.post("/mailings/:id/cancel", async (c) => {
    const tenant = requireTenant(c);
    const id = c.req.param("id");
    try {
      await cancelMailing(deps, tenant.id, id, actorOf(c));
      await flash.set(c, { kind: "ok", text: t(c.get("locale"), "mailui.cancelled") });
    } catch (err) {
      // Unknown or another tenant's mailing: a 404 like every other action, not a flash.
      if (err instanceof AppError && err.code === "not_found") throw err;
      await flash.set(c, { kind: "error", text: errorText(c, err) });
    }
    return c.redirect(`/mailings/${id}`, 303);
  });

  app.get("/mailings/:id/progress.json", async (c) => {
    const tenant = requireTenant(c);
    const p = await mailingProgress(deps, tenant.id, c.req.param("id"));
    return c.json(progressView(p, c.get("locale")), 200, { "cache-control": "no-store" });
  });
}
