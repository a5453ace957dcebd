// The rss plugin's tables (typed here, not in the core schema) and the tenant's feeds: add,
// list, remove, and the items a mailing reads.
import { type Kysely, sql } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../../core/deps.ts";
import type { DB } from "../../core/db/schema.ts";
import { isUuid, uuidv7 } from "../../core/db/ids.ts";
import { AppError } from "../../core/errors.ts";
import { audit } from "../../core/tenants/audit.ts";
import { t } from "../../core/i18n/mod.ts";
import { feedUrl } from "./fetch.ts";

export interface RssFeedsTable {
  tenant_id: string;
  id: string;
  slug: string;
  url: string;
  title: string;
  site_url: string | null;
  etag: string | null;
  last_modified: string | null;
  last_fetch_at: Date | null;
  last_status: "ok" | "not_modified" | "error" | null;
  last_error: string | null;
  next_fetch_at: Date;
  lease_until: Date | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export interface RssItemsTable {
  tenant_id: string;
  feed_id: string;
  id: string;
  /** For display: at most 500 characters of the feed's guid. */
  guid: string;
  /** The dedupe key (unique per feed): the guid, or its SHA-256 when long (parse.ts). */
  guid_key: string;
  title: string;
  link: string | null;
  summary: string;
  content_html: string;
  image: string | null;
  published_at: Date | null;
  first_seen_at: Date;
  updated_at: Date;
}

export type RssDB = DB & { rss_feeds: RssFeedsTable; rss_items: RssItemsTable };
export const rssDb = (deps: Pick<AppDeps, "db">) => deps.db as unknown as Kysely<RssDB>;

/** Items kept per feed; older ones are pruned when a fetch brings new ones. */
export const KEEP_ITEMS = 500;
export const MAX_FEEDS_PER_TENANT = 100;

const SLUG = /^[a-z][a-z0-9_]{0,39}$/;

export const FeedCreate = z.object({
  url: z.string().trim().max(2000).refine((v) => feedUrl(v) !== null, {
    message: "an absolute http:// or https:// URL without user name or password",
  }),
  /** The name a mailing uses ({{#each rss.<slug>.items}}); made from the host when omitted. */
  slug: z.string().trim().regex(SLUG, "lowercase letters, digits and _, starting with a letter")
    .optional(),
}).strict();
export type FeedCreate = z.input<typeof FeedCreate>;

export const FEED_COLUMNS = [
  "id",
  "slug",
  "url",
  "title",
  "site_url",
  "last_fetch_at",
  "last_status",
  "last_error",
  "next_fetch_at",
  "created_at",
] as const;
export type Feed = Pick<RssFeedsTable, (typeof FEED_COLUMNS)[number]> & { item_count: number };

function slugFrom(url: URL): string {
  const host = url.hostname.replace(/^www\./, "").split(".")[0] ?? "feed";
  const s = host.toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^[^a-z]+/, "");
  return (s || "feed").slice(0, 30);
}

export async function listFeeds(deps: Pick<AppDeps, "db">, tenantId: string): Promise<Feed[]> {
  const rows = await rssDb(deps).selectFrom("rss_feeds as f")
    .select(FEED_COLUMNS.map((c) => `f.${c}` as const))
    .select((eb) =>
      eb.selectFrom("rss_items as i").select(eb.fn.countAll().as("n"))
        .whereRef("i.tenant_id", "=", "f.tenant_id").whereRef("i.feed_id", "=", "f.id")
        .as("item_count")
    )
    .where("f.tenant_id", "=", tenantId).orderBy("f.slug").execute();
  // PGlite answers count() as a number, postgres.js as a string.
  return rows.map((r) => ({ ...r, item_count: Number(r.item_count ?? 0) }));
}

export async function getFeed(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  id: string,
): Promise<Feed> {
  if (!isUuid(id)) throw new AppError("not_found");
  const found = (await listFeeds(deps, tenantId)).find((f) => f.id === id);
  if (!found) throw new AppError("not_found");
  return found;
}

