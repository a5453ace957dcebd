// Hands recorded mail events (sent, delivered, deferred, bounced, opened, clicked, unsubscribed,
// complained) to the afterEvents hook of each tenant's enabled plugins. Callers emit only after
// their own transaction has committed, so a listener never sees an event that was rolled back,
// and a failing listener never undoes or repeats the recording.
import type { AppDeps } from "../deps.ts";
import type { MailEvent } from "../plugin.ts";
import { groupBy } from "../collections.ts";

/** What emitting needs; optional on the recorders' deps so narrow callers (tests) need none. */
export type EventDeps = Pick<AppDeps, "db" | "registry" | "log"> & { clock?: () => Date };

/** Hook runs are bounded like every hook; events are small, the limit is generous. */
const HOOK_TIMEOUT_MS = 5_000;
const PLAN_TTL_MS = 60_000;
const now = () => new Date();

/** True when some installed plugin listens: lets recorders skip building events at all. */
export function hasEventListeners(deps: Partial<EventDeps>): deps is EventDeps {
  return !!deps.registry && !!deps.log &&
    deps.registry.all().some((p) => p.hooks?.afterEvents !== undefined);
}

/**
 * Offers committed events to the plugins, one call per tenant. Never throws: the events are
 * recorded already, and a listener's trouble is logged, not passed to the recorder.
 */
export async function emitMailEvents(
  deps: Partial<EventDeps>,
  events: MailEvent[],
): Promise<void> {
  if (!events.length || !hasEventListeners(deps)) return;
  for (const [tenantId, list] of groupBy(events, (e) => e.tenantId)) {
    try {
      const enabled = await deps.registry.enabledForTenant(deps.db, tenantId, {
        maxAgeMs: PLAN_TTL_MS,
      });
      await deps.registry.runHook(
        "afterEvents",
        enabled,
        (hook) => hook(list, { db: deps.db, log: deps.log, clock: deps.clock ?? now }),
        HOOK_TIMEOUT_MS,
      );
    } catch (e) {
      deps.log.error("afterEvents hook failed", {
        tenant: tenantId,
        events: list.length,
        error: String(e),
      });
    }
  }
}
