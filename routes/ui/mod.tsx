// The staff UI: session auth and CSRF for every page, core pages, and plugin pages under /p/<name>.
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { t } from "../../core/i18n/mod.ts";
import { authenticate, requirePlugin, requireTenant } from "../../core/http/context.ts";
import { csrfProtection } from "../../core/http/csrf.ts";
import { toErrorResponse } from "../../core/http/errors.ts";
import { AppError } from "../../core/errors.ts";
import { Page } from "./layout.tsx";
import { flashStore } from "./flash.ts";
import { authPages } from "./auth.tsx";
import { operatorPages } from "./operator.tsx";
import { settingsPages } from "./settings.tsx";
import { peoplePages } from "./people.tsx";
import { importPages } from "./imports.tsx";
import { mailboxPages } from "./mailbox.tsx";
import { listPages } from "./lists.tsx";
import { segmentPages } from "./segments.tsx";
import { sendStatsPages } from "./send_stats.tsx";
import { dkimPages } from "./dkim.tsx";
import { designPages } from "./design_templates.tsx";
import { senderPages } from "./senders.tsx";
import { mailingPages } from "./mailings.tsx";
import { staticAssets } from "./static.ts";

export async function uiRoutes(deps: AppDeps): Promise<Hono> {
  const ui = new Hono();
  staticAssets(ui);
  ui.use("*", authenticate(deps, "session"));
  ui.use("*", await csrfProtection(deps));
  const flash = await flashStore(deps.secret, deps.config.cookieSecure);

  await authPages(ui, deps, flash);

  ui.get("/", async (c) => {
    const auth = c.get("auth");
    if (!auth) return c.redirect("/login", 303);
    if (auth.kind === "operator") return c.redirect("/operator/tenants", 303);
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const enabled = [...c.get("plugins")].sort();
    return c.html(
      <Page c={c} deps={deps} title={t(l, "nav.home")} flash={await flash.take(c)}>
        <h1>
          {t(l, "home.title", {
            name: auth.kind === "user" ? (auth.user.name || auth.user.email) : "",
          })}
        </h1>
        <div class="card">
          <p>{t(l, "home.tenant", { tenant: tenant.name, tier: t(l, `tier.${tenant.tier}`) })}</p>
          <h2>{t(l, "home.features")}</h2>
          {enabled.length
            ? <ul>{enabled.map((p) => <li>{p}</li>)}</ul>
            : <p class="muted">{t(l, "home.no_features")}</p>}
        </div>
      </Page>,
    );
  });

  operatorPages(ui, deps, flash);
  settingsPages(ui, deps, flash);
  dkimPages(ui, deps, flash);
  designPages(ui, deps, flash);
  senderPages(ui, deps, flash);
  mailingPages(ui, deps, flash);
  mailboxPages(ui, deps);
  sendStatsPages(ui, deps);
  listPages(ui, deps, flash);
  segmentPages(ui, deps, flash);
  importPages(ui, deps, flash); // before peoplePages: /people/import is not a person id
  peoplePages(ui, deps, flash);

  for (const plugin of deps.registry.all()) {
    if (!plugin.ui) continue;
    const sub = new Hono();
    sub.use("*", requirePlugin(plugin.name));
    plugin.ui.routes(sub, deps);
    ui.route(`/p/${plugin.name}`, sub);
  }

  ui.onError((err, c) => errorPage(c, deps, err));
  return ui;
}

/** Errors as pages: sign-in needed → to the login form (coming back after); others explained. */
export function errorPage(c: Context, deps: AppDeps, err: unknown) {
  if (err instanceof AppError && err.code === "unauthenticated" && c.req.method === "GET") {
    return c.redirect(`/login?next=${encodeURIComponent(c.req.path)}`, 303);
  }
  const { status, body, headers } = toErrorResponse(c, err);
  for (const [k, v] of Object.entries(headers)) c.header(k, v);
  const l = c.get("locale") ?? "en";
  const title = status === 404
    ? t(l, "page.not_found")
    : status === 403
    ? t(l, "page.forbidden")
    : body.error.message;
  return c.html(
    <Page c={c} deps={deps} title={title}>
      <div class="card narrow">
        <h1>{title}</h1>
        <p data-error-code={body.error.code}>{body.error.message}</p>
        <p>
          <a href="/">{t(l, "common.back")}</a>
        </p>
      </div>
    </Page>,
    status as 404,
  );
}
