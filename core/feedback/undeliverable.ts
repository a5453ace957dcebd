// The tenant's undeliverable addresses, for customers cleaning their own registers: a cursor-paged
// list and a CSV stream that walks the table in keyset batches (never the whole list in memory).
import { csvCell } from "../http/csv.ts";
import type { AppDeps } from "../deps.ts";
import { type Page, pageQuery, type PageRequest } from "../http/pagination.ts";

export interface UndeliverableRow {
  /** The person_addresses id (the cursor walks it). */
  id: string;
  address: string;
  person_id: string;
  reason: string | null;
  since: Date;
}

function query(deps: Pick<AppDeps, "db">, tenantId: string) {
  return deps.db.selectFrom("person_addresses")
    .select([
      "id",
      "address",
      "person_id",
      "undeliverable_reason as reason",
      "undeliverable_at as since",
    ])
    .where("tenant_id", "=", tenantId).where("undeliverable_at", "is not", null)
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
        [r.address, r.person_id, r.reason ?? "", new Date(r.since).toISOString()].map(csvCell)
          .join(",")
      ).join("\r\n") + "\r\n";
      controller.enqueue(encoder.encode(text));
    },
  });
}
