// Typed addresses (work, private, student…): the types come from plugins (Plugin.addressTypes);
// the core stores one on an address (person_addresses.type) and keeps each type to one address
// per person, so "send to the work address" always means one address.
import type { Kysely, Transaction } from "kysely";
import type { DB } from "../db/schema.ts";

type Db = Kysely<DB> | Transaction<DB>;

/**
 * Gives the person's address (by id or key) the type, or clears it (null); another address of
 * the person with that type loses it. Returns false when the person has no such address.
 */
export async function setAddressType(
  db: Db,
  tenantId: string,
  personId: string,
  address: { id: string } | { key: string },
  type: string | null,
): Promise<boolean> {
  const [col, value] = "id" in address
    ? ["id" as const, address.id]
    : ["address_key" as const, address.key];
  if (type !== null) {
    await db.updateTable("person_addresses").set({ type: null })
      .where("tenant_id", "=", tenantId).where("person_id", "=", personId)
      .where("type", "=", type).where(col, "<>", value).execute();
  }
  const r = await db.updateTable("person_addresses").set({ type })
    .where("tenant_id", "=", tenantId).where("person_id", "=", personId)
    .where(col, "=", value).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
