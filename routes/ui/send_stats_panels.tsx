// Cards that the tenant's enabled plugins add to a send's statistics page
// (Plugin.ui.sendStatsPanel), through the shared PluginPanels.
import type { Context } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { PluginPanels } from "./plugin_panels.tsx";

export function SendStatsPanels(
  { c, deps, tenantId, sendId }: { c: Context; deps: AppDeps; tenantId: string; sendId: string },
) {
  return PluginPanels({
    c,
    deps,
    panel: (p) => p.ui?.sendStatsPanel,
    ctx: { deps, tenantId, sendId, locale: c.get("locale"), timeZone: c.get("timeZone") },
    testId: "send-stats-panels",
  });
}
