// The segment compiler: a condition tree → SQL over `persons as p`: left joins of at most one row
// per person, and one predicate.
import {
  type AliasedRawBuilder,
  type Kysely,
  type RawBuilder,
  type SelectQueryBuilder,
  sql,
  type SqlBool,
} from "kysely";
import type { CustomFieldsTable, DB } from "../db/schema.ts";
import { jsonb } from "../db/json.ts";
import { AppError, type FieldIssue } from "../errors.ts";
import {
  type Condition,
  type DateRange,
  type FieldCondition,
  type Group,
  isGroup,
  type Match,
  type PersonField,
} from "./segment_definition.ts";

type Db = Kysely<DB>;
type Bool = RawBuilder<SqlBool>;
type FieldType = CustomFieldsTable["type"];

/**
 * Adds a segment's joins and filter to a query over `persons as p` (any select list):
 * `filter(db.selectFrom("persons as p").select("p.id"))`. The joins are aliased seg_1, seg_2, …
 * and yield at most one row per person, so the query still has one row per matching person.
 */
export type SegmentFilter = <QB extends AnySelect>(qb: QB) => QB;
// deno-lint-ignore no-explicit-any -- the filter keeps the caller's exact builder type
type AnySelect = SelectQueryBuilder<any, any, any>;

interface Join {
  alias: string;
  table: AliasedRawBuilder<unknown, string>;
  on: Bool;
}

/** What a tree refers to outside itself, loaded once per compile, and the joins it needs. */
export interface Context {
  tenantId: string;
  timeZone: string;
  fields: Map<string, FieldType>;
  lists: Set<string>;
  issues: FieldIssue[];
  joins: Map<string, Join>;
}

/** A compiled part and a rough cost, so cheap tests run first and short-circuit dear ones. */
export interface Part {
  sql: Bool;
  cost: number;
}

/** `\`, `%` and `_` in user text match themselves (backslash is PostgreSQL's LIKE escape). */
export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function walk(g: Group, visit: (c: Condition) => void): void {
  for (const c of g.conditions) isGroup(c) ? walk(c, visit) : visit(c);
}

export async function loadContext(
  db: Db,
  tenantId: string,
  defs: Group[],
): Promise<Context> {
  const keys = new Set<string>();
  const lists = new Set<string>();
  for (const def of defs) {
    walk(def, (c) => {
      if ("field" in c && c.field.startsWith("custom.")) keys.add(c.field.slice(7));
      if ("list" in c) lists.add(c.list);
    });
  }
  const [tenant, fields, found] = await Promise.all([
    db.selectFrom("tenants").select("time_zone").where("id", "=", tenantId).executeTakeFirst(),
    keys.size
      ? db.selectFrom("custom_fields").select(["key", "type"]).where("tenant_id", "=", tenantId)
        .where("key", "in", [...keys]).execute()
      : [],
    lists.size
      ? db.selectFrom("lists").select("id").where("tenant_id", "=", tenantId)
        .where("id", "in", [...lists]).execute()
      : [],
  ]);
  if (!tenant) throw new AppError("not_found");
  return {
    tenantId,
    timeZone: tenant.time_zone,
    fields: new Map(fields.map((f) => [f.key, f.type])),
    lists: new Set(found.map((l) => l.id)),
    issues: [],
    joins: new Map(),
  };
}

/**
 * "p is in this set of person ids" (list members, persons with an address) as a left join added
 * once per compile: a hash join, parallel, spilling to disk when big. Not EXISTS or IN: under OR,
 * PostgreSQL evaluates those per row, and a set too big to hash in memory is then probed (EXISTS)
 * or even scanned (IN) once per person.
 */
function inSet(ctx: Context, key: string, ids: RawBuilder<unknown>): Bool {
  let join = ctx.joins.get(key);
  if (!join) {
    const alias = `seg_${ctx.joins.size + 1}`;
    join = {
      alias,
      table: sql`(${ids})`.as(alias),
      on: sql<SqlBool>`${sql.ref(`${alias}.person_id`)} = p.id`,
    };
    ctx.joins.set(key, join);
  }
  return sql<SqlBool>`${sql.ref(`${join.alias}.person_id`)} is not null`;
}

