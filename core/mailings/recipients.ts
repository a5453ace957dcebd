// Who a mailing reaches, counted in SQL before sending: the total after dedupe, the exclusions by
// reason (the same rules as expandSend in send/queue.ts), and which merge fields will not
// resolve for how many recipients. The audience is never loaded into memory.
import { type Expression, type Kysely, type RawBuilder, sql, type SqlBool } from "kysely";
import type { AppDeps } from "../deps.ts";
import type { DB } from "../db/schema.ts";
import { normalizeAddress } from "../people/address.ts";
import { audiencePredicate } from "../people/segments.ts";
import type { Audience, ExclusionReason } from "../send/queue.ts";
import { type FieldUse, findMergeFields } from "./merge_fields.ts";

type Db = Kysely<DB>;

/**
 * The candidate persons of an audience with their primary address and the reason each is
 * excluded (null: will be sent to), as expandSend decides it. Null when no person source.
 */
async function candidates(
  db: Db,
  tenantId: string,
  audience: Audience,
): Promise<RawBuilder<unknown> | null> {
  const reach = await audiencePredicate(db, tenantId, {
    segments: audience.segments,
    lists: audience.lists,
    persons: audience.persons,
  });
  if (!reach) return null;
  const exclude = audience.exclude_segments.length
    ? await audiencePredicate(db, tenantId, { segments: audience.exclude_segments })
    : sql<SqlBool>`false`;
  return sql`
    select p.*, a.address,
      case
        when p.status <> 'active' then 'inactive'
        when ${exclude as Expression<SqlBool>} then 'excluded_segment'
        when a.address is null then 'no_address'
        when a.undeliverable_at is not null then 'undeliverable'
      end as reason
    from persons p
    left join person_addresses a
      on a.tenant_id = p.tenant_id and a.person_id = p.id and a.is_primary
    where p.tenant_id = ${tenantId} and ${reach}`;
}

export interface RecipientCount {
  /** Messages the send will queue: persons once each, plus raw addresses not already reached. */
  total: number;
  persons: number;
  /** Raw addresses that will be sent to (valid, not a reached person's, not undeliverable). */
  addresses: number;
  excluded: Partial<Record<ExclusionReason, number>>;
}

/** Counts as expandSend would queue, without queuing. */
export async function countRecipients(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  audience: Audience,
): Promise<RecipientCount> {
  const excluded: Partial<Record<ExclusionReason, number>> = {};
  let persons = 0;
  const cand = await candidates(deps.db, tenantId, audience);
  if (cand) {
    const rows = await sql<{ reason: string | null; n: number }>`
      with cand as (${cand})
      select reason, count(*)::int as n from cand group by reason`.execute(deps.db);
    for (const r of rows.rows) {
      if (r.reason === null) persons = Number(r.n);
      else excluded[r.reason as ExclusionReason] = Number(r.n);
    }
  }
  const raw = await rawAddresses(deps.db, tenantId, audience, cand);
  if (raw.invalid) excluded.invalid_address = raw.invalid;
  if (raw.undeliverable) {
    excluded.undeliverable = (excluded.undeliverable ?? 0) + raw.undeliverable;
  }
  return { total: persons + raw.fresh.length, persons, addresses: raw.fresh.length, excluded };
}

/** Raw addresses split as expandSend does: invalid, already reached, undeliverable, fresh. */
async function rawAddresses(
  db: Db,
  tenantId: string,
  audience: Audience,
  cand: RawBuilder<unknown> | null,
) {
  const seen = new Set<string>();
  let invalid = 0;
  const valid: { address: string; key: string }[] = [];
  for (const input of audience.addresses) {
    const a = normalizeAddress(input);
    if (!a.ok) invalid++;
    else if (!seen.has(a.key)) {
      seen.add(a.key);
      valid.push(a);
    }
  }
  if (!valid.length) return { invalid, undeliverable: 0, fresh: [] as typeof valid };
  const keys = valid.map((a) => a.key);
  const reached = cand
    ? new Set(
      (await sql<{ k: string }>`with cand as (${cand})
        select lower(address) as k from cand
        where reason is null and lower(address) in (${sql.join(keys)})`.execute(db)).rows
        .map((r) => r.k),
    )
    : new Set<string>();
  const blocked = new Set(
    (await db.selectFrom("person_addresses").select("address_key")
      .where("tenant_id", "=", tenantId).where("address_key", "in", keys)
      .where("undeliverable_at", "is not", null).execute()).map((r) => r.address_key),
  );
  const fresh = valid.filter((a) => !reached.has(a.key) && !blocked.has(a.key));
  return { invalid, undeliverable: blocked.size, fresh };
}

