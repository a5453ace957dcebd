// Static lists: named sets of persons that staff fill by hand or in bulk. Members are shown and
// counted only while active, so a soft-deleted person reappears in their lists on undo.
import { type Kysely, sql, type SqlBool } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import type { DB } from "../db/schema.ts";
import { isUuid, uuidv7 } from "../db/ids.ts";
import { AppError } from "../errors.ts";
import { audit } from "../tenants/audit.ts";
import {
  decodeCursor,
  encodeCursor,
  type Page,
  pageQuery,
  type PageRequest,
} from "../http/pagination.ts";
import { checkNameFree, withUniqueName } from "./unique_name.ts";
import { emitListMembersAdded } from "./list_events.ts";

type Deps = Pick<AppDeps, "db" | "clock">;
type Db = Kysely<DB>;

export const ListCreate = z.object({ name: z.string().trim().min(1).max(200) });
export type ListCreate = z.input<typeof ListCreate>;
export const ListPatch = ListCreate;
export type ListPatch = z.input<typeof ListPatch>;

/** Bulk changes take at most this many ids per call (bounded work per request). */
export const MAX_BULK = 10_000;
export const PersonIds = z.object({ person_ids: z.array(z.uuid()).min(1).max(MAX_BULK) });
export type PersonIds = z.input<typeof PersonIds>;

const LIST_COLUMNS = ["id", "name", "created_at", "updated_at"] as const;

export interface ListRow {
  id: string;
  name: string;
  created_at: Date;
  updated_at: Date;
}

export async function createList(
  deps: Deps,
  tenantId: string,
  input: ListCreate,
  actor: string,
): Promise<ListRow> {
  const v = ListCreate.parse(input);
  const now = deps.clock();
  return await withUniqueName(() =>
    deps.db.transaction().execute(async (trx) => {
      await checkNameFree(trx, "lists", { tenantId, name: v.name });
      const row = await trx.insertInto("lists").values({
        tenant_id: tenantId,
        id: uuidv7(),
        name: v.name,
        created_at: now,
        updated_at: now,
      }).returning(LIST_COLUMNS).executeTakeFirstOrThrow();
      await audit(trx, {
        tenantId,
        actor,
        action: "list.create",
        target: row.id,
        details: { name: v.name },
        at: now,
      });
      return row;
    })
  );
}

export async function findList(db: Db, tenantId: string, id: string): Promise<ListRow> {
  if (!isUuid(id)) throw new AppError("not_found");
  const row = await db.selectFrom("lists").select(LIST_COLUMNS).where("tenant_id", "=", tenantId)
    .where("id", "=", id).executeTakeFirst();
  if (!row) throw new AppError("not_found");
  return row;
}

/**
 * Puts these persons in the list, the active ones only, those already in it left as they are;
 * answers who was new to it. One INSERT … SELECT (staff adds, API adds and imports share it).
 */
export async function insertActiveMembers(
  db: Db,
  tenantId: string,
  listId: string,
  personIds: string[],
  at: Date,
): Promise<string[]> {
  if (!personIds.length) return [];
  const rows = await db.insertInto("list_members")
    .columns(["tenant_id", "list_id", "person_id", "added_at"])
    .expression(
      db.selectFrom("persons").select([
        "tenant_id",
        sql<string>`${listId}::uuid`.as("list_id"),
        "id",
        sql<Date>`${at}::timestamptz`.as("added_at"),
      ]).where("tenant_id", "=", tenantId).where("id", "in", personIds)
        .where("status", "=", "active"),
    )
    .onConflict((oc) => oc.doNothing()).returning("person_id").execute();
  return rows.map((r) => r.person_id);
}