export function listMembers(ctx: Context, listIds: string[]): Bool {
  // One row per person: (tenant, list, person) is the primary key, and distinct covers a person
  // in two of the lists.
  const ids = listIds.length === 1
    ? sql`select m.person_id from list_members m
        where m.tenant_id = ${ctx.tenantId} and m.list_id = ${listIds[0]}`
    : sql`select distinct m.person_id from list_members m
        where m.tenant_id = ${ctx.tenantId} and m.list_id in (${sql.join(listIds)})`;
  return inSet(ctx, `lists:${[...listIds].sort().join(",")}`, ids);
}

function hasAddress(ctx: Context, type: string | undefined): Bool {
  const typed = type === undefined ? sql`` : sql` and a.type = ${type}`;
  return inSet(
    ctx,
    `address:${type ?? "*"}`,
    sql`select distinct a.person_id from person_addresses a
      where a.tenant_id = ${ctx.tenantId}${typed}`,
  );
}

export const never: Bool = sql<SqlBool>`false`;

export function compileGroup(ctx: Context, g: Group, path: string): Part {
  if (!g.conditions.length) return { sql: g.op === "and" ? sql<SqlBool>`true` : never, cost: 0 };
  const parts = g.conditions.map((c, i) => {
    const at = `${path}conditions.${i}`;
    return isGroup(c) ? compileGroup(ctx, c, `${at}.`) : compileCondition(ctx, c, at);
  }).sort((a, b) => a.cost - b.cost);
  return {
    sql: sql<SqlBool>`(${sql.join(parts.map((p) => p.sql), sql` ${sql.raw(g.op)} `)})`,
    cost: parts.reduce((n, p) => n + p.cost, 0),
  };
}

function not(b: Bool): Bool {
  return sql<SqlBool>`not ${b}`;
}

function compileCondition(ctx: Context, c: Condition, at: string): Part {
  const issue = (field: string, code: string): Part => {
    ctx.issues.push({ path: `${at}.${field}`, code, message: "" });
    return { sql: never, cost: 0 };
  };
  if ("field" in c) return compileField(ctx, c, at);
  if ("tag" in c) {
    const has = sql<SqlBool>`p.tags @> array[${c.tag}]::text[]`;
    return { sql: c.has ? has : not(has), cost: 2 };
  }
  if ("list" in c) {
    if (!ctx.lists.has(c.list)) return issue("list", "unknown_list");
    const member = listMembers(ctx, [c.list]);
    return { sql: c.member ? member : not(member), cost: 1 };
  }
  if ("created" in c) return { sql: compileRange(ctx, sql`p.created_at`, c.created), cost: 2 };
  if ("updated" in c) return { sql: compileRange(ctx, sql`p.updated_at`, c.updated), cost: 2 };
  if ("has_address" in c) {
    const has = hasAddress(ctx, c.type);
    return { sql: c.has_address ? has : not(has), cost: 1 };
  }
  return issue("mailing", "mailings_not_available");
}

/** The text a field condition reads: never null, so negations need no null handling. */
const PERSON_TEXT: Record<PersonField, RawBuilder<string>> = {
  // Written exactly as the expression of the persons_name_trgm index, so contains can use it.
  name: sql`(p.first_name || ' ' || p.last_name)`,
  first_name: sql`p.first_name`,
  last_name: sql`p.last_name`,
  organisation: sql`p.organisation`,
  title: sql`p.title`,
  language: sql`coalesce(p.language, '')`,
};