/** The SQL value of a person field (empty string when unset); null for fields always set. */
function fieldValue(name: string): RawBuilder<string> | null {
  switch (name) {
    case "firstname":
    case "first_name":
      return sql`p.first_name`;
    case "lastname":
    case "last_name":
      return sql`p.last_name`;
    case "name":
      return sql`trim(p.first_name || ' ' || p.last_name)`;
    case "organisation":
      return sql`p.organisation`;
    case "title":
      return sql`p.title`;
    case "language":
      return sql`coalesce(p.language, '')`;
    case "email":
      return null;
    default:
      return sql`coalesce(p.custom ->> ${name}, '')`;
  }
}

export interface FieldReport extends FieldUse {
  /** Recipients for whom the field is empty (they get the fallback, or nothing). */
  missing: number;
  /** A custom field that is not defined for the tenant: it resolves for nobody. */
  unknown: boolean;
}

export interface MergeReport {
  recipients: number;
  /** Raw-address recipients: they have no person data, so only `email` and fallbacks resolve. */
  raw_addresses: { total: number; without_person: number };
  fields: FieldReport[];
}

/**
 * The pre-send report: for each merge field the subject and body use, how many recipients have
 * no value. Person fields are counted in one SQL statement over the audience (a FILTER per
 * field); raw-address recipients have no person data and count as missing every person field.
 */
export async function mergeFieldReport(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  mailing: { subject: string; preheader: string; body_html: string; recipients: Audience },
): Promise<MergeReport> {
  const uses = findMergeFields([
    { path: "subject", source: mailing.subject },
    { path: "preheader", source: mailing.preheader },
    { path: "body_html", source: mailing.body_html },
  ]);
  const defined = new Set(
    (await deps.db.selectFrom("custom_fields").select("key").where("tenant_id", "=", tenantId)
      .execute()).map((r) => r.key),
  );
  const personFields = uses.filter((u) => u.kind !== "system" && fieldValue(u.name) !== null);
  const cand = await candidates(deps.db, tenantId, mailing.recipients);
  const missingByField = new Map<string, number>();
  let persons = 0;
  if (cand) {
    const counts = personFields.map((u, i) =>
      sql`count(*) filter (where ${fieldValue(u.name)!} = '')::int as ${sql.ref(`f${i}`)}`
    );
    const row = (await sql<Record<string, number>>`with cand as (${cand})
      select ${sql.join([sql`count(*)::int as n`, ...counts])}
      from cand p where reason is null`.execute(deps.db)).rows[0] ?? {};
    persons = Number(row.n ?? 0);
    personFields.forEach((u, i) => missingByField.set(u.name, Number(row[`f${i}`] ?? 0)));
  }
  const raw = await rawAddresses(deps.db, tenantId, mailing.recipients, cand);
  const withPerson = raw.fresh.length
    ? Number(
      (await deps.db.selectFrom("person_addresses").select((eb) => eb.fn.countAll().as("n"))
        .where("tenant_id", "=", tenantId)
        .where("address_key", "in", raw.fresh.map((a) => a.key)).executeTakeFirstOrThrow()).n,
    )
    : 0;
  return {
    recipients: persons + raw.fresh.length,
    raw_addresses: { total: raw.fresh.length, without_person: raw.fresh.length - withPerson },
    fields: uses.map((u) => ({
      ...u,
      unknown: u.kind === "custom" && !defined.has(u.name),
      missing: u.kind === "system" || fieldValue(u.name) === null
        ? 0
        : (missingByField.get(u.name) ?? 0) + raw.fresh.length,
    })),
  };
}
