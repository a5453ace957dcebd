// Categories: the tenant's labels for mailings. Admins define them (name, optional colour);
// staff assign them to mailings (many to many); mailings are filtered by category and the
// core's period statistics are totalled per category.
import { addDays, startOfLocalDay } from "../../core/time_zone.ts";
import { type Kysely, sql } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../../core/deps.ts";
import type { DB } from "../../core/db/schema.ts";
import { isUuid, uuidv7 } from "../../core/db/ids.ts";
import { AppError } from "../../core/errors.ts";
import { type Page, pageQuery, type PageRequest } from "../../core/http/pagination.ts";
import { audit } from "../../core/tenants/audit.ts";
import type { PeriodStats } from "../../core/feedback/stats.ts";
import {
  type MailingSummary,
  SUMMARY_COLUMNS,
  syncSendingStatus,
} from "../../core/mailings/mailings.ts";

export interface CategoriesTable {
  tenant_id: string;
  id: string;
  name: string;
  colour: string | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}
export interface MailingCategoriesTable {
  tenant_id: string;
  mailing_id: string;
  category_id: string;
  assigned_by: string;
  assigned_at: Date;
}
type CategoriesDB = DB & {
  categories: CategoriesTable;
  mailing_categories: MailingCategoriesTable;
};
const dbOf = (deps: Pick<AppDeps, "db">) => deps.db as unknown as Kysely<CategoriesDB>;
type Deps = Pick<AppDeps, "db" | "clock">;

export const MAX_CATEGORIES = 200;

// Our own refinements carry an issue code (params.code); issues.ts says it in the reader's
// language ("categories.issue.<code>"), like the core's field issues.
const Colour = z.string().trim().toLowerCase().refine((v) => /^#[0-9a-f]{6}$/.test(v), {
  params: { code: "colour_format" },
});
export const CategoryInput = z.object({
  name: z.string().trim().min(1).max(100),
  colour: Colour.nullable().optional(),
}).strict();
export const CategoryPatch = CategoryInput.partial().strict();
export const Assignment = z.object({
  category_ids: z.array(z.uuid()).max(MAX_CATEGORIES),
}).strict();

export type Category = Pick<CategoriesTable, "id" | "name" | "colour" | "created_at"> & {
  mailings: number;
};

/** All of the tenant's categories by name, with how many mailings each has. */
export async function listCategories(deps: Pick<AppDeps, "db">, tenantId: string) {
  return await dbOf(deps).selectFrom("categories as c")
    .select([
      "c.id",
      "c.name",
      "c.colour",
      "c.created_at",
      (eb) =>
        eb.selectFrom("mailing_categories as mc").select(sql<number>`count(*)::int`.as("n"))
          .whereRef("mc.tenant_id", "=", "c.tenant_id").whereRef("mc.category_id", "=", "c.id")
          .as("mailings"),
    ])
    .where("c.tenant_id", "=", tenantId).orderBy(sql`lower(c.name)`).orderBy("c.id")
    .limit(MAX_CATEGORIES).execute() as Category[];
}

export async function getCategory(deps: Pick<AppDeps, "db">, tenantId: string, id: string) {
  if (!isUuid(id)) throw new AppError("not_found");
  const all = await listCategories(deps, tenantId);
  const c = all.find((x) => x.id === id);
  if (!c) throw new AppError("not_found");
  return c;
}

const nameTaken = () =>
  new AppError("conflict", {}, [{ path: "name", code: "taken", message: "" }]);

async function assertNameFree(
  db: Kysely<CategoriesDB>,
  tenantId: string,
  name: string,
  except?: string,
) {
  let q = db.selectFrom("categories").select("id").where("tenant_id", "=", tenantId)
    .where(sql`lower(name)`, "=", name.toLowerCase());
  if (except) q = q.where("id", "!=", except);
  if (await q.executeTakeFirst()) throw nameTaken();
}

