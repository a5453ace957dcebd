// What a recorded group of delivery outcomes sets off: synchronous 5xx rejections become bounces
// (the policy in bounces.ts), sent messages stamp the recipient's contact note, and plugins with
// an afterDeliveryBatch hook hear the outcomes of their tenants. The send worker calls these after
// it has written the outcomes, so a failing listener never makes mail go out twice. The outcomes'
// mail events (outcomeEvents) reach afterEvents inside recordOutcomes' own transaction instead.
import type { AppDeps } from "../deps.ts";
import type { Outcome } from "../send/queue.ts";
import type { DeliveryOutcome, MailEvent } from "../plugin.ts";
import { handleSyncFailures } from "./bounces.ts";
import { applyNoteEvents } from "./notes.ts";
import { groupBy } from "../collections.ts";

export type OutcomeListener = (outcomes: Outcome[]) => Promise<void>;

const byTenant = (outcomes: Outcome[]) => groupBy(outcomes, (o) => o.tenant_id);

/** The listeners every send worker runs. */
export function outcomeListeners(deps: AppDeps): OutcomeListener[] {
  const bounces: OutcomeListener = async (outcomes) => {
    const failed = outcomes.filter((o) => o.status === "failed");
    if (!failed.length) return;
    await handleSyncFailures(
      deps,
      failed.map((o) => ({
        tenantId: o.tenant_id,
        queueId: o.id,
        recipient: o.address ?? "",
        reply: o.reply,
      })),
    );
  };

  const notes: OutcomeListener = async (outcomes) => {
    const at = deps.clock();
    for (const [tenantId, list] of byTenant(outcomes)) {
      const sent = list.filter((o) => o.status === "sent");
      if (!sent.length) continue;
      await applyNoteEvents(
        deps.db,
        tenantId,
        sent.map((o) => ({ queueId: o.id, event: "sent" as const, at })),
      );
    }
  };

  const hooks: OutcomeListener = async (outcomes) => {
    if (!deps.registry.all().some((p) => p.hooks?.afterDeliveryBatch)) return;
    for (const [tenantId, list] of byTenant(outcomes)) {
      // Per recorded batch: a tenant's plan read at most once a minute.
      const enabled = await deps.registry.enabledForTenant(deps.db, tenantId, {
        maxAgeMs: 60_000,
      });
      const batch: DeliveryOutcome[] = list
        .filter((o) => o.status !== "throttled")
        .map((o) => ({
          tenantId,
          messageId: o.message_id ?? o.id,
          recipient: o.address ?? "",
          status: o.status as DeliveryOutcome["status"],
          reply: o.reply,
        }));
      if (!batch.length) continue;
      await deps.registry.runHook(
        "afterDeliveryBatch",
        enabled,
        (hook) => hook(batch),
      );
    }
  };

  return [bounces, notes, hooks];
}

/**
 * Outcomes as mail events for plugins' afterEvents: an accepted message is both sent and
 * delivered (README, "Event webhooks"); 5xx rejections arrive as bounced through
 * handleSyncFailures above.
 */
export function outcomeEvents(outcomes: Outcome[], at: Date): MailEvent[] {
  return outcomes.flatMap((o): MailEvent[] => {
    const base = {
      tenantId: o.tenant_id,
      at,
      sendId: o.send_id,
      queueId: o.id,
      recipient: o.address ?? "",
      details: { reply: o.reply.slice(0, 500) },
    };
    if (o.status === "sent") return [{ ...base, type: "sent" }, { ...base, type: "delivered" }];
    return o.status === "deferred" ? [{ ...base, type: "deferred" }] : [];
  });
}
