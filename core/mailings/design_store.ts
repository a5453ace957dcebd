// Design templates and their immutable versions: listing, creating, new versions, the default.
import { type Kysely, sql, type SqlBool } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import type { DB } from "../db/schema.ts";
import { isUuid, uuidv7 } from "../db/ids.ts";
import { AppError, type FieldIssue } from "../errors.ts";
import { audit } from "../tenants/audit.ts";
import { isUniqueViolation, nameTaken } from "../people/unique_name.ts";
import {
  designHash,
  MAX_MJML_CHARS,
  type MjmlIssue,
  rememberDesign,
  validateMjml,
} from "./design_mjml.ts";

type Deps = Pick<AppDeps, "db" | "clock">;
type Db = Kysely<DB>;

/**
 * The plugin (Standard tier) that lets a tenant keep several design templates. Without it a
 * tenant has one, which its admins edit and its staff only read.
 */
export const MULTI_DESIGN_PLUGIN = "design_templates";

const Mjml = z.string().min(1).max(MAX_MJML_CHARS);
export const DesignCreate = z.object({ name: z.string().trim().min(1).max(200), mjml: Mjml });
export type DesignCreate = z.input<typeof DesignCreate>;
export const DesignVersionCreate = z.object({ mjml: Mjml });
export type DesignVersionCreate = z.input<typeof DesignVersionCreate>;

const TEMPLATE_COLUMNS = [
  "id",
  "name",
  "is_default",
  "current_version_id",
  "created_by",
  "created_at",
  "updated_at",
  "archived_at",
] as const;

export interface DesignTemplateRow {
  id: string;
  name: string;
  is_default: boolean;
  current_version_id: string | null;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  archived_at: Date | null;
}

export interface DesignVersionRow {
  id: string;
  template_id: string;
  version: number;
  content_hash: string;
  created_by: string | null;
  created_at: Date;
}

const VERSION_COLUMNS = [
  "id",
  "template_id",
  "version",
  "content_hash",
  "created_by",
  "created_at",
] as const;

/** MJML issues as field issues of `mjml`, with the line and tag MJML reported. */
export function mjmlFieldIssues(issues: MjmlIssue[]): (FieldIssue & MjmlIssueWhere)[] {
  return issues.map((i) => ({
    path: "mjml",
    code: i.code === "mjml" ? "mjml" : `mjml_${i.code}`,
    // Our own codes are said from the catalogue (issue.mjml_…); MJML's text is kept.
    message: i.code === "mjml" || i.code === "parse" ? i.message : "",
    line: i.line,
    tag: i.tag,
  }));
}
interface MjmlIssueWhere {
  line: number | null;
  tag: string | null;
}

/**
 * Validates a source or throws `validation` naming each MJML problem with its line. Returns the
 * content hash; the compile is kept in the cache for the first render.
 */
async function assertValid(source: string): Promise<string> {
  const r = await validateMjml(source);
  if (!r.ok) throw new AppError("validation", {}, mjmlFieldIssues(r.issues));
  const hash = await designHash(source);
  rememberDesign(hash, r.compiled);
  return hash;
}

export async function listDesignTemplates(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  opts: { includeArchived?: boolean } = {},
): Promise<DesignTemplateRow[]> {
  let q = deps.db.selectFrom("design_templates").select(TEMPLATE_COLUMNS)
    .where("tenant_id", "=", tenantId);
  if (!opts.includeArchived) q = q.where("archived_at", "is", null);
  return await q.orderBy("is_default", "desc").orderBy("name").orderBy("id").limit(500).execute();
}

/** The tenant's default design (the one Light tenants have), or undefined when it has none. */
export async function defaultDesignOf(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
): Promise<DesignTemplateRow | undefined> {
  return await deps.db.selectFrom("design_templates").select(TEMPLATE_COLUMNS)
    .where("tenant_id", "=", tenantId).where("is_default", "=", true)
    .where("archived_at", "is", null).executeTakeFirst();
}

async function findTemplate(db: Db, tenantId: string, id: string, lock = false) {
  if (!isUuid(id)) throw new AppError("not_found");
  let q = db.selectFrom("design_templates").select(TEMPLATE_COLUMNS)
    .where("tenant_id", "=", tenantId).where("id", "=", id);
  if (lock) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  if (!row) throw new AppError("not_found");
  return row;
}

