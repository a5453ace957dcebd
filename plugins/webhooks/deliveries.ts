// An endpoint's delivery log (recent attempts), a manual retry of a failed delivery, and the
// "send test event" button: one signed request now, its answer logged like any other.
import { type Kysely, sql } from "kysely";
import type { DB } from "../../core/db/schema.ts";
import type { AppDeps } from "../../core/deps.ts";
import { isUuid, uuidv7 } from "../../core/db/ids.ts";
import { AppError } from "../../core/errors.ts";
import { type Locale, t } from "../../core/i18n/mod.ts";
import { audit } from "../../core/tenants/audit.ts";
import { dbOf, getEndpoint } from "./store.ts";
import { attempt, logAttempt } from "./dispatcher.ts";
import { WEBHOOK_CHANNEL } from "./outbox.ts";
import type { Resolver } from "./ssrf.ts";

export interface DeliveryRow {
  id: string;
  attempted_at: Date;
  event_types: string[];
  events: number;
  ok: boolean;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  manual: boolean;
  test: boolean;
  /** Events of this delivery that are failed (a manual retry sends them again). */
  failed: number;
}

/** The newest attempts first; `before` (a delivery id) pages back. */
export async function listDeliveries(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  endpointId: string,
  opts: { limit: number; before?: string; id?: string },
): Promise<DeliveryRow[]> {
  await getEndpoint(deps, tenantId, endpointId);
  if (opts.before !== undefined && !isUuid(opts.before)) throw new AppError("bad_cursor");
  const r = await sql<DeliveryRow & { events: number; failed: number }>`
    select d.id, d.attempted_at, d.event_types, case when d.test then 1 else cardinality(d.row_ids) end as events, d.ok,
      d.status_code, d.error, d.duration_ms, d.manual, d.test,
      (select count(*) from webhook_events e where e.tenant_id = d.tenant_id
        and e.id = any(d.row_ids) and e.status = 'failed')::int as failed
    from webhook_deliveries d
    where d.tenant_id = ${tenantId} and d.endpoint_id = ${endpointId}
      ${opts.before ? sql`and d.id < ${opts.before}` : sql``}
      ${opts.id ? sql`and d.id = ${opts.id}` : sql``}
    order by d.id desc limit ${opts.limit}`.execute(deps.db);
  return r.rows.map((x) => ({
    ...x,
    attempted_at: new Date(x.attempted_at),
    events: Number(x.events),
    failed: Number(x.failed),
    status_code: x.status_code === null ? null : Number(x.status_code),
    duration_ms: Number(x.duration_ms),
  }));
}

/**
 * Puts a delivery's failed (or still waiting) events back in line for an attempt now. Past the
 * 24 hours, that is one more attempt; within them, the schedule resumes if it fails again.
 */
export async function retryDelivery(
  deps: Pick<AppDeps, "db" | "clock">,
  tenantId: string,
  endpointId: string,
  deliveryId: string,
  actor: string,
  locale: Locale,
): Promise<{ requeued: number }> {
  await getEndpoint(deps, tenantId, endpointId);
  if (!isUuid(deliveryId)) throw new AppError("not_found");
  const now = deps.clock();
  const db = dbOf(deps);
  const requeued = await db.transaction().execute(async (trx) => {
    const d = await trx.selectFrom("webhook_deliveries").select("row_ids")
      .where("tenant_id", "=", tenantId).where("endpoint_id", "=", endpointId)
      .where("id", "=", deliveryId).executeTakeFirst();
    if (!d) throw new AppError("not_found");
    const r = await sql`update webhook_events set status = 'pending', next_attempt_at = ${now},
        give_up_at = greatest(give_up_at, ${now}), lease_until = null, leased_by = null
      where tenant_id = ${tenantId} and endpoint_id = ${endpointId}
        and id = any(${d.row_ids}::uuid[]) and status in ('failed', 'pending')`.execute(trx);
    const n = Number(r.numAffectedRows ?? 0);
    if (!n) {
      throw new AppError("conflict", {}, [{
        path: "delivery",
        code: "nothing_to_retry",
        message: t(locale, "webhooks.nothing_to_retry"),
      }]);
    }
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "webhook.retry",
      target: endpointId,
      details: { delivery: deliveryId, events: n },
      at: now,
    });
    return n;
  });
  await sql`select pg_notify(${WEBHOOK_CHANNEL}, '')`.execute(deps.db);
  return { requeued };
}

/** Sends one "test" event to the endpoint now (enabled or not) and logs the attempt. */
export async function sendTestEvent(
  deps: Pick<AppDeps, "db" | "clock" | "config" | "secret">,
  tenantId: string,
  endpointId: string,
  opts: { resolve?: Resolver } = {},
): Promise<DeliveryRow> {
  const endpoint = await getEndpoint(deps, tenantId, endpointId);
  const now = deps.clock();
  const payload = {
    id: uuidv7(),
    type: "test",
    created_at: now.toISOString(),
    message_id: null,
    send_id: null,
    stream: null,
    recipient: "test@example.com",
    tags: [],
    metadata: {},
    details: {},
  };
  const r = await attempt(deps, {
    tenantId,
    endpointId,
    url: endpoint.url,
    payloads: [payload],
    resolve: opts.resolve,
  });
  await logAttempt(dbOf(deps), tenantId, endpointId, [], r, now, { test: true });
  const [row] = await listDeliveries(deps, tenantId, endpointId, { limit: 1, id: r.deliveryId });
  return row!;
}
