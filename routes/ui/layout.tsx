// The staff UI frame: head, top bar with navigation for the user's role and tenant's plugins, flash.
import type { Context } from "hono";
import type { Child } from "hono/jsx";
import { t } from "../../core/i18n/mod.ts";
import type { AppDeps } from "../../core/deps.ts";
import { CSRF_FIELD } from "../../core/http/csrf.ts";
import type { Flash } from "./flash.ts";

export interface NavLink {
  href: string;
  label: string;
}

/** The navigation the current viewer may see: core items by role, plugin items by tenant. */
export function navFor(c: Context, deps: AppDeps): NavLink[] {
  const auth = c.get("auth");
  const l = c.get("locale");
  if (!auth) return [];
  if (auth.kind === "operator") {
    return [
      { href: "/operator/tenants", label: t(l, "nav.tenants") },
      { href: "/api/v1/docs", label: t(l, "nav.api_docs") },
    ];
  }
  if (auth.kind !== "user") return [];
  const links: NavLink[] = [
    { href: "/", label: t(l, "nav.home") },
    { href: "/mailings", label: t(l, "nav.mailings") },
    { href: "/people", label: t(l, "nav.people") },
    { href: "/segments", label: t(l, "nav.segments") },
    { href: "/lists", label: t(l, "nav.lists") },
    { href: "/stats", label: t(l, "nav.stats") },
    { href: "/design", label: t(l, "nav.design") },
  ];
  // The local mailbox only exists where mail is captured instead of sent.
  if (deps.config.delivery === "capture") {
    links.push({ href: "/mailbox", label: t(l, "nav.mailbox") });
  }
  const enabled = c.get("plugins");
  for (const p of deps.registry.all()) {
    if (!p.ui || !enabled.has(p.name)) continue;
    for (const item of p.ui.nav) {
      if (item.roles && !item.roles.includes(auth.user.role)) continue;
      links.push({ href: `/p/${p.name}${item.path}`, label: t(l, `${p.name}.${item.label}`) });
    }
  }
  if (auth.user.role === "admin") {
    links.push({ href: "/settings/api-keys", label: t(l, "nav.api_keys") });
    links.push({ href: "/settings/dkim", label: t(l, "nav.dkim") });
    links.push({ href: "/settings/senders", label: t(l, "nav.senders") });
  }
  links.push({ href: "/api/v1/docs", label: t(l, "nav.api_docs") });
  return links;
}

export function Csrf({ c }: { c: Context }) {
  return <input type="hidden" name={CSRF_FIELD} value={c.get("csrfToken")} />;
}

export function Page(
  props: {
    c: Context;
    deps: AppDeps;
    title: string;
    flash?: Flash | null;
    /** Reload the page after this many seconds (progress pages, no JavaScript needed). */
    refresh?: number;
    children?: Child;
  },
) {
  const { c, deps } = props;
  const l = c.get("locale");
  const auth = c.get("auth");
  const who = auth?.kind === "operator"
    ? `${auth.operator.email} · ${t(l, "role.operator")}`
    : auth?.kind === "user"
    ? `${auth.user.email} · ${auth.tenant.name}`
    : "";
  const path = c.req.path;
  return (
    <html lang={l}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · ${t(l, "app.name")}`}</title>
        <link rel="stylesheet" href="/static/app.css" />
        {props.refresh && <meta http-equiv="refresh" content={String(props.refresh)} />}
      </head>
      <body>
        <header class="top">
          <div class="bar">
            <a class="brand" href="/">{t(l, "app.name")}</a>
            {auth && (
              <nav class="main" aria-label={t(l, "nav.menu")}>
                <ul>
                  {navFor(c, deps).map((link) => (
                    <li>
                      <a
                        href={link.href}
                        aria-current={path === link.href ? "page" : undefined}
                      >
                        {link.label}
                      </a>
                    </li>
                  ))}
                </ul>
              </nav>
            )}
            {auth && (
              <form method="post" action="/logout" class="who">
                <span>{who}</span> <Csrf c={c} />
                <button type="submit" class="link">{t(l, "nav.logout")}</button>
              </form>
            )}
          </div>
        </header>
        <main>
          {props.flash && (
            <div class={`flash ${props.flash.kind}`} role="status">{props.flash.text}</div>
          )}
          {props.children}
        </main>
      </body>
    </html>
  );
}
