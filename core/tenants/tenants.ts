// Tenants (customers): creation, tier and add-ons, suspension — the operator's levers.
import { isTimeZone } from "../time_zone.ts";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { isUuid, uuidv7 } from "../db/ids.ts";
import { AppError } from "../errors.ts";
import type { Tier } from "../db/schema.ts";
import { LOCALES } from "../i18n/mod.ts";
import { audit } from "./audit.ts";
import { forgetVerifiedKeys } from "../auth/api_keys.ts";
import { type Page, pageQuery, type PageRequest } from "../http/pagination.ts";

export const TIERS = ["light", "standard", "advanced"] as const satisfies readonly Tier[];

const timeZone = z.string().refine(
  isTimeZone,
  "Unknown time zone (an IANA name, e.g. Europe/Helsinki)",
);

export const TenantCreate = z.object({
  name: z.string().trim().min(1).max(200),
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, "Lower-case letters, digits and hyphens")
    .optional(),
  tier: z.enum(TIERS),
  addons: z.array(z.string()).max(50).default([]),
  locale: z.enum(LOCALES).default("en"),
  time_zone: timeZone.default("Europe/Stockholm"),
});
export type TenantCreate = z.input<typeof TenantCreate>;

export const TenantPatch = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  tier: z.enum(TIERS).optional(),
  addons: z.array(z.string()).max(50).optional(),
  status: z.enum(["active", "suspended"]).optional(),
  locale: z.enum(LOCALES).optional(),
  time_zone: timeZone.optional(),
});
export type TenantPatch = z.input<typeof TenantPatch>;

const COLUMNS = [
  "id",
  "slug",
  "name",
  "tier",
  "addons",
  "status",
  "locale",
  "time_zone",
  "created_at",
  "updated_at",
] as const;

type Deps = Pick<AppDeps, "db" | "clock" | "registry">;

function slugify(name: string): string {
  const s = name.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 50);
  return s.length >= 2 ? s : `org-${s}${uuidv7().slice(-6)}`;
}

function checkAddons(deps: Deps, addons: string[]) {
  for (const addon of addons) {
    if (!deps.registry.has(addon)) throw new AppError("unknown_addon", { addon });
  }
}

export async function createTenant(deps: Deps, input: TenantCreate, actor: string) {
  const v = TenantCreate.parse(input);
  checkAddons(deps, v.addons);
  const slug = v.slug ?? slugify(v.name);
  const now = deps.clock();
  return await deps.db.transaction().execute(async (trx) => {
    const taken = await trx.selectFrom("tenants").select("id").where("slug", "=", slug)
      .executeTakeFirst();
    if (taken) {
      throw new AppError("slug_taken", { slug }, [{ path: "slug", code: "taken", message: "" }]);
    }
    const row = await trx.insertInto("tenants").values({
      id: uuidv7(),
      slug,
      name: v.name,
      tier: v.tier,
      addons: [...new Set(v.addons)],
      locale: v.locale,
      time_zone: v.time_zone,
      created_at: now,
      updated_at: now,
    }).returning(COLUMNS).executeTakeFirstOrThrow();
    await audit(trx, { tenantId: row.id, actor, action: "tenant.create", details: v, at: now });
    return row;
  });
}

export async function getTenant(deps: Pick<AppDeps, "db">, id: string) {
  if (!isUuid(id)) throw new AppError("not_found");
  const row = await deps.db.selectFrom("tenants").select(COLUMNS).where("id", "=", id)
    .executeTakeFirst();
  if (!row) throw new AppError("not_found");
  return row;
}

/** Finds a tenant by id or slug (the CLI accepts either). */
export async function findTenant(deps: Pick<AppDeps, "db">, idOrSlug: string) {
  const row = await deps.db.selectFrom("tenants").select(COLUMNS)
    .where(isUuid(idOrSlug) ? "id" : "slug", "=", idOrSlug).executeTakeFirst();
  if (!row) throw new AppError("not_found");
  return row;
}

export async function listTenants(deps: Pick<AppDeps, "db">, page: PageRequest) {
  return await pageQuery(deps.db.selectFrom("tenants").select(COLUMNS), page);
}

export type TenantRow = Awaited<ReturnType<typeof getTenant>>;
export type TenantPage = Page<TenantRow>;

export async function updateTenant(deps: Deps, id: string, patch: TenantPatch, actor: string) {
  const v = TenantPatch.parse(patch);
  if (v.addons) checkAddons(deps, v.addons);
  await getTenant(deps, id);
  const now = deps.clock();
  const updated = await deps.db.transaction().execute(async (trx) => {
    const row = await trx.updateTable("tenants").set({
      ...v,
      ...(v.addons ? { addons: [...new Set(v.addons)] } : {}),
      updated_at: now,
    }).where("id", "=", id).returning(COLUMNS).executeTakeFirstOrThrow();
    await audit(trx, { tenantId: id, actor, action: "tenant.update", details: v, at: now });
    return row;
  });
  // Keys carry the tenant's plan, status and locale: the next request reads them again.
  forgetVerifiedKeys();
  return updated;
}
