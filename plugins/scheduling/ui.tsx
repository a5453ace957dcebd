// Staff UI of the scheduling plugin: the panel on a mailing's page (pick a date and time in
// the tenant's zone, see it in your own, reschedule, unschedule) and /p/scheduling, the list
// of scheduled mailings.
import type { Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import type { MailingPanelContext } from "../../core/plugin.ts";
import { formatDateTime, t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { AppError } from "../../core/errors.ts";
import { Page } from "../../routes/ui/layout.tsx";
import { errorText, field, readForm } from "../../routes/ui/forms.ts";
import { flashStore } from "../../routes/ui/flash.ts";
import { isUuid } from "../../core/db/ids.ts";
import { instantToLocal, offsetLabel } from "../../core/time_zone.ts";
import { getSchedule, listUpcoming, scheduleMailing, unscheduleMailing } from "./schedules.ts";
import { localized } from "./issues.ts";
import { reasonText } from "./reasons.ts";

const P = "scheduling";
const BASE = `/p/${P}`;

/** The card on a mailing's page: a form for drafts, the time and its changes when scheduled. */
export async function schedulingPanel(ctx: MailingPanelContext) {
  const { deps, tenant, mailing: m, locale: l, timeZone: tz, csrf } = ctx;
  if (!["draft", "scheduled", "sending", "sent"].includes(m.status)) return null;
  const s = await getSchedule(deps, tenant.id, m.id);
  const csrfField = <input type="hidden" name={csrf.field} value={csrf.token} />;
  const live = s && (s.status === "scheduled" || s.status === "starting") &&
    m.status === "scheduled";
  if (m.status === "sending" || m.status === "sent") {
    if (s?.status !== "started" || !s.started_at) return null;
    return (
      <section class="card" data-testid="scheduling-panel">
        <p>{t(l, `${P}.started_at`, { at: formatDateTime(s.started_at, l, tz) })}</p>
      </section>
    );
  }
  const now = instantToLocal(deps.clock(), tenant.time_zone);
  const form = (label: string) => (
    <form method="post" action={`${BASE}/mailings/${m.id}`} class="row">
      {csrfField}
      <label>
        {t(l, `${P}.when`, { tz: tenant.time_zone })}{" "}
        <input
          type="datetime-local"
          name="local"
          required
          min={now}
          value={live ? instantToLocal(new Date(s.due_at), s.time_zone) : ""}
          data-testid="schedule-local"
        />
      </label>
      <button type="submit">{label}</button>
    </form>
  );
  return (
    <section class="card stack" data-testid="scheduling-panel">
      <h2>{t(l, `${P}.panel_title`)}</h2>
      {live
        ? (
          <>
            <p data-testid="scheduled-for">
              <strong>
                {t(l, `${P}.scheduled_for`, { at: formatDateTime(s.due_at, l, tz), tz })}
              </strong>
              {tz !== s.time_zone && (
                <>
                  {" "}
                  {t(l, `${P}.scheduled_local`, {
                    // From the instant, with the offset: a fall-back night has two 02:30s.
                    local: `${
                      instantToLocal(new Date(s.due_at), s.time_zone).replace("T", " ")
                    } UTC${offsetLabel(new Date(s.due_at), s.time_zone)}`,
                    tz: s.time_zone,
                  })}
                </>
              )}
            </p>
            {s.status === "starting" ? <p>{t(l, `${P}.starting`)}</p> : (
              <>
                {form(t(l, `${P}.reschedule`))}
                <form
                  method="post"
                  action={`${BASE}/mailings/${m.id}/unschedule`}
                  data-confirm={t(l, `${P}.unschedule_confirm`)}
                >
                  {csrfField}
                  <button type="submit" class="secondary">{t(l, `${P}.unschedule`)}</button>
                </form>
              </>
            )}
          </>
        )
        : (
          <>
            <p class="muted">{t(l, `${P}.panel_intro`, { tz: tenant.time_zone })}</p>
            {s?.status === "failed" && (
              <p class="field-error" role="alert">
                {t(l, `${P}.failed`, {
                  at: formatDateTime(s.due_at, l, tz),
                  error: reasonText(l, s.error ?? "start_failed", s.error_params),
                })}
              </p>
            )}
            {form(t(l, `${P}.schedule`))}
          </>
        )}
    </section>
  );
}

export function schedulingUi(app: Hono, deps: AppDeps): void {
  const flashes = flashStore(deps.secret, deps.config.cookieSecure);

  app.get("/", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const rows = await listUpcoming(deps, tenant.id);
    return c.html(
      <Page c={c} deps={deps} title={t(l, `${P}.title`)} flash={await (await flashes).take(c)}>
        <h1>{t(l, `${P}.title`)}</h1>
        <p class="muted">{t(l, `${P}.intro`, { tz })}</p>
        <div class="card">
          {rows.length === 0
            ? <p class="muted">{t(l, `${P}.none`)}</p>
            : (
              <table class="responsive" data-testid="scheduled">
                <thead>
                  <tr>
                    <th>{t(l, `${P}.col_subject`)}</th>
                    <th>{t(l, `${P}.col_due`)}</th>
                    <th>{t(l, `${P}.col_status`)}</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r) => (
                    <tr>
                      <td data-label={t(l, `${P}.col_subject`)}>
                        <a href={`/mailings/${r.mailing_id}`}>
                          {r.subject || t(l, "mailui.no_subject")}
                        </a>
                      </td>
                      <td data-label={t(l, `${P}.col_due`)}>
                        <time datetime={new Date(r.due_at).toISOString()}>
                          {formatDateTime(r.due_at, l, tz)}
                        </time>
                      </td>
                      <td data-label={t(l, `${P}.col_status`)}>
                        {t(l, `${P}.status.${r.status}`)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
        </div>
      </Page>,
    );
  });

  app.post("/mailings/:id", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const id = c.req.param("id");
    if (!isUuid(id)) throw new AppError("not_found");
    const form = await readForm(c);
    const flash = await flashes;
    try {
      const before = await getSchedule(deps, tenant.id, id);
      const s = await scheduleMailing(
        deps,
        tenant,
        id,
        { local: field(form, "local") },
        actorOf(c),
      );
      const at = formatDateTime(s.due_at, l, c.get("timeZone"));
      const moved = before?.id === s.id;
      await flash.set(c, {
        kind: "ok",
        text: t(l, moved ? `${P}.rescheduled_ok` : `${P}.scheduled_ok`, { at }),
      });
      return c.redirect(`/mailings/${id}`, 303);
    } catch (e) {
      if (e instanceof AppError && e.code === "not_found") throw e; // a 404 page, as in the core
      await flash.set(c, { kind: "error", text: errorText(c, localized(e, l)) });
      // A draft's panel is on its review page; a scheduled mailing's on its own page.
      const m = await deps.db.selectFrom("mailings").select("status")
        .where("tenant_id", "=", tenant.id).where("id", "=", id).executeTakeFirst();
      if (!m) throw e;
      return c.redirect(m.status === "draft" ? `/mailings/${id}/review` : `/mailings/${id}`, 303);
    }
  });

  app.post("/mailings/:id/unschedule", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const id = c.req.param("id");
    if (!isUuid(id)) throw new AppError("not_found");
    const flash = await flashes;
    try {
      await unscheduleMailing(deps, tenant.id, id, actorOf(c));
      await flash.set(c, { kind: "ok", text: t(l, `${P}.unscheduled_ok`) });
    } catch (e) {
      if (e instanceof AppError && e.code === "not_found") throw e; // a 404 page, as in the core
      await flash.set(c, { kind: "error", text: errorText(c, localized(e, l)) });
    }
    return c.redirect(`/mailings/${id}`, 303);
  });
}
