// The person page's unsubscribe card (history and the staff re-subscribe form) and the stamps of
// automatic mailing notes in the timeline. Included by people.tsx.
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { formatDateTime, type Locale, t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { AppError } from "../../core/errors.ts";
import { listUnsubscribes, resubscribe } from "../../core/feedback/unsubscribe.ts";
import { NOTE_EVENTS, parseDetail } from "../../core/feedback/notes.ts";
import { isUuid } from "../../core/db/ids.ts";
import { Csrf } from "./layout.tsx";
import { errorText, field, readForm } from "./forms.ts";
import type { FlashStore } from "./flash.ts";

/** POST /people/:id/resubscribe — any staff user of the tenant, with a note. */
export function personSubscriptionPages(app: Hono, deps: AppDeps, flash: FlashStore) {
  app.post("/people/:id/resubscribe", async function resubscribePerson(c) {
    const tenant = requireTenant(c);
    const id = c.req.param("id");
    const form = await readForm(c);
    const type = field(form, "subscription_type_id");
    const l = c.get("locale");
    try {
      const r = await resubscribe(deps, {
        tenantId: tenant.id,
        personId: id,
        scope: isUuid(type) ? { kind: "type", subscriptionTypeId: type } : { kind: "all" },
        actor: actorOf(c),
        note: field(form, "note"),
      });
      await flash.set(c, {
        kind: r.resubscribed ? "ok" : "error",
        text: t(l, r.resubscribed ? "subscriptions.resubscribed" : "subscriptions.nothing"),
      });
    } catch (err) {
      if (err instanceof AppError && err.code === "not_found") throw err;
      await flash.set(c, { kind: "error", text: errorText(c, err) });
    }
    return c.redirect(`/people/${id}`, 303);
  });
}

/** The card: every unsubscribe of the person, and the re-subscribe form when one is active. */
export async function subscriptionsCard(c: Context, deps: AppDeps, personId: string) {
  const tenant = requireTenant(c);
  const l = c.get("locale");
  const tz = c.get("timeZone");
  const rows = await listUnsubscribes(deps, tenant.id, personId);
  const active = rows.filter((r) => !r.resubscribed_at);
  const types = new Map<string, string>();
  for (const r of active) {
    if (r.subscription_type_id) {
      types.set(r.subscription_type_id, r.subscription_type_name ?? r.subscription_type_id);
    }
  }
  const scopeName = (r: (typeof rows)[number]) =>
    r.subscription_type_id
      ? (r.subscription_type_name ?? r.subscription_type_id)
      : t(l, "subscriptions.scope_all");
  return (
    <div class="card" data-testid="unsubscribes">
      <h2>{t(l, "subscriptions.title")}</h2>
      {rows.length === 0
        ? <p class="muted">{t(l, "subscriptions.none")}</p>
        : (
          <table class="responsive">
            <thead>
              <tr>
                <th>{t(l, "subscriptions.scope")}</th>
                <th>{t(l, "subscriptions.how")}</th>
                <th>{t(l, "subscriptions.when")}</th>
                <th>{t(l, "subscriptions.status")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr>
                  <td>{scopeName(r)}</td>
                  <td>{t(l, `subscriptions.source.${r.source}`)}</td>
                  <td>{formatDateTime(r.created_at, l, tz)}</td>
                  <td>
                    {r.resubscribed_at
                      ? t(l, "subscriptions.lifted", {
                        when: formatDateTime(r.resubscribed_at, l, tz),
                        who: r.resubscribed_by ?? "",
                        note: r.note ?? "",
                      })
                      : <span class="badge revoked">{t(l, "subscriptions.active")}</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      {active.length > 0 && (
        <form method="post" action={`/people/${personId}/resubscribe`} class="stack">
          <Csrf c={c} />
          <p class="muted">{t(l, "subscriptions.resubscribe_help")}</p>
          <label>
            {t(l, "subscriptions.scope")}
            <select name="subscription_type_id">
              <option value="">{t(l, "subscriptions.scope_all")}</option>
              {[...types].map(([id, name]) => <option value={id}>{name}</option>)}
            </select>
          </label>
          <label>
            {t(l, "subscriptions.note")}
            <textarea name="note" rows={2} required maxlength={2000}></textarea>
          </label>
          <div>
            <button type="submit" class="secondary">{t(l, "subscriptions.resubscribe")}</button>
          </div>
        </form>
      )}
    </div>
  );
}

type NoteStamps = { [K in `${(typeof NOTE_EVENTS)[number]}_at`]?: Date | null } & {
  details?: string[];
};

/** Under an automatic mailing note: what happened when, and the details (links, reasons). */
export function MailingNoteStamps({ n, l, tz }: { n: NoteStamps; l: Locale; tz: string }) {
  const stamps = NOTE_EVENTS.flatMap((e) => {
    const at = n[`${e}_at`];
    return at ? [`${t(l, `notes.${e}`)} ${formatDateTime(at, l, tz)}`] : [];
  });
  if (!stamps.length && !n.details?.length) return null;
  return (
    <p class="muted" data-testid="note-stamps">
      {stamps.join(" · ")}
      {(n.details ?? []).map((d) => {
        const { event, text } = parseDetail(d);
        return (
          <>
            <br />
            {event ? t(l, "notes.detail", { event: t(l, `notes.${event}`), text }) : text}
          </>
        );
      })}
    </p>
  );
}
