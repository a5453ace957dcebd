// Staff UI: the tenant's undeliverable addresses, persons' and those not in the CRM, with the CSV
// download; admins unblock an address not in the CRM here (a person's on the person's page).
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { formatDateTime, t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenant, requireTenantAdmin } from "../../core/http/context.ts";
import { PageQuery } from "../../core/http/pagination.ts";
import { AppError } from "../../core/errors.ts";
import { CLEAR_NOTE_MAX } from "../../core/people/persons.ts";
import { clearListed, listUndeliverable } from "../../core/feedback/undeliverable.ts";
import { Csrf, Page } from "./layout.tsx";
import { errorText, field, readForm } from "./forms.ts";
import type { Flash, FlashStore } from "./flash.ts";

export function undeliverablePages(app: Hono, deps: AppDeps, flash: FlashStore) {
  async function index(c: Context, notice: Flash | null, status = 200) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const auth = c.get("auth");
    const isAdmin = auth?.kind === "user" && auth.user.role === "admin";
    const page = await listUndeliverable(deps, tenant.id, PageQuery.parse(c.req.query()));
    return c.html(
      <Page c={c} deps={deps} title={t(l, "undeliverable.title")} flash={notice}>
        <div class="row">
          <h1>{t(l, "undeliverable.title")}</h1>
          <a class="button secondary" href="/people/undeliverable.csv" download>
            {t(l, "people.undeliverable_csv")}
          </a>
        </div>
        <div class="card">
          {page.items.length === 0
            ? <p class="muted">{t(l, "undeliverable.none")}</p>
            : (
              <table class="responsive" data-testid="undeliverable">
                <thead>
                  <tr>
                    <th>{t(l, "undeliverable.address")}</th>
                    <th>{t(l, "undeliverable.reason")}</th>
                    <th>{t(l, "undeliverable.since")}</th>
                    <th>{t(l, "common.actions")}</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((a) => (
                    <tr>
                      <td data-label={t(l, "undeliverable.address")}>
                        {a.person_id ? <a href={`/people/${a.person_id}`}>{a.address}</a> : (
                          <>
                            {a.address}{" "}
                            <span class="badge">{t(l, "undeliverable.not_in_crm")}</span>
                          </>
                        )}
                      </td>
                      <td data-label={t(l, "undeliverable.reason")}>{a.reason ?? ""}</td>
                      <td data-label={t(l, "undeliverable.since")}>
                        {formatDateTime(a.since, l, tz)}
                      </td>
                      <td>
                        {!a.person_id && isAdmin && (
                          <form
                            method="post"
                            action={`/people/undeliverable/${a.id}/clear`}
                            data-testid="unblock"
                          >
                            <Csrf c={c} />
                            <input
                              type="text"
                              name="note"
                              maxlength={CLEAR_NOTE_MAX}
                              aria-label={t(l, "undeliverable.unblock_note")}
                              placeholder={t(l, "undeliverable.unblock_note")}
                            />
                            <button type="submit" class="link">{t(l, "people.unblock")}</button>
                          </form>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          {page.next_cursor && (
            <p>
              <a href={`?cursor=${page.next_cursor}`} rel="next">{t(l, "common.next")}</a>
            </p>
          )}
        </div>
      </Page>,
      status as 200,
    );
  }

  app.get("/people/undeliverable", async (c) => await index(c, await flash.take(c)));

  app.post("/people/undeliverable/:id/clear", async (c) => {
    const tenant = requireTenantAdmin(c);
    const form = await readForm(c);
    try {
      await clearListed(deps, tenant.id, c.req.param("id"), actorOf(c), {
        note: field(form, "note"),
      });
    } catch (err) {
      if (err instanceof AppError && ["not_found", "forbidden"].includes(err.code)) throw err;
      return await index(c, { kind: "error", text: errorText(c, err) }, 400);
    }
    await flash.set(c, { kind: "ok", text: t(c.get("locale"), "people.unblocked") });
    return c.redirect("/people/undeliverable", 303);
  });
}
