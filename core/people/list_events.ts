// Tells the tenant's plugins that persons joined a list, after the adding transaction committed
// (staff and API adds in lists.ts, CSV imports in import.ts).
import type { AppDeps } from "../deps.ts";
import type { ListMembersAdded } from "../plugin.ts";

type Deps = Pick<AppDeps, "db"> & Partial<Pick<AppDeps, "registry" | "log">>;

/**
 * Runs every enabled plugin's afterListMembersAdded hook under the hook time limit. Never
 * throws: the members are added already, and a plugin's failure must not turn that into an
 * error for whoever added them (it is logged instead).
 */
export async function emitListMembersAdded(deps: Deps, ctx: ListMembersAdded): Promise<void> {
  const registry = deps.registry;
  if (!ctx.personIds.length || !registry) return;
  if (!registry.all().some((p) => p.hooks?.afterListMembersAdded)) return;
  try {
    const enabled = await registry.enabledForTenant(deps.db, ctx.tenantId);
    await registry.runHook("afterListMembersAdded", enabled, async (hook) => {
      await hook({ ...ctx, personIds: [...ctx.personIds] });
    });
  } catch (e) {
    deps.log?.warn("afterListMembersAdded hook failed", {
      tenant_id: ctx.tenantId,
      list_id: ctx.listId,
      error: String(e),
    });
  }
}
