// Staff UI of the categories plugin: /p/categories (manage categories — admins —, the mailings
// of a category, statistics per category for a period) and the panel on a mailing's page
// where staff tick its categories.
import { addDays, localDate } from "../../core/time_zone.ts";
import type { Context, Hono } from "hono";
import { z } from "zod";
import type { AppDeps } from "../../core/deps.ts";
import type { MailingPanelContext } from "../../core/plugin.ts";
import { formatDateTime, formatNumber, t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenant, requireTenantAdmin } from "../../core/http/context.ts";
import { PageQuery } from "../../core/http/pagination.ts";
import { AppError } from "../../core/errors.ts";
import { Csrf, Page } from "../../routes/ui/layout.tsx";
import { errorText, field, fields, readForm } from "../../routes/ui/forms.ts";
import { flashStore } from "../../routes/ui/flash.ts";
import {
  assignCategories,
  type Category,
  categoryStats,
  createCategory,
  deleteCategory,
  listCategories,
  mailingCategories,
  mailingsInCategory,
  updateCategory,
} from "./categories.ts";
import { localized } from "./issues.ts";

const P = "categories";
const BASE = `/p/${P}`;

function Swatch({ colour }: { colour: string | null }) {
  // The colour was checked to be #rrggbb on the way in, so it is safe in a style attribute.
  return colour
    ? (
      <span
        class="swatch"
        aria-hidden="true"
        style={`display:inline-block;width:.9em;height:.9em;border-radius:50%;background:${colour};vertical-align:middle`}
      >
      </span>
    )
    : null;
}

/** The card on a mailing's page: tick the mailing's categories (any status). */
export async function categoriesPanel(ctx: MailingPanelContext) {
  const { deps, tenant, mailing: m, locale: l, csrf } = ctx;
  const [all, mine] = await Promise.all([
    listCategories(deps, tenant.id),
    mailingCategories(deps, tenant.id, m.id),
  ]);
  const chosen = new Set(mine.map((c) => c.id));
  return (
    <section class="card stack" data-testid="categories-panel">
      <h2>{t(l, `${P}.panel_title`)}</h2>
      {all.length === 0
        ? <p class="muted">{t(l, `${P}.panel_none`)}</p>
        : (
          <form method="post" action={`${BASE}/mailings/${m.id}`} class="stack">
            <input type="hidden" name={csrf.field} value={csrf.token} />
            <input type="hidden" name="back" value={m.status === "draft" ? "review" : "page"} />
            <div class="row">
              {all.map((c) => (
                <label class="check">
                  <input
                    type="checkbox"
                    name="category_id"
                    value={c.id}
                    checked={chosen.has(c.id)}
                  />{" "}
                  <Swatch colour={c.colour} /> {c.name}
                </label>
              ))}
            </div>
            <div>
              <button type="submit" class="secondary">{t(l, `${P}.panel_save`)}</button>
            </div>
          </form>
        )}
    </section>
  );
}

const PeriodQuery = z.object({ from: z.iso.date(), to: z.iso.date() });