/** Active members of a list. */
export async function countListMembers(db: Db, tenantId: string, listId: string) {
  const row = await db.selectFrom("list_members as m")
    .innerJoin(
      "persons as p",
      (j) => j.onRef("p.tenant_id", "=", "m.tenant_id").onRef("p.id", "=", "m.person_id"),
    )
    .select(sql<number>`count(*)`.as("n"))
    .where("m.tenant_id", "=", tenantId).where("m.list_id", "=", listId)
    .where("p.status", "=", "active").executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function getList(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  id: string,
): Promise<ListRow & { member_count: number }> {
  const row = await findList(deps.db, tenantId, id);
  return { ...row, member_count: await countListMembers(deps.db, tenantId, id) };
}

export async function listLists(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  page: PageRequest,
): Promise<Page<ListRow>> {
  return await pageQuery(
    deps.db.selectFrom("lists").select(LIST_COLUMNS).where("tenant_id", "=", tenantId),
    page,
  );
}

export async function renameList(
  deps: Deps,
  tenantId: string,
  id: string,
  patch: ListPatch,
  actor: string,
): Promise<ListRow> {
  const v = ListPatch.parse(patch);
  const before = await findList(deps.db, tenantId, id);
  const now = deps.clock();
  return await withUniqueName(() =>
    deps.db.transaction().execute(async (trx) => {
      await checkNameFree(trx, "lists", { tenantId, name: v.name, except: id });
      const row = await trx.updateTable("lists").set({ name: v.name, updated_at: now })
        .where("tenant_id", "=", tenantId).where("id", "=", id).returning(LIST_COLUMNS)
        .executeTakeFirst();
      if (!row) throw new AppError("not_found");
      await audit(trx, {
        tenantId,
        actor,
        action: "list.rename",
        target: id,
        details: { from: before.name, to: v.name },
        at: now,
      });
      return row;
    })
  );
}

/** Saved segments whose conditions name the list, at any depth. */
export async function segmentsUsingList(db: Db, tenantId: string, listId: string) {
  return await db.selectFrom("segments").select(["id", "name"])
    .where("tenant_id", "=", tenantId)
    .where(
      sql<SqlBool>`jsonb_path_exists(definition, '$.** ? (@.list == $id)',
        jsonb_build_object('id', ${listId}::text))`,
    )
    .orderBy("name").execute();
}

/** Deletes a list and its memberships; refused while a saved segment refers to it. */
export async function deleteList(
  deps: Deps,
  tenantId: string,
  id: string,
  actor: string,
): Promise<void> {
  const list = await findList(deps.db, tenantId, id);
  const now = deps.clock();
  await deps.db.transaction().execute(async (trx) => {
    const users = await segmentsUsingList(trx, tenantId, id);
    if (users.length) {
      throw new AppError("conflict", {}, { reason: "list_in_use", segments: users });
    }
    await trx.deleteFrom("lists").where("tenant_id", "=", tenantId).where("id", "=", id)
      .execute();
    await audit(trx, {
      tenantId,
      actor,
      action: "list.delete",
      target: id,
      details: { name: list.name },
      at: now,
    });
  });
}

export interface AddResult {
  /** Newly added. */
  added: number;
  /** Already members. */
  unchanged: number;
  /** Not persons of this tenant (other tenants' ids answer exactly like unknown ones). */
  not_found: string[];
  /** Deleted, deceased or purged persons: not added. */
  not_active: string[];
}

/**
 * Adds active persons of the tenant in one statement; anything else is reported, never added.
 * Plugins hear of the newly added once the transaction has committed (list_events.ts).
 */
export async function addListMembers(
  deps: Deps & Partial<Pick<AppDeps, "registry" | "log">>,
  tenantId: string,
  listId: string,
  input: PersonIds,
  actor: string,
): Promise<AddResult> {
  const ids = [...new Set(PersonIds.parse(input).person_ids)];
  await findList(deps.db, tenantId, listId);
  const now = deps.clock();
  let addedIds: string[] = [];
  const result = await deps.db.transaction().execute(async (trx) => {
    const found = await trx.selectFrom("persons").select(["id", "status"])
      .where("tenant_id", "=", tenantId).where("id", "in", ids).execute();
    const active = found.filter((p) => p.status === "active").map((p) => p.id);
    const known = new Set(found.map((p) => p.id));
    const activeSet = new Set(active);
    let added = 0;
    if (active.length) {
      addedIds = await insertActiveMembers(trx, tenantId, listId, active, now);
      added = addedIds.length;
    }
    await audit(trx, {
      tenantId,
      actor,
      action: "list.add_members",
      target: listId,
      details: { requested: ids.length, added },
      at: now,
    });
    return {
      added,
      unchanged: active.length - added,
      not_found: ids.filter((id) => !known.has(id)),
      not_active: ids.filter((id) => known.has(id) && !activeSet.has(id)),
    };
  });
  await emitListMembersAdded(deps, { tenantId, listId, personIds: addedIds, at: now });
  return result;
}

export async function removeListMembers(
  deps: Deps,
  tenantId: string,
  listId: string,
  input: PersonIds,
  actor: string,
): Promise<{ removed: number }> {
  const ids = [...new Set(PersonIds.parse(input).person_ids)];
  await findList(deps.db, tenantId, listId);
  const now = deps.clock();
  return await deps.db.transaction().execute(async (trx) => {
    const rows = await trx.deleteFrom("list_members").where("tenant_id", "=", tenantId)
      .where("list_id", "=", listId).where("person_id", "in", ids).returning("person_id")
      .execute();
    await audit(trx, {
      tenantId,
      actor,
      action: "list.remove_members",
      target: listId,
      details: { requested: ids.length, removed: rows.length },
      at: now,
    });
    return { removed: rows.length };
  });
}

export interface ListMember {
  id: string;
  first_name: string;
  last_name: string;
  organisation: string;
  primary_address: string | null;
  added_at: Date;
}

/** Active members in person-id order (the primary key's order), cursor-paged. */
export async function listMembers(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  listId: string,
  page: PageRequest,
): Promise<Page<ListMember>> {
  await findList(deps.db, tenantId, listId);
  let q = deps.db.selectFrom("list_members as m")
    .innerJoin(
      "persons as p",
      (j) => j.onRef("p.tenant_id", "=", "m.tenant_id").onRef("p.id", "=", "m.person_id"),
    )
    .select((eb) => [
      "p.id",
      "p.first_name",
      "p.last_name",
      "p.organisation",
      eb.selectFrom("person_addresses as a").select("a.address")
        .whereRef("a.tenant_id", "=", "p.tenant_id").whereRef("a.person_id", "=", "p.id")
        .where("a.is_primary", "=", true).as("primary_address"),
      "m.added_at",
    ])
    .where("m.tenant_id", "=", tenantId).where("m.list_id", "=", listId)
    .where("p.status", "=", "active")
    .orderBy("m.person_id").limit(page.limit + 1);
  if (page.cursor) q = q.where("m.person_id", ">", decodeCursor(page.cursor));
  const rows = await q.execute();
  const more = rows.length > page.limit;
  const items = more ? rows.slice(0, page.limit) : rows;
  return { items, next_cursor: more ? encodeCursor(items[items.length - 1]!.id) : null };
}
