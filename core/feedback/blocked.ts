// Addresses mail must not go to until an administrator clears them: a person's address marked
// undeliverable, or an address of no person blocked by its bounces (suppressed_addresses).
import { sql } from "kysely";
import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";

/** Which of these address keys are blocked for the tenant (one query; empty keys, no query). */
export async function blockedAddresses(
  db: Kysely<DB>,
  tenantId: string,
  keys: string[],
): Promise<Set<string>> {
  if (!keys.length) return new Set();
  const r = await sql<{ k: string }>`
    select address_key as k from person_addresses
    where tenant_id = ${tenantId} and address_key = any(${keys}::text[])
      and undeliverable_at is not null
    union
    select address_key from suppressed_addresses
    where tenant_id = ${tenantId} and address_key = any(${keys}::text[])
      and suppressed_at is not null`.execute(db);
  return new Set(r.rows.map((x) => x.k));
}
