// Names of segments and lists are unique per tenant, case-insensitively: a friendly check first,
// and the unique index (tenant_id, lower(name)) as the last word when two requests race.
import { type Kysely, sql, type SqlBool } from "kysely";
import type { DB } from "../db/schema.ts";
import { AppError } from "../errors.ts";

export function nameTaken(): AppError {
  return new AppError("conflict", {}, [{ path: "name", code: "taken", message: "" }]);
}

/** PostgreSQL's unique_violation, from either driver. */
export function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: unknown })?.code === "23505";
}

export async function checkNameFree(
  db: Kysely<DB>,
  table: "segments" | "lists",
  key: { tenantId: string; name: string; except?: string },
): Promise<void> {
  let q = db.selectFrom(table).select("id").where("tenant_id", "=", key.tenantId)
    .where(sql<SqlBool>`lower(name) = lower(${key.name})`);
  if (key.except) q = q.where("id", "<>", key.except);
  if (await q.executeTakeFirst()) throw nameTaken();
}

/** Runs a write that may break the name's uniqueness, answering conflict instead of a 500. */
export async function withUniqueName<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    throw isUniqueViolation(e) ? nameTaken() : e;
  }
}