export async function createFeed(
  deps: Pick<AppDeps, "db" | "clock">,
  tenantId: string,
  input: FeedCreate,
  actor: string,
): Promise<Feed> {
  const v = FeedCreate.parse(input);
  const url = feedUrl(v.url)!;
  const id = uuidv7();
  const now = deps.clock();
  await rssDb(deps).transaction().execute(async (trx) => {
    const existing = await trx.selectFrom("rss_feeds").select(["slug", "url"])
      .where("tenant_id", "=", tenantId).execute();
    if (existing.length >= MAX_FEEDS_PER_TENANT) {
      throw new AppError("validation", {}, [{
        path: "url",
        code: "too_many_feeds",
        message: t("en", "rss.issue_too_many_feeds"),
      }]);
    }
    if (existing.some((f) => f.url === url.href)) {
      throw new AppError("validation", {}, [{
        path: "url",
        code: "duplicate_feed",
        message: t("en", "rss.issue_duplicate_feed"),
      }]);
    }
    let slug = v.slug ?? slugFrom(url);
    if (existing.some((f) => f.slug === slug)) {
      if (v.slug) {
        throw new AppError("validation", {}, [{
          path: "slug",
          code: "slug_taken",
          message: t("en", "rss.issue_slug_taken"),
        }]);
      }
      let n = 2;
      while (existing.some((f) => f.slug === `${slug}_${n}`)) n++;
      slug = `${slug}_${n}`;
    }
    await trx.insertInto("rss_feeds").values({
      tenant_id: tenantId,
      id,
      slug,
      url: url.href,
      title: "",
      site_url: null,
      etag: null,
      last_modified: null,
      last_fetch_at: null,
      last_status: null,
      last_error: null,
      next_fetch_at: now,
      lease_until: null,
      created_by: actor,
      created_at: now,
      updated_at: now,
    }).execute();
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "rss.feed_create",
      target: id,
      details: { url: url.href, slug },
      at: now,
    });
  });
  return await getFeed(deps, tenantId, id);
}

export async function deleteFeed(
  deps: Pick<AppDeps, "db" | "clock">,
  tenantId: string,
  id: string,
  actor: string,
): Promise<void> {
  const feed = await getFeed(deps, tenantId, id);
  await rssDb(deps).transaction().execute(async (trx) => {
    await trx.deleteFrom("rss_items").where("tenant_id", "=", tenantId).where("feed_id", "=", id)
      .execute();
    await trx.deleteFrom("rss_feeds").where("tenant_id", "=", tenantId).where("id", "=", id)
      .execute();
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "rss.feed_delete",
      target: id,
      details: { url: feed.url, slug: feed.slug },
      at: deps.clock(),
    });
  });
}

export type StoredItem =
  & Pick<
    RssItemsTable,
    "id" | "guid" | "title" | "link" | "summary" | "content_html" | "image" | "published_at"
  >
  & { first_seen_at: Date };

/**
 * A feed's newest items (by publication date, else when first seen), at most `limit`; with
 * `since` / `until`, only those first stored after `since` and no later than `until`.
 */
export async function feedItems(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  feedId: string,
  opts: { limit: number; since?: Date | null; until?: Date },
): Promise<StoredItem[]> {
  let q = rssDb(deps).selectFrom("rss_items")
    .select([
      "id",
      "guid",
      "title",
      "link",
      "summary",
      "content_html",
      "image",
      "published_at",
      "first_seen_at",
    ])
    .where("tenant_id", "=", tenantId).where("feed_id", "=", feedId);
  if (opts.since) q = q.where("first_seen_at", ">", opts.since);
  if (opts.until) q = q.where("first_seen_at", "<=", opts.until);
  const rows = await q.orderBy(sql`coalesce(published_at, first_seen_at)`, "desc")
    .orderBy("id", "desc").limit(opts.limit).execute();
  return rows.map((r) => ({
    ...r,
    published_at: r.published_at ? new Date(r.published_at) : null,
    first_seen_at: new Date(r.first_seen_at),
  }));
}
