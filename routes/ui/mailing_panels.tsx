// Cards that the tenant's enabled plugins add to a mailing's page (Plugin.ui.mailingPanel),
// drawn through PluginPanels: registry order, a failing plugin only loses its own card.
import type { Context } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { requireTenant } from "../../core/http/context.ts";
import { CSRF_FIELD } from "../../core/http/csrf.ts";
import type { Mailing } from "../../core/mailings/mailings.ts";
import type { MailingPanelContext } from "../../core/plugin.ts";
import { PluginPanels } from "./plugin_panels.tsx";

export function MailingPanels(
  { c, deps, mailing }: { c: Context; deps: AppDeps; mailing: Mailing },
) {
  const auth = c.get("auth");
  if (auth?.kind !== "user") return null;
  const ctx: MailingPanelContext = {
    deps,
    tenant: requireTenant(c),
    mailing,
    user: { id: auth.user.id, role: auth.user.role },
    locale: c.get("locale"),
    timeZone: c.get("timeZone"),
    csrf: { field: CSRF_FIELD, token: c.get("csrfToken") },
  };
  return (
    <PluginPanels
      c={c}
      deps={deps}
      panel={(p) => p.ui?.mailingPanel}
      ctx={ctx}
      testId="mailing-panels"
    />
  );
}
