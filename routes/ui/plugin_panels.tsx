// Cards that the tenant's enabled plugins add to a core page (a mailing, a send's statistics, a
// person): drawn in registry order, each isolated so a failing plugin only loses its own card.
import type { Context } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import type { PanelElement, Plugin } from "../../core/plugin.ts";

export async function PluginPanels<Ctx>(
  { c, deps, panel, ctx, testId }: {
    c: Context;
    deps: AppDeps;
    /** The plugin's panel function for this page, if it has one. */
    panel: (p: Plugin) => ((ctx: Ctx) => Promise<PanelElement | null>) | undefined;
    ctx: Ctx;
    testId: string;
  },
) {
  const enabled = c.get("plugins");
  const panels: PanelElement[] = [];
  for (const p of deps.registry.all()) {
    const draw = panel(p);
    if (!draw || !enabled.has(p.name)) continue;
    try {
      const drawn = await draw(ctx);
      if (drawn) panels.push(drawn);
    } catch (e) {
      c.get("log").error("plugin panel failed", { plugin: p.name, testId, error: String(e) });
    }
  }
  if (!panels.length) return null;
  return <div class="stack" data-testid={testId}>{panels}</div>;
}
