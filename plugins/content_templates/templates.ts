// Content templates: save a mailing's content for reuse, share it with the organisation, and
// start new mailings from it. A template names the subscription type of its mailings.
import { type Kysely, sql, type SqlBool } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../../core/deps.ts";
import type { DB } from "../../core/db/schema.ts";
import { isUuid, uuidv7 } from "../../core/db/ids.ts";
import { AppError } from "../../core/errors.ts";
import { type Page, pageQuery, type PageRequest } from "../../core/http/pagination.ts";
import { audit } from "../../core/tenants/audit.ts";
import { createMailing, getMailing, type Mailing } from "../../core/mailings/mailings.ts";
import { sanitizeHtmlBody } from "../../core/mailings/sanitize.ts";

export interface ContentTemplatesTable {
  tenant_id: string;
  id: string;
  name: string;
  subject: string;
  preheader: string;
  body_html: string;
  design_template_version_id: string | null;
  subscription_type_id: string | null;
  shared: boolean;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}
type PluginDB = DB & { content_templates: ContentTemplatesTable };
type Deps = Pick<AppDeps, "db" | "clock">;

const dbOf = (deps: Pick<AppDeps, "db">) => deps.db as unknown as Kysely<PluginDB>;

export const TemplateCreate = z.object({
  name: z.string().trim().min(1).max(200),
  shared: z.boolean().default(false),
  /** Take subject, preheader, body and design from this mailing… */
  mailing_id: z.uuid().optional(),
  /** …or give them here (ignored when mailing_id is set). */
  subject: z.string().max(998).default(""),
  preheader: z.string().max(500).default(""),
  body_html: z.string().max(2_000_000).default(""),
  /** The subscription type of mailings made from it: an existing one, or a new one by name. */
  subscription_type_id: z.uuid().optional(),
  subscription_type_name: z.string().trim().min(1).max(200).optional(),
}).strict();
export type TemplateCreate = z.input<typeof TemplateCreate>;

const COLUMNS = [
  "t.id",
  "t.name",
  "t.subject",
  "t.preheader",
  "t.body_html",
  "t.design_template_version_id",
  "t.subscription_type_id",
  "st.name as subscription_type_name",
  "t.shared",
  "t.created_by",
  "t.created_at",
  "t.updated_at",
] as const;

function visible(tenantId: string, actor: string) {
  return sql<SqlBool>`t.tenant_id = ${tenantId} and (t.shared or t.created_by = ${actor})`;
}

function baseQuery(deps: Pick<AppDeps, "db">) {
  return dbOf(deps).selectFrom("content_templates as t")
    .leftJoin(
      "subscription_types as st",
      (j) =>
        j.onRef("st.tenant_id", "=", "t.tenant_id").onRef("st.id", "=", "t.subscription_type_id"),
    )
    .select(COLUMNS);
}

/** A template the actor may see: their own, or one shared with the organisation. */
export async function getTemplate(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  id: string,
  actor: string,
) {
  if (!isUuid(id)) throw new AppError("not_found");
  const row = await baseQuery(deps).where(visible(tenantId, actor)).where("t.id", "=", id)
    .executeTakeFirst();
  if (!row) throw new AppError("not_found");
  return row;
}
export type ContentTemplate = Awaited<ReturnType<typeof getTemplate>>;

export async function listTemplates(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  actor: string,
  page: PageRequest,
): Promise<Page<ContentTemplate>> {
  return await pageQuery(baseQuery(deps).where(visible(tenantId, actor)), page, {
    newestFirst: true,
  });
}

async function subscriptionType(
  db: Kysely<PluginDB>,
  tenantId: string,
  input: z.output<typeof TemplateCreate>,
  now: Date,
): Promise<string | null> {
  if (input.subscription_type_id) {
    const found = await db.selectFrom("subscription_types").select("id")
      .where("tenant_id", "=", tenantId).where("id", "=", input.subscription_type_id)
      .executeTakeFirst();
    if (!found) {
      throw new AppError("validation", {}, [{
        path: "subscription_type_id",
        code: "not_found",
        message: "",
      }]);
    }
    return found.id;
  }
  if (!input.subscription_type_name) return null;
  const name = input.subscription_type_name;
  const existing = await db.selectFrom("subscription_types").select("id")
    .where("tenant_id", "=", tenantId).where(sql`lower(name)`, "=", name.toLowerCase())
    .executeTakeFirst();
  if (existing) return existing.id;
  const id = uuidv7();
  await db.insertInto("subscription_types").values({
    tenant_id: tenantId,
    id,
    name,
    created_at: now,
  })
    .execute();
  return id;
}

export async function createTemplate(
  deps: Deps,
  tenantId: string,
  input: TemplateCreate,
  actor: string,
): Promise<ContentTemplate> {
  const v = TemplateCreate.parse(input);
  let content = {
    subject: v.subject,
    preheader: v.preheader,
    body_html: sanitizeHtmlBody(v.body_html),
    design_template_version_id: null as string | null,
  };
  if (v.mailing_id) {
    const m = await getMailing(deps, tenantId, v.mailing_id);
    content = {
      subject: m.subject,
      preheader: m.preheader,
      body_html: m.body_html,
      design_template_version_id: m.design_template_version_id,
    };
  }
  const now = deps.clock();
  const id = uuidv7();
  await dbOf(deps).transaction().execute(async (trx) => {
    const subscription_type_id = await subscriptionType(trx, tenantId, v, now);
    await trx.insertInto("content_templates").values({
      tenant_id: tenantId,
      id,
      name: v.name,
      ...content,
      subscription_type_id,
      shared: v.shared,
      created_by: actor,
      created_at: now,
      updated_at: now,
    }).execute();
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "content_template.create",
      target: id,
      details: { shared: v.shared, from_mailing: v.mailing_id ?? null },
      at: now,
    });
  });
  return await getTemplate(deps, tenantId, id, actor);
}

/** Share or unshare; only the author may. */
export async function setShared(
  deps: Deps,
  tenantId: string,
  id: string,
  shared: boolean,
  actor: string,
): Promise<ContentTemplate> {
  const t = await getTemplate(deps, tenantId, id, actor);
  if (t.created_by !== actor) throw new AppError("forbidden");
  await dbOf(deps).updateTable("content_templates")
    .set({ shared, updated_at: deps.clock() })
    .where("tenant_id", "=", tenantId).where("id", "=", id).execute();
  return await getTemplate(deps, tenantId, id, actor);
}

/** Only the author deletes; mailings made from it keep their content. */
export async function deleteTemplate(deps: Deps, tenantId: string, id: string, actor: string) {
  const t = await getTemplate(deps, tenantId, id, actor);
  if (t.created_by !== actor) throw new AppError("forbidden");
  await dbOf(deps).deleteFrom("content_templates").where("tenant_id", "=", tenantId)
    .where("id", "=", id).execute();
}

/** A new draft with the template's content and subscription type. */
export async function mailingFromTemplate(
  deps: Deps,
  tenantId: string,
  id: string,
  actor: string,
): Promise<Mailing> {
  const t = await getTemplate(deps, tenantId, id, actor);
  return await createMailing(deps, tenantId, {
    subject: t.subject,
    preheader: t.preheader,
    body_html: t.body_html,
    design_template_version_id: t.design_template_version_id,
    subscription_type_id: t.subscription_type_id,
    content_template_id: t.id,
  }, actor);
}
