// Saved segments: named condition trees per tenant, validated against the tenant's data before
// they are stored; names are unique per tenant, case-insensitively.
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { isUuid, uuidv7 } from "../db/ids.ts";
import { jsonb } from "../db/json.ts";
import { AppError } from "../errors.ts";
import { audit } from "../tenants/audit.ts";
import { type Page, pageQuery, type PageRequest } from "../http/pagination.ts";
import { type Group, SegmentDefinition } from "./segment_definition.ts";
import { checkNameFree, withUniqueName } from "./unique_name.ts";
import { compileSegment, previewSegment, type SegmentPerson } from "./segments.ts";

type Deps = Pick<AppDeps, "db" | "clock">;

const name = z.string().trim().min(1).max(200);

export const SegmentCreate = z.object({ name, definition: SegmentDefinition });
export type SegmentCreate = z.input<typeof SegmentCreate>;
export const SegmentPatch = SegmentCreate.partial();
export type SegmentPatch = z.input<typeof SegmentPatch>;

const SEGMENT_COLUMNS = ["id", "name", "definition", "created_at", "updated_at"] as const;

export interface SegmentRow {
  id: string;
  name: string;
  definition: Group;
  created_at: Date;
  updated_at: Date;
}

export async function createSegment(
  deps: Deps,
  tenantId: string,
  input: SegmentCreate,
  actor: string,
): Promise<SegmentRow> {
  const v = SegmentCreate.parse(input);
  await compileSegment(deps.db, tenantId, v.definition, { path: "definition" });
  const now = deps.clock();
  return await withUniqueName(() =>
    deps.db.transaction().execute(async (trx) => {
      await checkNameFree(trx, "segments", { tenantId, name: v.name });
      const row = await trx.insertInto("segments").values({
        tenant_id: tenantId,
        id: uuidv7(),
        name: v.name,
        definition: jsonb(v.definition),
        created_at: now,
        updated_at: now,
      }).returning(SEGMENT_COLUMNS).executeTakeFirstOrThrow();
      await audit(trx, {
        tenantId,
        actor,
        action: "segment.create",
        target: row.id,
        details: { name: v.name },
        at: now,
      });
      return row as SegmentRow;
    })
  );
}

export async function getSegment(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  id: string,
): Promise<SegmentRow> {
  if (!isUuid(id)) throw new AppError("not_found");
  const row = await deps.db.selectFrom("segments").select(SEGMENT_COLUMNS)
    .where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst();
  if (!row) throw new AppError("not_found");
  return row as SegmentRow;
}

export async function listSegments(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  page: PageRequest,
): Promise<Page<SegmentRow>> {
  const qb = deps.db.selectFrom("segments").select(SEGMENT_COLUMNS)
    .where("tenant_id", "=", tenantId);
  return await pageQuery(qb, page) as Page<SegmentRow>;
}

export async function updateSegment(
  deps: Deps,
  tenantId: string,
  id: string,
  patch: SegmentPatch,
  actor: string,
): Promise<SegmentRow> {
  const v = SegmentPatch.parse(patch);
  await getSegment(deps, tenantId, id);
  if (v.definition) {
    await compileSegment(deps.db, tenantId, v.definition, { path: "definition" });
  }
  const now = deps.clock();
  return await withUniqueName(() =>
    deps.db.transaction().execute(async (trx) => {
      if (v.name !== undefined) {
        await checkNameFree(trx, "segments", { tenantId, name: v.name, except: id });
      }
      const row = await trx.updateTable("segments").set({
        ...(v.name !== undefined ? { name: v.name } : {}),
        ...(v.definition ? { definition: jsonb(v.definition) } : {}),
        updated_at: now,
      }).where("tenant_id", "=", tenantId).where("id", "=", id).returning(SEGMENT_COLUMNS)
        .executeTakeFirst();
      if (!row) throw new AppError("not_found");
      await audit(trx, {
        tenantId,
        actor,
        action: "segment.update",
        target: id,
        details: { fields: Object.keys(v) },
        at: now,
      });
      return row as SegmentRow;
    })
  );
}

export async function deleteSegment(
  deps: Deps,
  tenantId: string,
  id: string,
  actor: string,
): Promise<void> {
  if (!isUuid(id)) throw new AppError("not_found");
  const now = deps.clock();
  await deps.db.transaction().execute(async (trx) => {
    const row = await trx.deleteFrom("segments").where("tenant_id", "=", tenantId)
      .where("id", "=", id).returning("name").executeTakeFirst();
    if (!row) throw new AppError("not_found");
    await audit(trx, {
      tenantId,
      actor,
      action: "segment.delete",
      target: id,
      details: { name: row.name },
      at: now,
    });
  });
}

/** A page of the persons a saved segment matches now. */
export async function previewSavedSegment(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  id: string,
  page: PageRequest,
): Promise<Page<SegmentPerson>> {
  const seg = await getSegment(deps, tenantId, id);
  return await previewSegment(deps, tenantId, seg.definition, page);
}
