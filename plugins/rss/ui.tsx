// Pages under /p/rss: the tenant's feeds with their last fetch, add, fetch now, remove, and the
// block to paste into a mailing; plus the RSS card on a mailing's page (Plugin.ui.mailingPanel).
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { formatDateTime, formatNumber, type Locale, t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import type { MailingPanelContext } from "../../core/plugin.ts";
import { Csrf, Page } from "../../routes/ui/layout.tsx";
import { errorText, field, readForm } from "../../routes/ui/forms.ts";
import { type Flash, flashStore } from "../../routes/ui/flash.ts";
import { createFeed, deleteFeed, type Feed, getFeed, listFeeds } from "./store.ts";
import { fetchErrorMessage, refreshFeedNow } from "./refresh.ts";

const P = "rss";
const BASE = `/p/${P}`;

/** The block a mailing pastes in: the newest five items with link, date and summary. */
export function snippetFor(slug: string): string {
  return `{{#each rss.${slug}.items_5}}\n<p><a href="{{link}}"><strong>{{title}}</strong></a>` +
    `<br>{{date}}<br>{{summary}}</p>\n{{/each}}`;
}

function statusText(l: Locale, f: Feed, tz: string): string {
  if (!f.last_status || !f.last_fetch_at) return t(l, `${P}.never`);
  const when = formatDateTime(new Date(f.last_fetch_at), l, tz);
  const what = t(l, `${P}.status_${f.last_status}`);
  return f.last_status === "error"
    ? `${what} (${when}): ${errorMessage(l, f.last_error ?? "")}`
    : `${what} (${when})`;
}

/** A stored fetch error code in the user's language; never the internal detail. */
function errorMessage(l: Locale, code: string): string {
  const { key, status } = fetchErrorMessage(code);
  return t(l, `${P}.${key}`, status ? { status } : undefined);
}

export function rssUi(app: Hono, deps: AppDeps): void {
  const flashes = flashStore(deps.secret, deps.config.cookieSecure);

  async function index(
    c: Context,
    extra: { notice?: Flash | null; url?: string; slug?: string; status?: number } = {},
  ) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const feeds = await listFeeds(deps, tenant.id);
    const minutes = Math.round(deps.config.rssPollMs / 60_000);
    return c.html(
      <Page c={c} deps={deps} title={t(l, `${P}.title`)} flash={extra.notice}>
        <h1>{t(l, `${P}.title`)}</h1>
        <p class="muted">{t(l, `${P}.intro`, { minutes })}</p>
        <div class="card">
          {feeds.length === 0
            ? <p class="muted">{t(l, `${P}.none`)}</p>
            : (
              <table class="responsive" data-testid="rss-feeds">
                <thead>
                  <tr>
                    <th>{t(l, `${P}.feed`)}</th>
                    <th>{t(l, `${P}.status`)}</th>
                    <th>{t(l, `${P}.items`)}</th>
                    <th>{t(l, "common.actions")}</th>
                  </tr>
                </thead>
                <tbody>
                  {feeds.map((f) => (
                    <tr data-slug={f.slug}>
                      <td data-label={t(l, `${P}.feed`)}>
                        <strong>{f.title || f.slug}</strong> <code>{f.slug}</code>
                        <br />
                        <small class="muted">{f.url}</small>
                        <details>
                          <summary>{t(l, `${P}.snippet`)}</summary>
                          <pre><code data-testid="rss-snippet">{snippetFor(f.slug)}</code></pre>
                          <p class="muted">{t(l, `${P}.snippet_help`)}</p>
                        </details>
                      </td>
                      <td data-label={t(l, `${P}.status`)} data-testid="rss-status">
                        {statusText(l, f, tz)}
                      </td>
                      <td data-label={t(l, `${P}.items`)}>{formatNumber(f.item_count, l)}</td>
                      <td>
                        <form method="post" action={`${BASE}/${f.id}/fetch`}>
                          <Csrf c={c} />
                          <button type="submit">{t(l, `${P}.fetch_now`)}</button>
                        </form>
                        <form method="post" action={`${BASE}/${f.id}/delete`}>
                          <Csrf c={c} />
                          <button type="submit" class="danger">{t(l, `${P}.remove`)}</button>
                        </form>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
        </div>
        <div class="card">
          <h2>{t(l, `${P}.add`)}</h2>
          <form method="post" action={`${BASE}/new`} class="stack">
            <Csrf c={c} />
            <label>
              {t(l, `${P}.url`)}
              <input name="url" type="url" required maxlength={2000} value={extra.url ?? ""} />
            </label>
            <label>
              {t(l, `${P}.slug`)}
              <input
                name="slug"
                maxlength={40}
                pattern="[a-z][a-z0-9_]*"
                value={extra.slug ?? ""}
              />
              <small class="muted">{t(l, `${P}.slug_hint`)}</small>
            </label>
            <div>
              <button type="submit">{t(l, `${P}.add`)}</button>
            </div>
          </form>
        </div>
      </Page>,
      (extra.status ?? 200) as 200,
    );
  }

  app.get("/", async (c) => index(c, { notice: await (await flashes).take(c) }));

  app.post("/new", async (c) => {
    const tenant = requireTenant(c);
    const form = await readForm(c);
    const url = field(form, "url");
    const slug = field(form, "slug").trim();
    try {
      const feed = await createFeed(
        deps,
        tenant.id,
        { url, ...(slug ? { slug } : {}) },
        actorOf(c),
      );
      await refreshFeedNow(deps, tenant.id, feed.id);
      const text = t(c.get("locale"), `${P}.added`, { slug: feed.slug });
      await (await flashes).set(c, { kind: "ok", text });
      return c.redirect(BASE, 303);
    } catch (e) {
      const notice = { kind: "error" as const, text: errorText(c, e) };
      return await index(c, { notice, url, slug, status: 400 });
    }
  });

  app.post("/:id/fetch", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const feed = await getFeed(deps, tenant.id, c.req.param("id"));
    const r = await refreshFeedNow(deps, tenant.id, feed.id);
    const flash: Flash = r?.status === "error"
      ? {
        kind: "error",
        text: t(l, `${P}.fetch_failed`, { slug: feed.slug, error: errorMessage(l, r.error ?? "") }),
      }
      : { kind: "ok", text: t(l, `${P}.fetched`, { slug: feed.slug, added: r?.added ?? 0 }) };
    await (await flashes).set(c, flash);
    return c.redirect(BASE, 303);
  });

  app.post("/:id/delete", async (c) => {
    const tenant = requireTenant(c);
    const feed = await getFeed(deps, tenant.id, c.req.param("id"));
    await deleteFeed(deps, tenant.id, feed.id, actorOf(c));
    const text = t(c.get("locale"), `${P}.removed`, { slug: feed.slug });
    await (await flashes).set(c, { kind: "ok", text });
    return c.redirect(BASE, 303);
  });
}

/** On a draft's page: each feed's block to copy into the mailing. */
export async function rssMailingPanel(ctx: MailingPanelContext) {
  const l = ctx.locale;
  const feeds = await listFeeds(ctx.deps, ctx.tenant.id);
  return (
    <section class="card stack" data-testid="rss-panel">
      <h2>{t(l, `${P}.panel_title`)}</h2>
      {feeds.length === 0 ? <p class="muted">{t(l, `${P}.panel_none`)}</p> : (
        <>
          <p class="muted">{t(l, `${P}.panel_intro`)}</p>
          {feeds.map((f) => (
            <div>
              <strong>{f.title || f.slug}</strong>
              <pre><code>{snippetFor(f.slug)}</code></pre>
            </div>
          ))}
          <p class="muted">{t(l, `${P}.snippet_help`)}</p>
        </>
      )}
    </section>
  );
}
