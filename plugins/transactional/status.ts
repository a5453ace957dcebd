// One transactional message's status and event history, read from where the core keeps them:
// the queue row (queued, deferred, sent, failed), bounces (bounced, complained) and
// tracking_events (opened, clicked). Nothing is stored twice for this.
import { sql } from "kysely";
import type { AppDeps } from "../../core/deps.ts";
import { isUuid } from "../../core/db/ids.ts";
import { AppError } from "../../core/errors.ts";
import { StreamMessageData } from "../../core/send/stream_message.ts";
import { SUPPRESSED_REPLY } from "./enqueue.ts";

export type MessageState =
  | "queued"
  | "sending"
  | "deferred"
  | "sent"
  | "delivered"
  | "bounced"
  | "failed"
  | "suppressed"
  | "cancelled";

export interface MessageEvent {
  type: string;
  /** Null where the core keeps no time (a deferral's own moment is not stored, only the next). */
  at: Date | null;
  detail?: Record<string, unknown>;
}

/** How many tracking events a status answer lists (the counts are always complete). */
const MAX_TRACKING_EVENTS = 100;

export async function messageStatus(deps: Pick<AppDeps, "db">, tenantId: string, id: string) {
  if (!isUuid(id)) throw new AppError("not_found");
  const row = await deps.db.selectFrom("send_queue as q")
    .innerJoin(
      "sends as s",
      (j) => j.onRef("s.tenant_id", "=", "q.tenant_id").onRef("s.id", "=", "q.send_id"),
    )
    .select([
      "q.id",
      "q.address",
      "q.status",
      "q.attempts",
      "q.data",
      "q.ready_at",
      "q.message_id",
      "q.last_reply",
      "q.sent_at",
      "q.created_at",
      "s.stream",
    ])
    .where("q.tenant_id", "=", tenantId).where("q.id", "=", id)
    .where("s.stream", "is not", null).executeTakeFirst();
  if (!row) throw new AppError("not_found");
  const parsed = StreamMessageData.safeParse(row.data);
  const data = parsed.success ? parsed.data : null;

  const bounces = await deps.db.selectFrom("bounces")
    .select(["kind", "status", "reason", "diagnostic", "created_at"])
    .where("tenant_id", "=", tenantId).where("queue_id", "=", id).orderBy("created_at").execute();
  const tracking = await sql<{
    kind: "open" | "click";
    url: string | null;
    machine: boolean;
    machine_reason: string | null;
    created_at: Date;
  }>`select kind, url, machine, machine_reason, created_at from tracking_events
    where tenant_id = ${tenantId} and queue_id = ${id} order by created_at
    limit ${MAX_TRACKING_EVENTS}`.execute(deps.db);

  const events: MessageEvent[] = [{ type: "queued", at: row.created_at }];
  const suppressed = row.status === "cancelled" && row.last_reply === SUPPRESSED_REPLY;
  if (suppressed) events.push({ type: "suppressed", at: row.created_at });
  const deferredNow = row.status === "queued" && row.attempts > 0 && row.last_reply;
  if (deferredNow) {
    events.push({
      type: "deferred",
      at: null,
      detail: { reply: row.last_reply, next_attempt_at: row.ready_at },
    });
  }
  if (row.sent_at) {
    events.push({ type: "sent", at: row.sent_at, detail: { reply: row.last_reply } });
  }
  const hasBounce = bounces.some((b) => b.kind !== "complaint");
  if (row.status === "failed" && !hasBounce) {
    events.push({ type: "failed", at: null, detail: { reply: row.last_reply } });
  }
  for (const b of bounces) {
    events.push({
      type: b.kind === "complaint" ? "complained" : "bounced",
      at: b.created_at,
      detail: b.kind === "complaint"
        ? { reason: b.reason }
        : { kind: b.kind, reason: b.reason, status: b.status, diagnostic: b.diagnostic },
    });
  }
  for (const e of tracking.rows) {
    events.push({
      type: e.kind === "open" ? "opened" : "clicked",
      at: e.created_at,
      detail: {
        machine: Boolean(e.machine),
        ...(e.machine_reason ? { machine_reason: e.machine_reason } : {}),
        ...(e.kind === "click" ? { url: e.url } : {}),
      },
    });
  }
  // Timed events in order; the few without a time stay where their kind puts them.
  events.sort((a, b) => (a.at && b.at ? a.at.getTime() - b.at.getTime() : 0));

  const state: MessageState = suppressed
    ? "suppressed"
    : hasBounce
    ? "bounced"
    : row.status === "sent"
    ? "delivered"
    : row.status === "failed"
    ? "failed"
    : row.status === "leased"
    ? "sending"
    : row.status === "cancelled"
    ? "cancelled"
    : deferredNow
    ? "deferred"
    : "queued";

  return {
    id: row.id,
    stream: row.stream!,
    to: row.address,
    from: data?.kind === "content" ? data.content.from.address : data?.mail_from ?? "",
    subject: data?.kind === "content" ? data.content.subject : data?.subject ?? "",
    status: state,
    attempts: Number(row.attempts),
    message_id: row.message_id,
    last_reply: row.last_reply,
    tags: data?.tags ?? [],
    metadata: data?.metadata ?? {},
    tracking: data?.kind === "content" ? data.content.tracking === true : data?.tracking === true,
    created_at: row.created_at,
    sent_at: row.sent_at,
    events,
  };
}