export async function createCategory(
  deps: Deps,
  tenantId: string,
  input: z.input<typeof CategoryInput>,
  actor: string,
): Promise<Category> {
  const v = CategoryInput.parse(input);
  const now = deps.clock();
  const id = uuidv7();
  await dbOf(deps).transaction().execute(async (trx) => {
    await assertNameFree(trx, tenantId, v.name);
    const count = await trx.selectFrom("categories").select(sql<number>`count(*)::int`.as("n"))
      .where("tenant_id", "=", tenantId).executeTakeFirstOrThrow();
    if (Number(count.n) >= MAX_CATEGORIES) {
      throw new AppError("validation", {}, [{ path: "name", code: "too_many", message: "" }]);
    }
    await trx.insertInto("categories").values({
      tenant_id: tenantId,
      id,
      name: v.name,
      colour: v.colour ?? null,
      created_by: actor,
      created_at: now,
      updated_at: now,
    }).execute();
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "category.create",
      target: id,
      details: { name: v.name },
      at: now,
    });
  }).catch(uniqueAsTaken);
  return await getCategory(deps, tenantId, id);
}

/** Two admins creating the same name at once: the unique index decides, said as "taken". */
function uniqueAsTaken(e: unknown): never {
  if (String((e as { code?: string })?.code) === "23505") throw nameTaken();
  throw e;
}

export async function updateCategory(
  deps: Deps,
  tenantId: string,
  id: string,
  input: z.input<typeof CategoryPatch>,
  actor: string,
): Promise<Category> {
  const v = CategoryPatch.parse(input);
  await getCategory(deps, tenantId, id);
  const now = deps.clock();
  await dbOf(deps).transaction().execute(async (trx) => {
    if (v.name !== undefined) await assertNameFree(trx, tenantId, v.name, id);
    await trx.updateTable("categories").set({
      ...(v.name !== undefined ? { name: v.name } : {}),
      ...(v.colour !== undefined ? { colour: v.colour } : {}),
      updated_at: now,
    }).where("tenant_id", "=", tenantId).where("id", "=", id).execute();
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "category.update",
      target: id,
      details: v,
      at: now,
    });
  }).catch(uniqueAsTaken);
  return await getCategory(deps, tenantId, id);
}

/** Deletes a category; its mailings lose the label and are otherwise untouched. */
export async function deleteCategory(deps: Deps, tenantId: string, id: string, actor: string) {
  const c = await getCategory(deps, tenantId, id);
  const now = deps.clock();
  await dbOf(deps).transaction().execute(async (trx) => {
    await trx.deleteFrom("categories").where("tenant_id", "=", tenantId).where("id", "=", id)
      .execute();
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "category.delete",
      target: id,
      details: { name: c.name },
      at: now,
    });
  });
}

/** The categories of one mailing, by name. */
export async function mailingCategories(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  mailingId: string,
) {
  if (!isUuid(mailingId)) throw new AppError("not_found");
  return await dbOf(deps).selectFrom("mailing_categories as mc")
    .innerJoin(
      "categories as c",
      (j) => j.onRef("c.tenant_id", "=", "mc.tenant_id").onRef("c.id", "=", "mc.category_id"),
    )
    .select(["c.id", "c.name", "c.colour"])
    .where("mc.tenant_id", "=", tenantId).where("mc.mailing_id", "=", mailingId)
    .orderBy(sql`lower(c.name)`).execute();
}

/**
 * Sets a mailing's categories to exactly these (any status: a sent mailing can be filed too).
 * Unknown ids are a field error naming each; nothing changes unless all are valid.
 */
export async function assignCategories(
  deps: Deps,
  tenantId: string,
  mailingId: string,
  input: z.input<typeof Assignment>,
  actor: string,
) {
  const ids = [...new Set(Assignment.parse(input).category_ids)];
  if (!isUuid(mailingId)) throw new AppError("not_found");
  const now = deps.clock();
  await dbOf(deps).transaction().execute(async (trx) => {
    const m = await trx.selectFrom("mailings").select("id").where("tenant_id", "=", tenantId)
      .where("id", "=", mailingId).forUpdate().executeTakeFirst();
    if (!m) throw new AppError("not_found");
    const known = ids.length
      ? new Set(
        (await trx.selectFrom("categories").select("id").where("tenant_id", "=", tenantId)
          .where("id", "in", ids).execute()).map((r) => r.id),
      )
      : new Set<string>();
    const issues = ids.flatMap((id, i) =>
      known.has(id) ? [] : [{ path: `category_ids.${i}`, code: "not_found", message: "" }]
    );
    if (issues.length) throw new AppError("validation", {}, issues);
    let del = trx.deleteFrom("mailing_categories").where("tenant_id", "=", tenantId)
      .where("mailing_id", "=", mailingId);
    if (ids.length) del = del.where("category_id", "not in", ids);
    await del.execute();
    if (ids.length) {
      await trx.insertInto("mailing_categories").values(ids.map((category_id) => ({
        tenant_id: tenantId,
        mailing_id: mailingId,
        category_id,
        assigned_by: actor,
        assigned_at: now,
      }))).onConflict((oc) => oc.doNothing()).execute();
    }
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "mailing.categories",
      target: mailingId,
      details: { category_ids: ids },
      at: now,
    });
  });
  return await mailingCategories(deps, tenantId, mailingId);
}