/** A template with its versions (newest first) and the source of its current version. */
export async function getDesignTemplate(deps: Pick<AppDeps, "db">, tenantId: string, id: string) {
  const template = await findTemplate(deps.db, tenantId, id);
  const versions = await deps.db.selectFrom("design_template_versions").select(VERSION_COLUMNS)
    .where("tenant_id", "=", tenantId).where("template_id", "=", id)
    .orderBy("version", "desc").execute();
  const current = template.current_version_id
    ? await getDesignVersion(deps, tenantId, template.current_version_id)
    : null;
  return { ...template, mjml: current?.mjml ?? "", versions };
}

export async function getDesignVersion(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  versionId: string,
): Promise<DesignVersionRow & { mjml: string }> {
  if (!isUuid(versionId)) throw new AppError("not_found");
  const row = await deps.db.selectFrom("design_template_versions")
    .select([...VERSION_COLUMNS, "mjml"]).where("tenant_id", "=", tenantId)
    .where("id", "=", versionId).executeTakeFirst();
  if (!row) throw new AppError("not_found");
  return row;
}

/**
 * Creates a template with its first version. Without `multiple` (the tenant lacks the
 * design_templates plugin) a tenant that already has a template cannot add another. The first
 * template of a tenant becomes its default.
 */
export async function createDesignTemplate(
  deps: Deps,
  tenantId: string,
  input: DesignCreate,
  actor: string,
  opts: { multiple: boolean },
): Promise<DesignTemplateRow> {
  const v = DesignCreate.parse(input);
  const hash = await assertValid(v.mjml);
  const now = deps.clock();
  try {
    return await deps.db.transaction().execute(async (trx) => {
      // Serialises creations per tenant, so two requests cannot both be "the only template".
      await trx.selectFrom("tenants").select("id").where("id", "=", tenantId).forUpdate()
        .executeTakeFirst();
      const existing = await trx.selectFrom("design_templates").select(["id", "is_default"])
        .where("tenant_id", "=", tenantId).where("archived_at", "is", null).execute();
      if (existing.length && !opts.multiple) {
        throw new AppError("plugin_not_enabled", { plugin: MULTI_DESIGN_PLUGIN });
      }
      const taken = await trx.selectFrom("design_templates").select("id")
        .where("tenant_id", "=", tenantId).where("archived_at", "is", null)
        .where(sql<SqlBool>`lower(name) = lower(${v.name})`).executeTakeFirst();
      if (taken) throw nameTaken();
      const id = uuidv7();
      const versionId = uuidv7();
      await trx.insertInto("design_templates").values({
        tenant_id: tenantId,
        id,
        name: v.name,
        is_default: !existing.some((e) => e.is_default),
        current_version_id: null,
        created_by: actor,
        created_at: now,
        updated_at: now,
      }).execute();
      await trx.insertInto("design_template_versions").values({
        tenant_id: tenantId,
        id: versionId,
        template_id: id,
        version: 1,
        mjml: v.mjml,
        content_hash: hash,
        created_by: actor,
        created_at: now,
      }).execute();
      const row = await trx.updateTable("design_templates").set({ current_version_id: versionId })
        .where("tenant_id", "=", tenantId).where("id", "=", id).returning(TEMPLATE_COLUMNS)
        .executeTakeFirstOrThrow();
      await audit(trx, {
        tenantId,
        actor,
        action: "design_template.create",
        target: id,
        details: { name: v.name },
        at: now,
      });
      return row;
    });
  } catch (e) {
    throw isUniqueViolation(e) ? nameTaken() : e;
  }
}

