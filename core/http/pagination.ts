// Cursor pagination over time-ordered ids: stable under inserts, no OFFSET scans.
import type { SelectQueryBuilder } from "kysely";
import { z } from "zod";
import { base64url, fromBase64url } from "../crypto.ts";
import { isUuid } from "../db/ids.ts";
import { AppError } from "../errors.ts";

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});
export type PageRequest = z.output<typeof PageQuery>;

export interface Page<T> {
  items: T[];
  /** Pass as ?cursor= for the next page; null on the last page. */
  next_cursor: string | null;
}

export function encodeCursor(id: string): string {
  return base64url(new TextEncoder().encode(id));
}

export function decodeCursor(cursor: string): string {
  const bytes = fromBase64url(cursor);
  const id = bytes ? new TextDecoder().decode(bytes) : "";
  if (!isUuid(id)) {
    throw new AppError("bad_cursor", {}, [{ path: "cursor", code: "invalid", message: "" }]);
  }
  return id;
}

/** Applies the cursor and limit to a query over a table whose `id` is a UUIDv7. */
export async function pageQuery<T extends { id: string }>(
  // deno-lint-ignore no-explicit-any -- works for any table with an id column
  qb: SelectQueryBuilder<any, any, T>,
  page: PageRequest,
  opts: { newestFirst?: boolean } = {},
): Promise<Page<T>> {
  const desc = opts.newestFirst === true;
  let q = qb.orderBy("id", desc ? "desc" : "asc").limit(page.limit + 1);
  if (page.cursor) q = q.where("id", desc ? "<" : ">", decodeCursor(page.cursor));
  const rows = await q.execute();
  const more = rows.length > page.limit;
  const items = more ? rows.slice(0, page.limit) : rows;
  return { items, next_cursor: more ? encodeCursor(items[items.length - 1]!.id) : null };
}
