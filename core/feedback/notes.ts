// The automatic contact note per mailing recipient: created on the first event a message causes,
// then stamped (first time only) as sent, delivered, opened, clicked, bounced, unsubscribed and
// complained arrive, with a bounded list of details (the link clicked, the bounce reason).
import { type Kysely, sql, type Transaction } from "kysely";
import type { DB } from "../db/schema.ts";

export const NOTE_EVENTS = [
  "sent",
  "delivered",
  "opened",
  "clicked",
  "bounced",
  "unsubscribed",
  "complained",
] as const;
export type NoteEvent = (typeof NOTE_EVENTS)[number];

export interface NoteEventInput {
  /** The send_queue row the event is about. */
  queueId: string;
  event: NoteEvent;
  at: Date;
  /** Shown on the note, e.g. the URL clicked or a bounce reason; cut to DETAIL_CHARS. */
  detail?: string;
}

/** A note keeps at most this many details, each at most DETAIL_CHARS long. */
export const MAX_DETAILS = 20;
export const DETAIL_CHARS = 300;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Applies a batch of events to the recipients' notes in one statement: events are joined to their
 * queue rows and sends, grouped per (person, mailing), and upserted. Stamps keep the first time;
 * details are appended without repeats up to MAX_DETAILS. The note's mailing_id is the send's
 * mailing_id, or the send id for a send without a mailing. Raw-address recipients (no person),
 * test sends and transactional mail get no note; unknown queue ids are ignored.
 */
export async function applyNoteEvents(
  db: Kysely<DB> | Transaction<DB>,
  tenantId: string,
  events: NoteEventInput[],
): Promise<void> {
  const ok = events.filter((e) =>
    UUID.test(e.queueId) && (NOTE_EVENTS as readonly string[]).includes(e.event) &&
    e.at instanceof Date && !Number.isNaN(e.at.getTime())
  );
  if (!ok.length) return;
  const ids = ok.map((e) => e.queueId);
  const kinds = ok.map((e) => e.event);
  const ats = ok.map((e) => e.at.toISOString());
  // CR/LF and other controls out: a detail is one line on a page.
  const details = ok.map((e) => {
    const d = (e.detail ?? "").replace(/[\p{Cc}\p{Cf}]+/gu, " ").trim();
    return d ? `${e.event}:${d}`.slice(0, DETAIL_CHARS) : null;
  });
  const stamp = (event: NoteEvent) => sql.raw(`min(at) filter (where event = '${event}')`);
  const keep = (col: string) => sql.raw(`${col} = coalesce(n.${col}, excluded.${col})`);
  await sql`
    with ev as (
      select * from unnest(${ids}::uuid[], ${kinds}::text[], ${ats}::timestamptz[],
        ${details}::text[]) as e(queue_id, event, at, detail)
    ),
    j as (
      select q.person_id, coalesce(s.mailing_id, s.id) as mailing_id,
        left(s.content->>'subject', 998) as subject, e.event, e.at, e.detail
      from ev e
      join send_queue q on q.tenant_id = ${tenantId} and q.id = e.queue_id
      join sends s on s.tenant_id = ${tenantId} and s.id = q.send_id
      join persons p on p.tenant_id = ${tenantId} and p.id = q.person_id
      where s.kind <> 'transactional' and not s.is_test and p.status <> 'purged'
    ),
    agg as (
      select person_id, mailing_id, min(subject) as subject, min(at) as first_at,
        ${stamp("sent")} as sent_at, ${stamp("delivered")} as delivered_at,
        ${stamp("opened")} as opened_at, ${stamp("clicked")} as clicked_at,
        ${stamp("bounced")} as bounced_at, ${stamp("unsubscribed")} as unsubscribed_at,
        ${stamp("complained")} as complained_at,
        coalesce((array_agg(distinct detail) filter (where detail is not null))
          [1:${sql.lit(MAX_DETAILS)}], '{}') as details
      from j group by person_id, mailing_id
    )
    insert into contact_notes as n (tenant_id, id, person_id, kind, mailing_id, subject,
      sent_at, delivered_at, opened_at, clicked_at, bounced_at, unsubscribed_at, complained_at,
      details, created_at, updated_at)
    select ${tenantId}, skicka_uuidv7(), person_id, 'mailing', mailing_id, subject,
      sent_at, delivered_at, opened_at, clicked_at, bounced_at, unsubscribed_at, complained_at,
      details, first_at, first_at
    from agg
    on conflict (tenant_id, mailing_id, person_id) where mailing_id is not null do update set
      ${keep("sent_at")}, ${keep("delivered_at")}, ${keep("opened_at")}, ${keep("clicked_at")},
      ${keep("bounced_at")}, ${keep("unsubscribed_at")}, ${keep("complained_at")},
      details = (n.details || array(select d from unnest(excluded.details) d
        where not d = any(n.details)))[1:${sql.lit(MAX_DETAILS)}],
      updated_at = greatest(n.updated_at, excluded.updated_at)`.execute(db);
}

/** A stored detail split back into its event and text (for showing it translated). */
export function parseDetail(d: string): { event: string; text: string } {
  const i = d.indexOf(":");
  return i < 0 ? { event: "", text: d } : { event: d.slice(0, i), text: d.slice(i + 1) };
}
