// The afterEvents hook: mail events become outbox rows, one per subscribed endpoint and event, in
// the core's transaction that records the events (so the rows commit with them, or not at all),
// each with the JSON the receiver will get (message id, send id, recipient, the message's tags and
// metadata when its queue row carries them). The dispatcher (dispatcher.ts) delivers them; the
// NOTIFY, sent when that transaction commits, wakes an idle one.
import { sql } from "kysely";
import type { AppDeps } from "../../core/deps.ts";
import { uuidv7 } from "../../core/db/ids.ts";
import type { MailEvent } from "../../core/plugin.ts";
import { groupBy } from "../../core/collections.ts";
import { dbOf } from "./store.ts";

export const WEBHOOK_CHANNEL = "skicka_webhooks";
/** Events are retried for this long after they happened, then marked failed. */
export const RETRY_WINDOW_MS = 24 * 3600_000;
const INSERT_CHUNK = 5_000;

type HookDeps = Pick<AppDeps, "db" | "log" | "clock">;

/** What a receiver gets for one event (inside `{ "events": [...] }`). */
export interface EventPayload {
  id: string;
  type: string;
  created_at: string;
  message_id: string;
  send_id: string;
  /** mass, single or transactional. */
  stream: string | null;
  recipient: string;
  tags: string[];
  metadata: Record<string, unknown>;
  details: MailEvent["details"];
}

interface QueueInfo {
  id: string;
  kind: string | null;
  data: unknown;
}

function tagsOf(data: unknown): { tags: string[]; metadata: Record<string, unknown> } {
  const d = (data && typeof data === "object" ? data : {}) as Record<string, unknown>;
  const tags = Array.isArray(d.tags) ? d.tags.filter((x) => typeof x === "string") : [];
  const metadata = d.metadata && typeof d.metadata === "object" && !Array.isArray(d.metadata)
    ? d.metadata as Record<string, unknown>
    : {};
  return { tags, metadata };
}

export function toPayload(e: MailEvent, q: QueueInfo | undefined, id = uuidv7()): EventPayload {
  return {
    id,
    type: e.type,
    created_at: e.at.toISOString(),
    message_id: e.queueId,
    send_id: e.sendId,
    stream: q?.kind ?? null,
    recipient: e.recipient,
    ...tagsOf(q?.data),
    details: e.details,
  };
}

/** The hook itself: writes the outbox rows for a batch of events, on deps.db (the core's trx). */
export async function enqueueEvents(deps: HookDeps, events: MailEvent[]): Promise<number> {
  const db = dbOf(deps);
  const now = deps.clock();
  let written = 0;
  for (const [tenantId, list] of groupBy(events, (e) => e.tenantId)) {
    const endpoints = await db.selectFrom("webhook_endpoints").select(["id", "events"])
      .where("tenant_id", "=", tenantId).where("enabled", "=", true).execute();
    const wanted = list.filter((e) => endpoints.some((x) => x.events.includes(e.type)));
    if (!wanted.length) continue;
    const ids = [...new Set(wanted.map((e) => e.queueId))];
    const q = await sql<QueueInfo>`select q.id, s.kind, q.data from send_queue q
      left join sends s on s.tenant_id = q.tenant_id and s.id = q.send_id
      where q.tenant_id = ${tenantId} and q.id = any(${ids}::uuid[])`.execute(deps.db);
    const info = new Map(q.rows.map((r) => [r.id, r]));
    // Columns as arrays: one statement per chunk, whatever the number of rows.
    const cols = {
      id: [] as string[],
      endpoint: [] as string[],
      event: [] as string[],
      type: [] as string[],
      payload: [] as string[],
      giveUp: [] as string[],
    };
    for (const e of wanted) {
      const payload = toPayload(e, info.get(e.queueId));
      const json = JSON.stringify(payload);
      const giveUp = new Date(e.at.getTime() + RETRY_WINDOW_MS).toISOString();
      for (const x of endpoints) {
        if (!x.events.includes(e.type)) continue;
        cols.id.push(uuidv7());
        cols.endpoint.push(x.id);
        cols.event.push(payload.id);
        cols.type.push(e.type);
        cols.payload.push(json);
        cols.giveUp.push(giveUp);
      }
    }
    const n = cols.id.length;
    for (let i = 0; i < n; i += INSERT_CHUNK) {
      const part = <T>(a: T[]) => a.slice(i, i + INSERT_CHUNK);
      await sql`insert into webhook_events (tenant_id, id, endpoint_id, event_id, type, payload,
          status, attempts, next_attempt_at, give_up_at, created_at)
        select ${tenantId}, v.id, v.endpoint_id, v.event_id, v.type, v.payload::jsonb,
          'pending', 0, ${now}, v.give_up_at, ${now}
        from unnest(${part(cols.id)}::uuid[], ${part(cols.endpoint)}::uuid[],
          ${part(cols.event)}::uuid[], ${part(cols.type)}::text[], ${part(cols.payload)}::text[],
          ${part(cols.giveUp)}::timestamptz[])
          as v(id, endpoint_id, event_id, type, payload, give_up_at)`.execute(deps.db);
    }
    written += n;
  }
  if (written) await sql`select pg_notify(${WEBHOOK_CHANNEL}, '')`.execute(deps.db);
  return written;
}
