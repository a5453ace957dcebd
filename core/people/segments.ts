// Segments: saved, dynamic audiences compiled to SQL (segment_sql.ts), so counting, previewing
// and expanding an audience never load persons into memory.
import { type Expression, type Kysely, type RawBuilder, sql, type SqlBool } from "kysely";
import type { AppDeps } from "../deps.ts";
import type { DB } from "../db/schema.ts";
import { isUuid } from "../db/ids.ts";
import { AppError } from "../errors.ts";
import { type Page, pageQuery, type PageRequest } from "../http/pagination.ts";
import { SegmentDefinition } from "./segment_definition.ts";
import {
  compileGroup,
  type Context,
  filterOf,
  listMembers,
  loadContext,
  never,
  type SegmentFilter,
  throwIssues,
} from "./segment_sql.ts";

export { escapeLike, type SegmentFilter } from "./segment_sql.ts";

type Db = Kysely<DB>;
type Bool = RawBuilder<SqlBool>;

/**
 * Validates a definition against the tenant's data (custom fields, lists) and compiles it. Only
 * active persons of the tenant ever match. Issues name their path, prefixed with `opts.path`
 * (e.g. "definition").
 */
export async function compileSegment(
  db: Db,
  tenantId: string,
  def: unknown,
  opts: { path?: string } = {},
): Promise<SegmentFilter> {
  const tree = SegmentDefinition.parse(def);
  const ctx = await loadContext(db, tenantId, [tree]);
  const compiled = compileGroup(ctx, tree, opts.path ? `${opts.path}.` : "");
  throwIssues(ctx);
  return filterOf(ctx, compiled.sql, { activeOnly: true });
}

export async function countSegment(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  def: unknown,
): Promise<number> {
  const filter = await compileSegment(deps.db, tenantId, def);
  const row = await filter(deps.db.selectFrom("persons as p").select(sql<number>`count(*)`.as("n")))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export interface SegmentPerson {
  id: string;
  first_name: string;
  last_name: string;
  organisation: string;
  primary_address: string | null;
}

/** A page of the persons a definition matches, in id order, with their primary address. */
export async function previewSegment(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  def: unknown,
  page: PageRequest,
): Promise<Page<SegmentPerson>> {
  const filter = await compileSegment(deps.db, tenantId, def);
  const qb = deps.db.selectFrom("persons as p")
    .select((eb) => [
      "p.id",
      "p.first_name",
      "p.last_name",
      "p.organisation",
      eb.selectFrom("person_addresses as a").select("a.address")
        .whereRef("a.tenant_id", "=", "p.tenant_id").whereRef("a.person_id", "=", "p.id")
        .where("a.is_primary", "=", true).as("primary_address"),
    ]);
  // The joins add no column named id, so pageQuery's bare "id" is p.id.
  return await pageQuery(filter(qb), page);
}

/** Where a send's audience comes from: any of these, each person once. */
export interface AudienceSources {
  segments?: string[];
  lists?: string[];
  /** Persons picked one by one; ids that are not the tenant's persons match no one. */
  persons?: string[];
}

/** The OR of all sources over `p`, or null when there are none; unknown ids are not_found. */
async function compileSources(
  db: Db,
  tenantId: string,
  src: AudienceSources,
): Promise<{ ctx: Context; any: Bool } | null> {
  const segs = [...new Set(src.segments ?? [])];
  const lists = [...new Set(src.lists ?? [])];
  const persons = [...new Set(src.persons ?? [])].filter(isUuid);
  if (!segs.length && !lists.length && !src.persons?.length) return null;
  const [rows, found] = await Promise.all([
    segs.length && segs.every(isUuid)
      ? db.selectFrom("segments").select(["id", "definition"]).where("tenant_id", "=", tenantId)
        .where("id", "in", segs).execute()
      : [],
    lists.length && lists.every(isUuid)
      ? db.selectFrom("lists").select("id").where("tenant_id", "=", tenantId)
        .where("id", "in", lists).execute()
      : [],
  ]);
  const foundSegs = new Set(rows.map((r) => r.id));
  const foundLists = new Set(found.map((r) => r.id));
  const missing = {
    segments: segs.filter((id) => !foundSegs.has(id)),
    lists: lists.filter((id) => !foundLists.has(id)),
  };
  if (missing.segments.length || missing.lists.length) throw new AppError("not_found", {}, missing);

  const defs = rows.map((r) => SegmentDefinition.parse(r.definition));
  const ctx = await loadContext(db, tenantId, defs);
  const parts = defs.map((d, i) => compileGroup(ctx, d, `segments.${rows[i]!.id}.`));
  throwIssues(ctx);
  if (lists.length) parts.push({ sql: listMembers(ctx, lists), cost: 1 });
  if (persons.length) parts.push({ sql: sql<SqlBool>`p.id in (${sql.join(persons)})`, cost: 1 });
  parts.sort((a, b) => a.cost - b.cost);
  const any = parts.length
    ? sql<SqlBool>`(${sql.join(parts.map((p) => p.sql), sql` or `)})`
    : never;
  return { ctx, any };
}

/**
 * The active persons in any of the given segments or lists, each once, as a select of
 * `person_id` for an `INSERT … SELECT`. One row per person by construction: it reads persons once
 * with one OR-ed predicate (and joins of at most one row per person), so overlaps never
 * duplicate. Unknown ids are not_found.
 */
export async function audienceQuery(
  db: Db,
  tenantId: string,
  segmentIds: string[],
  listIds: string[],
) {
  const src = { segments: segmentIds, lists: listIds };
  const compiled = await compileSources(db, tenantId, src);
  const ctx = compiled?.ctx ?? await loadContext(db, tenantId, []);
  return filterOf(ctx, compiled?.any ?? never, { activeOnly: true })(
    db.selectFrom("persons as p").select("p.id as person_id"),
  );
}

export type AudienceQuery = Awaited<ReturnType<typeof audienceQuery>>;

/**
 * The same audience as one predicate over `persons p`, for SQL written by hand, with every status
 * included so the caller can count who is left out and why. Null when no source is given;
 * unknown segment or list ids are not_found. Valid anywhere: in a WHERE's top-level AND it
 * becomes a hash semi-join (a million persons in about a second); elsewhere (a CASE) PostgreSQL
 * probes it per person by primary key.
 */
export async function audiencePredicate(
  db: Db,
  tenantId: string,
  src: AudienceSources,
): Promise<Expression<SqlBool> | null> {
  const compiled = await compileSources(db, tenantId, src);
  if (!compiled) return null;
  // Inside the derived table `p` is its own persons row; outside it, the caller's.
  const members = filterOf(compiled.ctx, compiled.any, { activeOnly: false })(
    db.selectFrom("persons as p").select("p.id"),
  );
  return sql<SqlBool>`exists (select 1 from ${members} as audience where audience.id = p.id)`;
}
