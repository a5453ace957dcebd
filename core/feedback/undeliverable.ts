// The tenant's undeliverable addresses, for customers cleaning their own registers: a cursor-paged
// list and a CSV stream that walks the table in keyset batches (never the whole list in memory).
// Persons' flagged addresses and suppressed addresses of no person (person_id null) together.
import { sql } from "kysely";
import { csvCell } from "../http/csv.ts";
import type { AppDeps } from "../deps.ts";
import { isUuid } from "../db/ids.ts";
import { AppError } from "../errors.ts";
import { type Page, pageQuery, type PageRequest } from "../http/pagination.ts";
import { clearUndeliverable, parseClearNote } from "../people/persons.ts";
import { audit } from "../tenants/audit.ts";

export interface UndeliverableRow {
  /** The person_addresses or suppressed_addresses id (the cursor walks it). */
  id: string;
  address: string;
  /** Null: the address is in no person's record (blocked in suppressed_addresses). */
  person_id: string | null;
  reason: string | null;
  since: Date;
}

function query(deps: Pick<AppDeps, "db">, tenantId: string) {
  const persons = deps.db.selectFrom("person_addresses")
    .select([
      "id",
      "address",
      sql<string | null>`person_id`.as("person_id"),
      "undeliverable_reason as reason",
      "undeliverable_at as since",
    ])
    .where("tenant_id", "=", tenantId).where("undeliverable_at", "is not", null);
  const others = deps.db.selectFrom("suppressed_addresses")
    .select([
      "id",
      "address",
      sql<string | null>`null::uuid`.as("person_id"),
      "reason",
      "suppressed_at as since",
    ])
    .where("tenant_id", "=", tenantId).where("suppressed_at", "is not", null);
  return deps.db.selectFrom(persons.unionAll(others).as("u")).selectAll()
    .$narrowType<{ since: Date }>();
}

export async function listUndeliverable(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  page: PageRequest,
): Promise<Page<UndeliverableRow>> {
  return await pageQuery(query(deps, tenantId), page);
}

export const CSV_HEADER = ["address", "person_id", "reason", "since"];

/** The whole list as CSV (UTF-8 with a header row), fetched 1,000 rows at a time. */
export function undeliverableCsv(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let after: string | null = null;
  let headerSent = false;
  let done = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!headerSent) {
        headerSent = true;
        controller.enqueue(encoder.encode(CSV_HEADER.join(",") + "\r\n"));
        return;
      }
      if (done) return controller.close();
      let q = query(deps, tenantId).orderBy("id").limit(1000);
      if (after) q = q.where("id", ">", after);
      const rows = await q.execute();
      if (rows.length < 1000) done = true;
      if (!rows.length) return controller.close();
      after = rows[rows.length - 1]!.id;
      const text = rows.map((r) =>
        [r.address, r.person_id ?? "", r.reason ?? "", new Date(r.since).toISOString()].map(csvCell)
          .join(",")
      ).join("\r\n") + "\r\n";
      controller.enqueue(encoder.encode(text));
    },
  });
}

/**
 * Unblocks a listed address by its id: a person's through clearUndeliverable (noted on the
 * timeline), one of no person here. Admins only (checked by the caller); the note goes to the
 * audit log either way.
 */
export async function clearListed(
  deps: Pick<AppDeps, "db" | "clock">,
  tenantId: string,
  id: string,
  actor: string,
  input: { note?: string | null } = {},
): Promise<{ id: string; address: string; person_id: string | null }> {
  const note = parseClearNote(input.note);
  if (!isUuid(id)) throw new AppError("not_found");
  const pa = await deps.db.selectFrom("person_addresses").select(["person_id", "address"])
    .where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst();
  if (pa) {
    await clearUndeliverable(deps, tenantId, pa.person_id, id, actor, { note });
    return { id, address: pa.address, person_id: pa.person_id };
  }
  const now = deps.clock();
  return await deps.db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom("suppressed_addresses")
      .select(["address", "reason", "suppressed_at"])
      .where("tenant_id", "=", tenantId).where("id", "=", id).forUpdate().executeTakeFirst();
    if (!row) throw new AppError("not_found");
    if (row.suppressed_at) {
      await trx.updateTable("suppressed_addresses")
        .set({ suppressed_at: null, cleared_at: now, cleared_by: actor })
        .where("tenant_id", "=", tenantId).where("id", "=", id).execute();
      await audit(trx, {
        tenantId,
        actor,
        action: "suppressed_address.clear",
        target: id,
        details: { address: row.address, reason: row.reason, ...(note ? { note } : {}) },
        at: now,
      });
    }
    return { id, address: row.address, person_id: null };
  });
}
