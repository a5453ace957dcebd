// Hands recorded mail events (sent, delivered, deferred, bounced, opened, clicked, unsubscribed,
// complained) to the afterEvents hook of each tenant's enabled plugins, inside the transaction
// that records them: what a hook writes (a webhook outbox) commits with the events or not at all,
// so a crash can neither lose a committed event's rows nor leave rows for a rolled-back one.
import {
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  sql,
  type Transaction,
  type UnknownRow,
} from "kysely";
import type { AppDeps } from "../deps.ts";
import type { DB } from "../db/schema.ts";
import type { MailEvent } from "../plugin.ts";
import { groupBy } from "../collections.ts";

/** What emitting needs; optional on the recorders' deps so narrow callers (tests) need none. */
export type EventDeps = Pick<AppDeps, "db" | "registry" | "log"> & { clock?: () => Date };

/** Hook runs are bounded like every hook, and here they hold the recorder's transaction open. */
const HOOK_TIMEOUT_MS = 5_000;
const PLAN_TTL_MS = 60_000;
const now = () => new Date();

/** True when some installed plugin listens: lets recorders skip building events at all. */
export function hasEventListeners(deps: Partial<EventDeps>): deps is EventDeps {
  return !!deps.registry && !!deps.log &&
    deps.registry.all().some((p) => p.hooks?.afterEvents !== undefined);
}

/**
 * Refuses a hook's queries once its turn is over: a hook that ran out of time may still be
 * running, and must not write into the transaction after its savepoint was rolled back.
 */
class Fence implements KyselyPlugin {
  closed = false;
  constructor(readonly plugin: string) {}
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (this.closed) {
      throw new Error(`afterEvents of plugin "${this.plugin}" queried after its turn ended`);
    }
    return args.node;
  }
  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}

/**
 * Offers events to the plugins in the recorder's transaction `trx`, one call per tenant and
 * plugin, each in its own savepoint: a hook that fails or runs out of time is logged and only
 * its own writes are rolled back; the recording and the other plugins' writes stand. Throws
 * only when the transaction itself is lost (the savepoint cannot be rolled back).
 */
export async function emitMailEvents(
  trx: Transaction<DB>,
  deps: Partial<EventDeps>,
  events: MailEvent[],
): Promise<void> {
  if (!events.length || !hasEventListeners(deps)) return;
  const listeners = deps.registry.all().filter((p) => p.hooks?.afterEvents);
  for (const [tenantId, list] of groupBy(events, (e) => e.tenantId)) {
    // PGlite has one connection: inside the transaction every query goes through trx.
    const enabled = await deps.registry.enabledForTenant(trx, tenantId, {
      maxAgeMs: PLAN_TTL_MS,
    });
    for (const p of listeners) {
      if (!enabled.has(p.name)) continue;
      const fence = new Fence(p.name);
      const hookDeps = { db: trx.withPlugin(fence), log: deps.log, clock: deps.clock ?? now };
      await sql`savepoint after_events`.execute(trx);
      try {
        await deps.registry.runHook(
          "afterEvents",
          new Set([p.name]),
          (hook) => hook(list, hookDeps),
          HOOK_TIMEOUT_MS,
        );
        fence.closed = true;
        await sql`release savepoint after_events`.execute(trx);
      } catch (e) {
        fence.closed = true;
        await sql`rollback to savepoint after_events`.execute(trx);
        await sql`release savepoint after_events`.execute(trx);
        deps.log.error("afterEvents hook failed; its writes are rolled back", {
          plugin: p.name,
          tenant: tenantId,
          events: list.length,
          error: String(e),
        });
      }
    }
  }
}
