// Who a mailing reaches, counted in SQL before sending: the total after dedupe, the exclusions by
// reason (the same SQL as expandSend, from send/expansion.ts), and which merge fields will not
// resolve for how many recipients. The audience is never loaded into memory.
import { type Kysely, type RawBuilder, sql, type SqlBool } from "kysely";
import type { AppDeps } from "../deps.ts";
import type { DB } from "../db/schema.ts";
import { normalizeAddress } from "../people/address.ts";
import type { Audience, ExclusionReason } from "../send/queue.ts";
import { candidatesSql, collectRules, mailingSendKind, selectedSql } from "../send/expansion.ts";
import { unsubscribedAddresses, unsubscribedPredicate } from "../feedback/unsubscribe.ts";
import { blockedAddresses } from "../feedback/blocked.ts";
import { type FieldUse, findMergeFields } from "./merge_fields.ts";

type Db = Kysely<DB>;

/** The candidates as expandSend decides them, with the tenant's plugins' rules. */
async function candidates(
  deps: CountDeps,
  tenantId: string,
  audience: Audience,
  opts: { subscriptionTypeId?: string | null; mailingId?: string | null; personColumns?: boolean },
) {
  const kind = mailingSendKind(audience);
  const rules = await collectRules(deps, {
    tenantId,
    kind,
    mailingId: opts.mailingId ?? null,
    sendId: null,
    at: deps.clock?.() ?? new Date(),
  }, audience);
  const unsubscribed = kind === "mass"
    ? unsubscribedPredicate(tenantId, { typeId: opts.subscriptionTypeId ?? null }, {
      personId: sql.ref("p.id"),
      addressKey: sql.ref("a.address_key"),
    })
    : sql<SqlBool>`false`;
  const cand = await candidatesSql(deps.db, tenantId, audience, {
    unsubscribed,
    rules,
    personColumns: opts.personColumns,
  });
  return {
    cand,
    selected: selectedSql(rules),
    /** Raw addresses unsubscribed from this mailing's type (mass mail only), as expandSend. */
    unsubscribed: (keys: string[]) =>
      kind === "mass"
        ? unsubscribedAddresses(
          deps.db,
          tenantId,
          { typeId: opts.subscriptionTypeId ?? null },
          keys,
        )
        : Promise.resolve(new Set<string>()),
  };
}

/** Enough of AppDeps to count: the registry lets the tenant's plugins add their rules. */
export type CountDeps = Pick<AppDeps, "db"> & Partial<Pick<AppDeps, "registry" | "clock">>;

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
  deps: CountDeps,
  tenantId: string,
  audience: Audience,
  opts: { subscriptionTypeId?: string | null; mailingId?: string | null } = {},
): Promise<RecipientCount> {
  const excluded: Partial<Record<ExclusionReason, number>> = {};
  let persons = 0;
  const { cand, selected, unsubscribed } = await candidates(deps, tenantId, audience, opts);
  if (cand) {
    // Without a sample one pass counts everything; a sample needs the eligible rows twice.
    const rows = await sql<{ reason: string | null; n: number }>`
      with cand as (${cand})
      ${
      selected.sampleReason
        ? sql`select reason, count(*)::int as n from cand where reason is not null group by reason
          union all select null, count(*)::int from (${selected.sql}) s
          union all select '', count(*)::int from cand where reason is null`
        : sql`select reason, count(*)::int as n from cand group by reason`
    }`.execute(deps.db);
    let eligible = 0;
    for (const r of rows.rows) {
      if (r.reason === null) persons = Number(r.n);
      else if (r.reason === "") eligible = Number(r.n);
      else excluded[r.reason as ExclusionReason] = Number(r.n);
    }
    if (selected.sampleReason && eligible > persons) {
      excluded[selected.sampleReason as ExclusionReason] = eligible - persons;
    }
  }
  const raw = await rawAddresses(
    deps.db,
    tenantId,
    audience,
    cand && sql`with cand as (${cand}) ${selected.sql}`,
    unsubscribed,
  );
  if (raw.invalid) excluded.invalid_address = raw.invalid;
  if (raw.undeliverable) {
    excluded.undeliverable = (excluded.undeliverable ?? 0) + raw.undeliverable;
  }
  if (raw.unsubscribed) {
    excluded.unsubscribed = (excluded.unsubscribed ?? 0) + raw.unsubscribed;
  }
  return { total: persons + raw.fresh.length, persons, addresses: raw.fresh.length, excluded };
}

/**
 * Raw addresses split as expandSend does: invalid, already reached (`reached`: the persons that
 * will be sent to, person_id and address), undeliverable, fresh.
 */
async function rawAddresses(
  db: Db,
  tenantId: string,
  audience: Audience,
  reached: RawBuilder<unknown> | null,
  unsubscribedOf: (keys: string[]) => Promise<Set<string>>,
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
  if (!valid.length) {
    return { invalid, undeliverable: 0, unsubscribed: 0, fresh: [] as typeof valid };
  }
  const keys = valid.map((a) => a.key);
  const already = reached
    ? new Set(
      (await sql<{ k: string }>`select lower(address) as k from (${reached}) s
        where lower(address) in (${sql.join(keys)})`.execute(db)).rows.map((r) => r.k),
    )
    : new Set<string>();
  const blocked = await blockedAddresses(db, tenantId, keys);
  const unsub = await unsubscribedOf(keys);
  const fresh = valid.filter((a) =>
    !already.has(a.key) && !blocked.has(a.key) && !unsub.has(a.key)
  );
  const unsubscribed = [...unsub].filter((k) => !blocked.has(k)).length;
  return { invalid, undeliverable: blocked.size, unsubscribed, fresh };
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
  deps: CountDeps,
  tenantId: string,
  mailing: {
    id?: string;
    subject: string;
    preheader: string;
    body_html: string;
    recipients: Audience;
    subscription_type_id?: string | null;
  },
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
  const { cand, selected, unsubscribed } = await candidates(deps, tenantId, mailing.recipients, {
    subscriptionTypeId: mailing.subscription_type_id,
    mailingId: mailing.id,
    personColumns: true,
  });
  const missingByField = new Map<string, number>();
  let persons = 0;
  if (cand) {
    const counts = personFields.map((u, i) =>
      sql`count(*) filter (where ${fieldValue(u.name)!} = '')::int as ${sql.ref(`f${i}`)}`
    );
    const row = (await sql<Record<string, number>>`with cand as (${cand})
      select ${sql.join([sql`count(*)::int as n`, ...counts])}
      from cand p where reason is null${
      selected.sampleReason
        ? sql` and p.person_id in (select person_id from (${selected.sql}) s)`
        : sql``
    }`.execute(deps.db)).rows[0] ?? {};
    persons = Number(row.n ?? 0);
    personFields.forEach((u, i) => missingByField.set(u.name, Number(row[`f${i}`] ?? 0)));
  }
  const raw = await rawAddresses(
    deps.db,
    tenantId,
    mailing.recipients,
    cand && sql`with cand as (${cand}) ${selected.sql}`,
    unsubscribed,
  );
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
