// The audit trail: who did what to which tenant's data, kept with the tenant.
import { jsonb } from "../db/json.ts";
import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";
import { uuidv7 } from "../db/ids.ts";

export async function audit(
  db: Kysely<DB>,
  entry: {
    tenantId: string;
    actor: string;
    action: string;
    target?: string;
    details?: Record<string, unknown>;
    at: Date;
  },
): Promise<void> {
  await db.insertInto("audit_log").values({
    tenant_id: entry.tenantId,
    id: uuidv7(),
    actor: entry.actor,
    action: entry.action,
    target: entry.target ?? null,
    details: jsonb(entry.details ?? {}),
    at: entry.at,
  }).execute();
}