/** Saves an edit as a new version (older versions stay as they were) and makes it current. */
export async function addDesignVersion(
  deps: Deps,
  tenantId: string,
  templateId: string,
  input: DesignVersionCreate,
  actor: string,
): Promise<DesignVersionRow> {
  const v = DesignVersionCreate.parse(input);
  const hash = await assertValid(v.mjml);
  const now = deps.clock();
  return await deps.db.transaction().execute(async (trx) => {
    const template = await findTemplate(trx, tenantId, templateId, true);
    if (template.archived_at) throw new AppError("conflict", {}, archivedIssue());
    const last = await trx.selectFrom("design_template_versions")
      .select((eb) => eb.fn.max("version").as("n")).where("tenant_id", "=", tenantId)
      .where("template_id", "=", templateId).executeTakeFirst();
    const row = await trx.insertInto("design_template_versions").values({
      tenant_id: tenantId,
      id: uuidv7(),
      template_id: templateId,
      version: Number(last?.n ?? 0) + 1,
      mjml: v.mjml,
      content_hash: hash,
      created_by: actor,
      created_at: now,
    }).returning(VERSION_COLUMNS).executeTakeFirstOrThrow();
    await trx.updateTable("design_templates").set({ current_version_id: row.id, updated_at: now })
      .where("tenant_id", "=", tenantId).where("id", "=", templateId).execute();
    await audit(trx, {
      tenantId,
      actor,
      action: "design_template.version",
      target: templateId,
      details: { version: row.version },
      at: now,
    });
    return row;
  });
}

export const DefaultDesignSave = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  mjml: Mjml,
});
export type DefaultDesignSave = z.input<typeof DefaultDesignSave>;

/**
 * Sets up a tenant's default design for it (the operator's way to give a Light tenant its one
 * design): creates it, named `name`, when the tenant has none, else saves the source as a new
 * version of the default. Validation, versioning and the audit entry are the ordinary ones.
 */
export async function saveDefaultDesign(
  deps: Deps,
  tenantId: string,
  input: DefaultDesignSave,
  actor: string,
): Promise<{ template: DesignTemplateRow; version: number; created: boolean }> {
  const v = DefaultDesignSave.parse(input);
  const current = await defaultDesignOf(deps, tenantId);
  if (current) {
    const version = await addDesignVersion(deps, tenantId, current.id, { mjml: v.mjml }, actor);
    const template = await findTemplate(deps.db, tenantId, current.id);
    return { template, version: version.version, created: false };
  }
  if (!v.name) {
    throw new AppError("validation", {}, [{ path: "name", code: "required", message: "" }]);
  }
  const template = await createDesignTemplate(
    deps,
    tenantId,
    { name: v.name, mjml: v.mjml },
    actor,
    {
      multiple: false,
    },
  );
  return { template, version: 1, created: true };
}

function archivedIssue(): FieldIssue[] {
  return [{ path: "id", code: "design_archived", message: "" }];
}

/** Makes a template the tenant's default (the design of mailings that choose none). */
export async function setDefaultDesign(
  deps: Deps,
  tenantId: string,
  templateId: string,
  actor: string,
): Promise<DesignTemplateRow> {
  const now = deps.clock();
  return await deps.db.transaction().execute(async (trx) => {
    const template = await findTemplate(trx, tenantId, templateId, true);
    if (template.archived_at) throw new AppError("conflict", {}, archivedIssue());
    await trx.updateTable("design_templates").set({ is_default: false, updated_at: now })
      .where("tenant_id", "=", tenantId).where("is_default", "=", true)
      .where("id", "<>", templateId).execute();
    const row = await trx.updateTable("design_templates").set({ is_default: true, updated_at: now })
      .where("tenant_id", "=", tenantId).where("id", "=", templateId).returning(TEMPLATE_COLUMNS)
      .executeTakeFirstOrThrow();
    await audit(trx, {
      tenantId,
      actor,
      action: "design_template.default",
      target: templateId,
      at: now,
    });
    return row;
  });
}

/**
 * Archives a template: no longer offered for new mailings; its versions stay for mailings that
 * used them. The default cannot be archived (make another the default first).
 */
export async function archiveDesignTemplate(
  deps: Deps,
  tenantId: string,
  templateId: string,
  actor: string,
): Promise<DesignTemplateRow> {
  const now = deps.clock();
  return await deps.db.transaction().execute(async (trx) => {
    const template = await findTemplate(trx, tenantId, templateId, true);
    if (template.archived_at) return template;
    if (template.is_default) {
      throw new AppError("conflict", {}, [{ path: "id", code: "design_is_default", message: "" }]);
    }
    const row = await trx.updateTable("design_templates").set({ archived_at: now, updated_at: now })
      .where("tenant_id", "=", tenantId).where("id", "=", templateId).returning(TEMPLATE_COLUMNS)
      .executeTakeFirstOrThrow();
    await audit(trx, {
      tenantId,
      actor,
      action: "design_template.archive",
      target: templateId,
      at: now,
    });
    return row;
  });
}
