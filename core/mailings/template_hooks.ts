// Runs the tenant's plugins' transformTemplate hooks over a send's HTML, once when the content is
// frozen (not per message): what a plugin changes there is compiled once and cached like the rest.
import type { AppDeps } from "../deps.ts";

type Deps = Pick<AppDeps, "db" | "registry" | "log">;

/**
 * The HTML after every enabled plugin's transformTemplate hook, in registry order, each under
 * the hook time limit. A hook that fails or runs out of time is logged and its change dropped
 * (the next plugin still runs): a plugin's decoration must never stop a mailing from going out,
 * and only a finished hook's answer is kept, never a half-done one.
 */
export async function transformTemplate(
  deps: Deps,
  ctx: { tenantId: string; templateId: string },
  html: string,
  opts: { timeoutMs?: number } = {},
): Promise<string> {
  const withHook = deps.registry.all().filter((p) => p.hooks?.transformTemplate);
  if (!withHook.length) return html;
  const enabled = await deps.registry.enabledForTenant(deps.db, ctx.tenantId);
  let out = html;
  for (const p of withHook) {
    if (!enabled.has(p.name)) continue;
    const before = out;
    let answer = null as string | null;
    try {
      // One plugin at a time, so one that fails does not cost the others their turn.
      await deps.registry.runHook("transformTemplate", new Set([p.name]), async (hook) => {
        const next = await hook(before, { ...ctx });
        if (typeof next === "string") answer = next;
      }, opts.timeoutMs);
      if (answer !== null) out = answer;
    } catch (e) {
      deps.log.warn("transformTemplate hook failed; its change is left out", {
        plugin: p.name,
        tenant_id: ctx.tenantId,
        template_id: ctx.templateId,
        error: String(e),
      });
    }
  }
  return out;
}
