// Who a send reaches, decided by SQL that expandSend (queue rows) and countRecipients (the count
// before sending) share, so the two always agree: the audience's persons, each with the address
// chosen for them and the reason they are left out — by the core's rules, then by the rules the
// tenant's plugins add through the expansionRules hook (address choice, exclusions, sampling).
// Nothing here loads the audience: the rules are SQL fragments put together once per send.
import { type Expression, type Kysely, type RawBuilder, sql, type SqlBool } from "kysely";
import type { AppDeps } from "../deps.ts";
import type { DB, SendKind } from "../db/schema.ts";
import { audiencePredicate } from "../people/segments.ts";
import type { Audience } from "./queue.ts";

/** What a plugin's expansionRules hook is asked about. */
export interface ExpansionContext {
  tenantId: string;
  kind: SendKind;
  /** The mailing the send comes from, if any. */
  mailingId: string | null;
  /** Null when only counting recipients before sending. */
  sendId: string | null;
  /** What the audience carries for this plugin (audience.plugins["<plugin name>"]), unvalidated. */
  options: unknown;
  at: Date;
}

/**
 * What a plugin adds to one send's expansion. SQL fragments may use `p` (the persons row) and,
 * in `exclude` and `address.condition`, `a` (the person_addresses row). A reason is counted in
 * the send's `excluded` as "<plugin name>.<reason>"; the UI labels it with the plugin's message
 * "exclusion.<reason>". Rules apply to persons only: raw-address recipients have no person data.
 */
export interface ExpansionRules {
  /** Checked after the core's own reasons, in order. */
  exclude?: { reason: string; when: RawBuilder<SqlBool> }[];
  /**
   * Persons to leave out, as a query returning a column `person_id` (checked after `exclude`).
   * Joined once, so PostgreSQL hashes it whatever its size: a per-row `p.id in (…)` inside the
   * reason CASE cannot become a join and, past work_mem, compares every person with every id.
   */
  excludeSets?: { reason: string; persons: RawBuilder<unknown> }[];
  /**
   * Send to the person's address that satisfies `condition` (SQL over `a` only; a deliverable
   * one first) instead of the primary. With none: the primary if `fallbackToPrimary`, else
   * excluded as `missingReason`. Only the first plugin's address rule counts.
   */
  address?: { condition: RawBuilder<SqlBool>; fallbackToPrimary?: boolean; missingReason: string };
  /**
   * Keep a sample of the eligible persons, ordered by `order` (SQL over the column `person_id`,
   * e.g. md5(seed || person_id::text) for a reproducible random sample): every `every`-th from
   * `start` (1-based), then at most `count` of them or `percent` % of the eligible. The eligible
   * left out are counted as `reason`. Only the first plugin's sample counts.
   */
  sample?: {
    order: RawBuilder<unknown>;
    every?: number;
    start?: number;
    count?: number;
    percent?: number;
    reason: string;
  };
}

export interface PluginRules {
  plugin: string;
  rules: ExpansionRules;
}

type Db = Kysely<DB>;

/** 'single' for exactly one person or one raw address, else 'mass' (as sendMailing decides). */
export function mailingSendKind(audience: Audience): SendKind {
  return !audience.segments.length && !audience.lists.length &&
      audience.persons.length + audience.addresses.length === 1
    ? "single"
    : "mass";
}

/** Asks the tenant's enabled plugins for their rules (none without a registry, as in benches). */
export async function collectRules(
  deps: Pick<AppDeps, "db"> & { registry?: AppDeps["registry"] },
  ctx: Omit<ExpansionContext, "options">,
  audience: Audience,
): Promise<PluginRules[]> {
  const registry = deps.registry;
  if (!registry || !registry.all().some((p) => p.hooks?.expansionRules)) return [];
  const out: PluginRules[] = [];
  await registry.runHook(
    "expansionRules",
    await registry.enabledForTenant(deps.db, ctx.tenantId),
    async (hook, plugin) => {
      const rules = await hook({ ...ctx, options: audience.plugins?.[plugin.name] });
      if (rules) out.push({ plugin: plugin.name, rules });
    },
  );
  return out;
}

const reasonOf = (r: PluginRules, reason: string) => `${r.plugin}.${reason}`;

/**
 * The candidate persons of an audience: `person_id`, `address` (the one chosen) and `reason`
 * (null: will be sent to), plus every persons column when `personColumns` (the merge-field
 * report reads them). Null when the audience names no persons source.
 */
