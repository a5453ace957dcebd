// The plain 404 page of the public endpoints (links in mail): no menu, no session, never cached,
// and never a redirect, whatever was wrong with the link.
import type { Context } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { t } from "../../core/i18n/mod.ts";
import { escapeHtml } from "../../core/mailings/design_mjml.ts";

export function notFound(c: Context, deps: AppDeps, messageKey: string) {
  const l = c.get("locale") ?? deps.config.defaultLocale;
  const title = escapeHtml(t(l, "page.not_found"));
  return c.html(
    `<!doctype html><html lang="${l}"><head><meta charset="utf-8"><title>${title}</title>` +
      `<meta name="viewport" content="width=device-width"></head><body><h1>${title}</h1>` +
      `<p>${escapeHtml(t(l, messageKey))}</p></body></html>`,
    404,
    { "cache-control": "no-store", "x-robots-tag": "noindex" },
  );
}
