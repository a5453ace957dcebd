// Per-link clicks of one send, from the core's tracking events: each tracked link of the frozen
// content (by the position its click tokens carry) with its URL, its label, and unique and total
// clicks, people and machines apart. One grouped query on the tracking_events_send index.
import { sql } from "kysely";
import type { AppDeps } from "../../core/deps.ts";
import { AppError } from "../../core/errors.ts";
import { isUuid } from "../../core/db/ids.ts";
import { csvCell } from "../../core/http/csv.ts";
import { trackedAnchors } from "../../core/feedback/tracking.ts";
import { labelOf } from "./label.ts";

export interface Counts {
  total: number;
  unique: number;
}

export interface LinkRow {
  /** The link's position among the send's tracked links (0-based). */
  index: number;
  url: string;
  label: string;
  human: Counts;
  machine: Counts;
}

/** Every tracked link of the send, clicked or not, in order; a 404 if not the tenant's. */
export async function linkStats(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  sendId: string,
): Promise<LinkRow[]> {
  if (!isUuid(sendId)) throw new AppError("not_found");
  const send = await deps.db.selectFrom("sends").select("content")
    .where("tenant_id", "=", tenantId).where("id", "=", sendId).executeTakeFirst();
  if (!send) throw new AppError("not_found");
  const html = (send.content as { html?: unknown } | null)?.html;
  const rows: LinkRow[] = trackedAnchors(typeof html === "string" ? html : "").map((a, i) => ({
    index: i,
    url: a.url,
    label: labelOf(a.attributes),
    human: { total: 0, unique: 0 },
    machine: { total: 0, unique: 0 },
  }));
  const events = await sql<
    { link: number | null; url: string | null; machine: boolean; total: string; uniq: string }
  >`
    select link, min(url) as url, machine, count(*) as total, count(distinct queue_id) as uniq
    from tracking_events
    where tenant_id = ${tenantId} and send_id = ${sendId} and kind = 'click'
    group by link, machine`.execute(deps.db);
  for (const e of events.rows) {
    if (e.link === null) continue;
    const index = Number(e.link);
    let row = rows[index];
    if (!row) {
      // Only if the content and its events disagree; still counted, never silently lost.
      row = {
        index,
        url: e.url ?? "",
        label: "",
        human: { total: 0, unique: 0 },
        machine: { total: 0, unique: 0 },
      };
      rows[index] = row;
    }
    row[e.machine ? "machine" : "human"] = { total: Number(e.total), unique: Number(e.uniq) };
  }
  return rows.filter(Boolean);
}

export const CSV_COLUMNS = [
  "link",
  "url",
  "label",
  "human_unique",
  "human_total",
  "machine_unique",
  "machine_total",
];

/** The table as CSV (UTF-8, CRLF, header row), cells defused for spreadsheets. */
export function linkStatsCsv(rows: LinkRow[]): string {
  const lines = rows.map((r) =>
    [
      String(r.index + 1),
      r.url,
      r.label,
      String(r.human.unique),
      String(r.human.total),
      String(r.machine.unique),
      String(r.machine.total),
    ].map(csvCell).join(",")
  );
  return [CSV_COLUMNS.join(","), ...lines].join("\r\n") + "\r\n";
}