/** Mailings with a category, newest first (the mailing list, filtered). */
export async function mailingsInCategory(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  categoryId: string,
  page: PageRequest,
): Promise<Page<MailingSummary>> {
  await getCategory(deps, tenantId, categoryId);
  await syncSendingStatus(deps.db, tenantId);
  const qb = dbOf(deps).selectFrom("mailings").select(SUMMARY_COLUMNS)
    .where("tenant_id", "=", tenantId)
    .where("id", "in", (eb) =>
      eb.selectFrom("mailing_categories").select("mailing_id")
        .where("tenant_id", "=", tenantId).where("category_id", "=", categoryId));
  return await pageQuery(qb, page, { newestFirst: true }) as Page<MailingSummary>;
}

const PERIOD_KEYS = [
  "sends",
  "recipients",
  "sent",
  "failed",
  "bouncedHard",
  "bouncedSoft",
  "complaints",
  "uniqueOpens",
  "uniqueClicks",
  "machineOpens",
  "machineClicks",
] as const satisfies readonly (keyof PeriodStats)[];

export const Period = z.object({
  from: z.iso.date(),
  to: z.iso.date(),
}).strict().refine((p) => p.from <= p.to, { path: ["to"], params: { code: "period_order" } });

/**
 * The core's period totals (periodStats) for each category: sends started from the first day's midnight to
 * the end of the last day, both in `timeZone`. A mailing in two categories counts in both.
 */
export async function categoryStats(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  period: z.input<typeof Period>,
  timeZone: string,
): Promise<{ from: Date; to: Date; rows: { category: Category; stats: PeriodStats }[] }> {
  const p = Period.parse(period);
  const from = startOfLocalDay(p.from, timeZone);
  const to = startOfLocalDay(addDays(p.to, 1), timeZone);
  // One grouped query over the period's sends (index sends_started), each send counted once
  // per category of its mailing; the same sums as the core's periodStats.
  const [cats, sums] = await Promise.all([
    listCategories(deps, tenantId),
    sql<Record<keyof PeriodStats, string | number> & { category_id: string }>`
      select mc.category_id, count(*) as "sends", coalesce(sum(s.total), 0) as "recipients",
        coalesce(sum(s.sent), 0) as "sent", coalesce(sum(s.failed), 0) as "failed",
        coalesce(sum(s.bounced_hard), 0) as "bouncedHard",
        coalesce(sum(s.bounced_soft), 0) as "bouncedSoft",
        coalesce(sum(s.complaints), 0) as "complaints",
        coalesce(sum(s.unique_opens), 0) as "uniqueOpens",
        coalesce(sum(s.unique_clicks), 0) as "uniqueClicks",
        coalesce(sum(s.machine_opens), 0) as "machineOpens",
        coalesce(sum(s.machine_clicks), 0) as "machineClicks"
      from sends s join mailing_categories mc
        on mc.tenant_id = s.tenant_id and mc.mailing_id = s.mailing_id
      where s.tenant_id = ${tenantId} and s.started_at >= ${from} and s.started_at < ${to}
        and not coalesce(s.is_test, false)
      group by mc.category_id`.execute(deps.db),
  ]);
  const byCategory = new Map(sums.rows.map((r) => [r.category_id, r]));
  const rows = cats.map((category) => {
    const r = byCategory.get(category.id);
    const stats = {} as PeriodStats;
    for (const k of PERIOD_KEYS) stats[k] = Number(r?.[k] ?? 0);
    return { category, stats };
  });
  return { from, to, rows };
}