export function categoriesUi(app: Hono, deps: AppDeps): void {
  const flashes = flashStore(deps.secret, deps.config.cookieSecure);

  app.get("/", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const auth = c.get("auth");
    const admin = auth?.kind === "user" && auth.user.role === "admin";
    const all = await listCategories(deps, tenant.id);
    const now = deps.clock();
    const q = PeriodQuery.safeParse(c.req.query());
    const today = localDate(now, tz);
    const period = q.success && q.data.from <= q.data.to
      ? q.data
      : { from: addDays(today, -30), to: today };
    const stats = await categoryStats(deps, tenant.id, period, tz);
    const selected = all.find((x) => x.id === c.req.query("category"));
    const page = selected
      ? await mailingsInCategory(deps, tenant.id, selected.id, PageQuery.parse(c.req.query()))
      : null;
    const keep = (extra: Record<string, string>) =>
      `${BASE}?` + new URLSearchParams({ ...period, ...extra });
    return c.html(
      <Page c={c} deps={deps} title={t(l, `${P}.title`)} flash={await (await flashes).take(c)}>
        <h1>{t(l, `${P}.title`)}</h1>
        <p class="muted">{t(l, `${P}.intro`)}</p>
        <div class="card">
          {all.length === 0
            ? <p class="muted">{t(l, admin ? `${P}.none_admin` : `${P}.none`)}</p>
            : (
              <table class="responsive" data-testid="categories">
                <thead>
                  <tr>
                    <th>{t(l, `${P}.col_name`)}</th>
                    <th>{t(l, `${P}.col_mailings`)}</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  {all.map((x) => (
                    <tr data-category={x.name}>
                      <td data-label={t(l, `${P}.col_name`)}>
                        <Swatch colour={x.colour} /> {x.name}
                      </td>
                      <td data-label={t(l, `${P}.col_mailings`)}>{formatNumber(x.mailings, l)}</td>
                      <td>
                        <a href={keep({ category: x.id })}>{t(l, `${P}.show_mailings`)}</a>
                        {admin && <AdminRow c={c} x={x} />}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          {admin && (
            <form method="post" action={`${BASE}/new`} class="row" data-testid="new-category">
              <Csrf c={c} />
              <label>
                {t(l, `${P}.name`)} <input name="name" required maxlength={100} />
              </label>
              <label>
                {t(l, `${P}.colour`)}{" "}
                <input type="color" name="colour" value="#1f6feb" style="width:3rem" />
              </label>
              <label class="check">
                <input type="checkbox" name="no_colour" value="yes" /> {t(l, `${P}.no_colour`)}
              </label>
              <button type="submit">{t(l, `${P}.create`)}</button>
            </form>
          )}
        </div>
        {selected && page && (
          <section class="card" data-testid="category-mailings">
            <h2>{t(l, `${P}.mailings_in`, { name: selected.name })}</h2>
            {page.items.length === 0 ? <p class="muted">{t(l, `${P}.no_mailings`)}</p> : (
              <ul>
                {page.items.map((m) => (
                  <li>
                    <a href={`/mailings/${m.id}`}>{m.subject || t(l, "mailui.no_subject")}</a>{" "}
                    <span class={`badge status-${m.status}`}>
                      {t(l, `mailui.status.${m.status}`)}
                    </span>{" "}
                    <span class="muted">{formatDateTime(m.sent_at ?? m.updated_at, l, tz)}</span>
                  </li>
                ))}
              </ul>
            )}
            {page.next_cursor && (
              <p>
                <a href={keep({ category: selected.id, cursor: page.next_cursor })} rel="next">
                  {t(l, "common.next")}
                </a>
              </p>
            )}
          </section>
        )}
        <section class="card stack">
          <h2>{t(l, `${P}.stats_title`)}</h2>
          <form method="get" action={BASE} class="row">
            {selected && <input type="hidden" name="category" value={selected.id} />}
            <label>
              {t(l, `${P}.from`)} <input type="date" name="from" value={period.from} />
            </label>
            <label>
              {t(l, `${P}.to`)} <input type="date" name="to" value={period.to} />
            </label>
            <button type="submit" class="secondary">{t(l, `${P}.show`)}</button>
          </form>
          <p class="muted">{t(l, `${P}.stats_period`, { ...period, tz })}</p>
          <table class="responsive" data-testid="category-stats">
            <thead>
              <tr>
                <th>{t(l, `${P}.col_name`)}</th>
                <th>{t(l, `${P}.col_sends`)}</th>
                <th>{t(l, `${P}.col_recipients`)}</th>
                <th>{t(l, `${P}.col_sent`)}</th>
                <th>{t(l, `${P}.col_delivered`)}</th>
                <th>{t(l, `${P}.col_bounced`)}</th>
                <th>{t(l, `${P}.col_opened`)}</th>
                <th>{t(l, `${P}.col_clicked`)}</th>
                <th>{t(l, `${P}.col_complaints`)}</th>
              </tr>
            </thead>
            <tbody>
              {stats.rows.map(({ category: x, stats: s }) => {
                const n = (v: number) => formatNumber(v, l);
                const bounced = s.bouncedHard + s.bouncedSoft;
                return (
                  <tr data-category={x.name}>
                    <td data-label={t(l, `${P}.col_name`)}>
                      <Swatch colour={x.colour} /> {x.name}
                    </td>
                    <td data-label={t(l, `${P}.col_sends`)} data-k="sends">{n(s.sends)}</td>
                    <td data-label={t(l, `${P}.col_recipients`)} data-k="recipients">
                      {n(s.recipients)}
                    </td>
                    <td data-label={t(l, `${P}.col_sent`)} data-k="sent">{n(s.sent)}</td>
                    <td data-label={t(l, `${P}.col_delivered`)} data-k="delivered">
                      {n(Math.max(0, s.sent - bounced))}
                    </td>
                    <td data-label={t(l, `${P}.col_bounced`)} data-k="bounced">{n(bounced)}</td>
                    <td data-label={t(l, `${P}.col_opened`)} data-k="opened">{n(s.uniqueOpens)}</td>
                    <td data-label={t(l, `${P}.col_clicked`)} data-k="clicked">
                      {n(s.uniqueClicks)}
                    </td>
                    <td data-label={t(l, `${P}.col_complaints`)} data-k="complaints">
                      {n(s.complaints)}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </section>
      </Page>,
    );
  });

  function AdminRow({ c, x }: { c: Context; x: Category }) {
    const l = c.get("locale");
    return (
      <details>
        <summary>{t(l, `${P}.edit`)}</summary>
        <form method="post" action={`${BASE}/${x.id}`} class="row">
          <Csrf c={c} />
          <input
            name="name"
            required
            maxlength={100}
            value={x.name}
            aria-label={t(l, `${P}.name`)}
          />
          <input
            type="color"
            name="colour"
            value={x.colour ?? "#1f6feb"}
            aria-label={t(l, `${P}.colour`)}
            style="width:3rem"
          />
          <label class="check">
            <input type="checkbox" name="no_colour" value="yes" checked={!x.colour} />{" "}
            {t(l, `${P}.no_colour`)}
          </label>
          <button type="submit" class="secondary">{t(l, `${P}.save`)}</button>
        </form>
        <form
          method="post"
          action={`${BASE}/${x.id}/delete`}
          data-confirm={t(l, `${P}.delete_confirm`)}
        >
          <Csrf c={c} />
          <button type="submit" class="danger">{t(l, `${P}.delete`)}</button>
        </form>
      </details>
    );
  }

  const colourOf = (form: Record<string, string | string[]>) =>
    field(form, "no_colour") === "yes" ? null : field(form, "colour") || null;

  app.post("/new", async (c) => {
    const tenant = requireTenantAdmin(c);
    const form = await readForm(c);
    const flash = await flashes;
    try {
      const x = await createCategory(deps, tenant.id, {
        name: field(form, "name"),
        colour: colourOf(form),
      }, actorOf(c));
      await flash.set(c, {
        kind: "ok",
        text: t(c.get("locale"), `${P}.created`, { name: x.name }),
      });
    } catch (e) {
      await flash.set(c, { kind: "error", text: errorText(c, localized(e, c.get("locale"))) });
    }
    return c.redirect(BASE, 303);
  });

  app.post("/mailings/:id", async (c) => {
    const tenant = requireTenant(c);
    const id = c.req.param("id");
    const form = await readForm(c);
    const flash = await flashes;
    try {
      await assignCategories(
        deps,
        tenant.id,
        id,
        { category_ids: fields(form, "category_id") },
        actorOf(c),
      );
      await flash.set(c, { kind: "ok", text: t(c.get("locale"), `${P}.panel_saved`) });
    } catch (e) {
      if (e instanceof AppError && e.code === "not_found") throw e; // a 404 page, as in the core
      await flash.set(c, { kind: "error", text: errorText(c, localized(e, c.get("locale"))) });
    }
    // Back to the page the panel was on; only these two, so no redirect goes elsewhere.
    return c.redirect(
      field(form, "back") === "review" ? `/mailings/${id}/review` : `/mailings/${id}`,
      303,
    );
  });

  app.post("/:id", async (c) => {
    const tenant = requireTenantAdmin(c);
    const form = await readForm(c);
    const flash = await flashes;
    try {
      await updateCategory(deps, tenant.id, c.req.param("id"), {
        name: field(form, "name"),
        colour: colourOf(form),
      }, actorOf(c));
      await flash.set(c, { kind: "ok", text: t(c.get("locale"), `${P}.updated`) });
    } catch (e) {
      await flash.set(c, { kind: "error", text: errorText(c, localized(e, c.get("locale"))) });
    }
    return c.redirect(BASE, 303);
  });

  app.post("/:id/delete", async (c) => {
    const tenant = requireTenantAdmin(c);
    const flash = await flashes;
    const all = await listCategories(deps, tenant.id);
    const x = all.find((y) => y.id === c.req.param("id"));
    await deleteCategory(deps, tenant.id, c.req.param("id"), actorOf(c));
    await flash.set(c, {
      kind: "ok",
      text: t(c.get("locale"), `${P}.deleted`, { name: x?.name ?? "" }),
    });
    return c.redirect(BASE, 303);
  });
}
