// Staff UI for mailings: the list (drafts, sending, sent) with status filter, New and Copy, the
// editor's assets served from the installed Quill package and static/, and the compose, review,
// preview and progress pages (mailing_*.tsx).
import type { Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { formatDateTime, t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { PageQuery } from "../../core/http/pagination.ts";
import {
  copyMailing,
  createMailing,
  deleteMailing,
  getMailing,
  listMailings,
  MAILING_STATUSES,
} from "../../core/mailings/mailings.ts";
import { Csrf, Page } from "./layout.tsx";
import type { FlashStore } from "./flash.ts";
import { errorText } from "./forms.ts";
import { composePages } from "./mailing_compose.tsx";
import { sendPages } from "./mailing_send.tsx";

/** Files the editor needs: Quill from its npm package, our scripts from static/ (no CDN). */
const QUILL_FILES: Record<string, string> = {
  "quill.js": "text/javascript; charset=utf-8",
  "quill.snow.css": "text/css; charset=utf-8",
};
const OWN_FILES: Record<string, string> = {
  "compose.js": "text/javascript; charset=utf-8",
  "mailing_progress.js": "text/javascript; charset=utf-8",
};

function mailingAssets(app: Hono) {
  const quill = new URL("dist/", new URL(".", import.meta.resolve("quill")));
  const own = new URL("../../static/", import.meta.url);
  const cache = new Map<string, Uint8Array<ArrayBuffer>>();
  app.get("/mailings/assets/:file", async (c) => {
    const file = c.req.param("file");
    const type = QUILL_FILES[file] ?? OWN_FILES[file];
    if (!type) return c.notFound();
    let bytes = cache.get(file);
    if (!bytes) {
      bytes = await Deno.readFile(new URL(file, QUILL_FILES[file] ? quill : own));
      cache.set(file, bytes);
    }
    return c.body(bytes, 200, { "content-type": type, "cache-control": "public, max-age=3600" });
  });
}

export function mailingPages(app: Hono, deps: AppDeps, flash: FlashStore) {
  mailingAssets(app);

  app.get("/mailings", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const raw = c.req.query();
    const status = (MAILING_STATUSES as readonly string[]).includes(raw.status ?? "")
      ? raw.status as (typeof MAILING_STATUSES)[number]
      : undefined;
    const q = raw.q?.trim() || undefined;
    const page = await listMailings(deps, tenant.id, { status, q }, PageQuery.parse(raw));
    const keep = (extra: Record<string, string>) =>
      "?" + new URLSearchParams({
        ...(status ? { status } : {}),
        ...(q ? { q } : {}),
        ...extra,
      });
    return c.html(
      <Page c={c} deps={deps} title={t(l, "mailui.title")} flash={await flash.take(c)}>
        <div class="row">
          <h1>{t(l, "mailui.title")}</h1>
          <form method="post" action="/mailings/new">
            <Csrf c={c} />
            <button type="submit">{t(l, "mailui.new")}</button>
          </form>
        </div>
        <form method="get" action="/mailings" class="row search" role="search">
          <input
            type="search"
            name="q"
            value={q ?? ""}
            placeholder={t(l, "mailui.search_hint")}
            aria-label={t(l, "mailui.search")}
          />
          <select name="status" aria-label={t(l, "mailui.col_status")}>
            <option value="">{t(l, "mailui.all_statuses")}</option>
            {MAILING_STATUSES.map((s) => (
              <option value={s} selected={s === status}>{t(l, `mailui.status.${s}`)}</option>
            ))}
          </select>
          <button type="submit" class="secondary">{t(l, "mailui.filter")}</button>
        </form>
        <div class="card">
          {page.items.length === 0
            ? <p class="muted">{t(l, "mailui.none")}</p>
            : (
              <table class="responsive" data-testid="mailings">
                <thead>
                  <tr>
                    <th>{t(l, "mailui.col_subject")}</th>
                    <th>{t(l, "mailui.col_status")}</th>
                    <th>{t(l, "mailui.col_updated")}</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((m) => (
                    <tr data-status={m.status}>
                      <td data-label={t(l, "mailui.col_subject")}>
                        <a href={`/mailings/${m.id}`}>{m.subject || t(l, "mailui.no_subject")}</a>
                      </td>
                      <td data-label={t(l, "mailui.col_status")}>
                        <span class={`badge status-${m.status}`}>
                          {t(l, `mailui.status.${m.status}`)}
                        </span>
                      </td>
                      <td data-label={t(l, "mailui.col_updated")}>
                        {formatDateTime(m.sent_at ?? m.updated_at, l, tz)}
                      </td>
                      <td>
                        <form method="post" action={`/mailings/${m.id}/copy`}>
                          <Csrf c={c} />
                          <button type="submit" class="link">{t(l, "mailui.copy")}</button>
                        </form>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          {page.next_cursor && (
            <p>
              <a href={`/mailings${keep({ cursor: page.next_cursor })}`} rel="next">
                {t(l, "common.next")}
              </a>
            </p>
          )}
        </div>
      </Page>,
    );
  });

  app.post("/mailings/new", async (c) => {
    const tenant = requireTenant(c);
    const m = await createMailing(deps, tenant.id, {}, actorOf(c));
    return c.redirect(`/mailings/${m.id}`, 303);
  });

  app.post("/mailings/:id/copy", async (c) => {
    const tenant = requireTenant(c);
    const m = await copyMailing(deps, tenant.id, c.req.param("id"), actorOf(c));
    await flash.set(c, { kind: "ok", text: t(c.get("locale"), "mailui.copied") });
    return c.redirect(`/mailings/${m.id}`, 303);
  });

  app.post("/mailings/:id/delete", async (c) => {
    const tenant = requireTenant(c);
    const id = c.req.param("id");
    await getMailing(deps, tenant.id, id);
    try {
      await deleteMailing(deps, tenant.id, id, actorOf(c));
      await flash.set(c, { kind: "ok", text: t(c.get("locale"), "mailui.deleted") });
      return c.redirect("/mailings", 303);
    } catch (err) {
      await flash.set(c, { kind: "error", text: errorText(c, err) });
      return c.redirect(`/mailings/${id}`, 303);
    }
  });

  sendPages(app, deps, flash);
  composePages(app, deps, flash);
}