function compileField(ctx: Context, c: FieldCondition, at: string): Part {
  const v = c.value ?? "";
  if (!c.field.startsWith("custom.")) {
    const text = PERSON_TEXT[c.field as PersonField];
    const empty = c.field === "name"
      ? sql<SqlBool>`(p.first_name = '' and p.last_name = '')`
      : sql<SqlBool>`${text} = ''`;
    return textMatch(text, c.match, v, empty);
  }
  const key = c.field.slice(7);
  const type = ctx.fields.get(key);
  const issue = (field: string, code: string): Part => {
    ctx.issues.push({ path: `${at}.${field}`, code, message: "" });
    return { sql: never, cost: 0 };
  };
  if (!type) return issue("field", "unknown_field");
  const text = sql<string>`coalesce(p.custom ->> ${key}, '')`;
  const empty = sql<SqlBool>`${text} = ''`;
  if (type === "text") return textMatch(text, c.match, v, empty);
  if (c.match === "is_empty") return { sql: empty, cost: 3 };
  if (c.match === "is_not_empty") return { sql: not(empty), cost: 3 };
  if (c.match !== "equals" && c.match !== "not_equals") return issue("match", "text_only");
  const typed = typedValue(type, v);
  if (typed === undefined) return issue("value", `expected_${type}`);
  // Containment compares JSON values (5 equals 5.0) and can use a GIN index on custom.
  const equals = sql<SqlBool>`p.custom @> ${jsonb({ [key]: typed })}`;
  return { sql: c.match === "equals" ? equals : not(equals), cost: 3 };
}

function typedValue(type: Exclude<FieldType, "text">, v: string): unknown {
  switch (type) {
    case "number":
      return /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : undefined;
    case "boolean":
      return v === "true" ? true : v === "false" ? false : undefined;
    case "date":
      return /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(v)) ? v : undefined;
  }
}

/** Case-insensitive on both sides, lowered by PostgreSQL so both sides fold the same way. */
function textMatch(text: RawBuilder<string>, match: Match, v: string, empty: Bool): Part {
  const lowered = sql`lower(${text})`;
  const like = (pattern: string) => sql<SqlBool>`${lowered} like lower(${pattern})`;
  switch (match) {
    case "equals":
      return { sql: sql<SqlBool>`${lowered} = lower(${v})`, cost: 3 };
    case "not_equals":
      return { sql: not(sql<SqlBool>`${lowered} = lower(${v})`), cost: 3 };
    case "contains":
      return { sql: like(`%${escapeLike(v)}%`), cost: 5 };
    case "not_contains":
      return { sql: not(like(`%${escapeLike(v)}%`)), cost: 5 };
    case "starts_with":
      return { sql: like(`${escapeLike(v)}%`), cost: 4 };
    case "is_empty":
      return { sql: empty, cost: 2 };
    case "is_not_empty":
      return { sql: not(empty), cost: 2 };
  }
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function nextDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** Days are the tenant's local days, both ends included; date-times are exact instants. */
function compileRange(ctx: Context, column: RawBuilder<unknown>, r: DateRange): Bool {
  const dayStart = (day: string) => sql`(${day}::date::timestamp at time zone ${ctx.timeZone})`;
  const parts: Bool[] = [];
  if (r.from) {
    parts.push(
      DAY.test(r.from)
        ? sql<SqlBool>`${column} >= ${dayStart(r.from)}`
        : sql<SqlBool>`${column} >= ${r.from}::timestamptz`,
    );
  }
  if (r.to) {
    parts.push(
      DAY.test(r.to)
        ? sql<SqlBool>`${column} < ${dayStart(nextDay(r.to))}`
        : sql<SqlBool>`${column} <= ${r.to}::timestamptz`,
    );
  }
  return sql<SqlBool>`(${sql.join(parts, sql` and `)})`;
}

export function throwIssues(ctx: Context): void {
  if (ctx.issues.length) throw new AppError("validation", {}, ctx.issues);
}

export function filterOf(
  ctx: Context,
  tree: Bool,
  opts: { activeOnly: boolean },
): SegmentFilter {
  const joins = [...ctx.joins.values()];
  const status = opts.activeOnly ? sql` and p.status = 'active'` : sql``;
  const where = sql<SqlBool>`(p.tenant_id = ${ctx.tenantId}${status} and ${tree})`;
  return function segmentFilter<QB extends AnySelect>(qb: QB): QB {
    let q: AnySelect = qb;
    for (const j of joins) q = q.leftJoin(j.table, (jb) => jb.on(j.on));
    return q.where(where) as QB;
  };
}