export async function candidatesSql(
  db: Db,
  tenantId: string,
  audience: Audience,
  opts: {
    /** Unsubscribed from this send, over `p` and `a` (false for mail unsubscribes do not bind). */
    unsubscribed: Expression<SqlBool>;
    rules: PluginRules[];
    personColumns?: boolean;
  },
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
  const addressRule = opts.rules.find((r) => r.rules.address);
  const address = addressRule?.rules.address;
  // The default join is a hash join on the primary. A plugin's choice picks one address per
  // person in one pass over the tenant's matching addresses (distinct on), which the planner
  // hash-joins too — a lateral lookup per person cost ~4× the default on 500,000 persons. With
  // fallback a deliverable typed address comes first, then the primary, then a bounced typed one.
  const cond = address && sql<SqlBool>`coalesce((${address.condition}), false)`;
  const join = address
    ? sql`left join (
        select distinct on (a.person_id) a.* from person_addresses a
        where a.tenant_id = ${tenantId}
          and (${cond}${address.fallbackToPrimary ? sql` or a.is_primary` : sql``})
        order by a.person_id, (${cond} and a.undeliverable_at is null) desc, a.is_primary desc,
          ${cond} desc, a.address_key) a
        on a.tenant_id = p.tenant_id and a.person_id = p.id`
    : sql`left join person_addresses a
        on a.tenant_id = p.tenant_id and a.person_id = p.id and a.is_primary`;
  const noAddress = address && !address.fallbackToPrimary
    ? sql`when a.address is null and exists (select 1 from person_addresses x
          where x.tenant_id = p.tenant_id and x.person_id = p.id)
        then ${reasonOf(addressRule!, address.missingReason)}
        when a.address is null then 'no_address'`
    : sql`when a.address is null then 'no_address'`;
  const extra = opts.rules.flatMap((r) =>
    (r.rules.exclude ?? []).map((x) => sql`when ${x.when} then ${reasonOf(r, x.reason)}`)
  );
  const sets = opts.rules.flatMap((r) =>
    (r.rules.excludeSets ?? []).map((x) => ({ reason: reasonOf(r, x.reason), persons: x.persons }))
  );
  const setJoins = sets.map((x, i) => {
    const alias = sql.raw(`xs${i}`);
    return sql`left join (select distinct person_id from (${x.persons}) x) ${alias}
      on ${alias}.person_id = p.id`;
  });
  const setCases = sets.map((x, i) =>
    sql`when ${sql.raw(`xs${i}`)}.person_id is not null then ${x.reason}`
  );
  return sql`
    select ${opts.personColumns ? sql`p.*, ` : sql``}p.id as person_id, a.address,
      case
        when p.status <> 'active' then 'inactive'
        when ${exclude as Expression<SqlBool>} then 'excluded_segment'
        ${noAddress}
        when a.undeliverable_at is not null then 'undeliverable'
        when ${opts.unsubscribed} then 'unsubscribed'
        ${sql.join([...extra, ...setCases], sql` `)}
      end as reason
    from persons p
    ${join}
    ${sql.join(setJoins, sql` `)}
    where p.tenant_id = ${tenantId} and ${reach}`;
}

/**
 * The rows that will be sent to, from a CTE named `cand` built by candidatesSql: the eligible
 * ones, or a plugin's sample of them. `sampleReason` names the count of eligible left out.
 */
export function selectedSql(rules: PluginRules[]): {
  sql: RawBuilder<unknown>;
  sampleReason: string | null;
} {
  const owner = rules.find((r) => r.rules.sample);
  const s = owner?.rules.sample;
  if (!owner || !s) {
    return {
      sql: sql`select person_id, address from cand where reason is null`,
      sampleReason: null,
    };
  }
  const every = Math.max(1, Math.floor(s.every ?? 1));
  const start = Math.max(1, Math.floor(s.start ?? 1));
  const limits = [
    s.count !== undefined ? sql`kn <= ${Math.max(0, Math.floor(s.count))}` : null,
    s.percent !== undefined ? sql`kn <= ceil(n * ${s.percent}::numeric / 100)` : null,
  ].filter((x) => x !== null);
  return {
    sql: sql`select person_id, address from (
        select person_id, address, n, row_number() over (order by rn) as kn from (
          select person_id, address, count(*) over () as n,
            row_number() over (order by ${s.order}, person_id) as rn
          from cand where reason is null) r
        where rn >= ${start} and (rn - ${start}) % ${every} = 0) k
      where ${limits.length ? sql.join(limits, sql` and `) : sql`true`}`,
    sampleReason: reasonOf(owner, s.reason),
  };
}
