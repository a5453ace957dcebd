// One feed refreshed: conditional fetch, parse, items upserted by guid and the feed's status
// written in one transaction (a failed fetch keeps the items it had).
import { sql } from "kysely";
import type { AppDeps } from "../../core/deps.ts";
import { FeedFetchError, fetchFeed, type FetchOptions } from "./fetch.ts";
import { decodeFeed, FeedParseError, parseFeed } from "./parse.ts";
import { KEEP_ITEMS, rssDb } from "./store.ts";
import { uuidv7 } from "../../core/db/ids.ts";

type Deps = Pick<AppDeps, "db" | "clock" | "config" | "log">;

export interface FeedRef {
  tenant_id: string;
  id: string;
  url: string;
  etag: string | null;
  last_modified: string | null;
}

export interface RefreshResult {
  status: "ok" | "not_modified" | "error";
  /** Items seen for the first time. */
  added: number;
  /** A FetchErrorCode (stored as the feed's last_error too). */
  error?: string;
}

/**
 * What staff and API clients learn about a failed fetch, shown through the plugin's messages
 * (rss.error_<code>): could not connect, HTTP status N, timed out, too large, not a feed. A
 * refused private address reads as "could not connect", so the check is no probe of what names
 * exist inside the network.
 */
export type FetchErrorCode =
  | "network"
  | "timeout"
  | "too_large"
  | "too_many_redirects"
  | "not_a_feed"
  | `http_status:${number}`
  | "unexpected";

export function publicFetchError(e: unknown): FetchErrorCode {
  if (e instanceof FeedParseError) return "not_a_feed";
  if (!(e instanceof FeedFetchError)) return "unexpected";
  switch (e.code) {
    case "timeout":
    case "too_large":
    case "too_many_redirects":
      return e.code;
    case "http_status":
      return `http_status:${e.status ?? 0}`;
    default:
      return "network";
  }
}

/** A stored last_error (a FetchErrorCode; older rows "code: detail") as a message key. */
export function fetchErrorMessage(stored: string): { key: string; status?: string } {
  const m = /^([a-z_]+)(?::\s*(\d{3}))?/.exec(stored);
  const code = m?.[1] ?? "";
  if (code === "http_status" && m?.[2]) return { key: "error_http_status", status: m[2] };
  const known = ["timeout", "too_large", "too_many_redirects", "not_a_feed", "unexpected"];
  return { key: known.includes(code) ? `error_${code}` : "error_network" };
}

/** Limits a test (or an operator's script) may tighten; defaults are fetch.ts's constants. */
export type RefreshOptions = Pick<FetchOptions, "timeoutMs" | "maxBytes" | "resolve">;

export async function refreshFeed(
  deps: Deps,
  feed: FeedRef,
  opts: RefreshOptions = {},
): Promise<RefreshResult> {
  const db = rssDb(deps);
  const started = deps.clock();
  const next = new Date(started.getTime() + deps.config.rssPollMs);
  const where = { tenant_id: feed.tenant_id, id: feed.id };
  try {
    const res = await fetchFeed(feed.url, {
      allowPrivate: deps.config.rssAllowPrivate,
      etag: feed.etag,
      lastModified: feed.last_modified,
      ...opts,
    });
    if (res.kind === "not_modified") {
      await db.updateTable("rss_feeds").set({
        last_fetch_at: started,
        last_status: "not_modified",
        last_error: null,
        next_fetch_at: next,
        lease_until: null,
        updated_at: started,
      }).where("tenant_id", "=", where.tenant_id).where("id", "=", where.id).execute();
      return { status: "not_modified", added: 0 };
    }
    const parsed = await parseFeed(decodeFeed(res.body, res.contentType));
    const added = await db.transaction().execute(async (trx) => {
      // The feed's row lock orders this store against a send reading the feed (send_data.ts
      // holds it shared while it takes its cut-off): new items are stamped after the lock, by
      // the database's clock (one clock for every machine), so each is either visible to that
      // send or stamped after its cut-off — never lost in between.
      await trx.selectFrom("rss_feeds").select("id").where("tenant_id", "=", where.tenant_id)
        .where("id", "=", where.id).forUpdate().execute();
      const now = deps.clock();
      const before = await trx.selectFrom("rss_items").select((eb) => eb.fn.countAll().as("n"))
        .where("tenant_id", "=", where.tenant_id).where("feed_id", "=", where.id)
        .executeTakeFirst();
      if (parsed.items.length) {
        await trx.insertInto("rss_items").values(parsed.items.map((it) => ({
          tenant_id: feed.tenant_id,
          feed_id: feed.id,
          id: uuidv7(),
          ...it,
          first_seen_at: sql<Date>`clock_timestamp()`,
          updated_at: now,
        }))).onConflict((oc) =>
          oc.columns(["tenant_id", "feed_id", "guid_key"]).doUpdateSet((eb) => ({
            title: eb.ref("excluded.title"),
            link: eb.ref("excluded.link"),
            summary: eb.ref("excluded.summary"),
            content_html: eb.ref("excluded.content_html"),
            image: eb.ref("excluded.image"),
            published_at: eb.ref("excluded.published_at"),
            updated_at: eb.ref("excluded.updated_at"),
          }))
        ).execute();
      }
      const after = await trx.selectFrom("rss_items").select((eb) => eb.fn.countAll().as("n"))
        .where("tenant_id", "=", where.tenant_id).where("feed_id", "=", where.id)
        .executeTakeFirst();
      // Bounded history: the newest KEEP_ITEMS by first sight stay.
      await sql`delete from rss_items where tenant_id = ${feed.tenant_id} and feed_id = ${feed.id}
        and id not in (select id from rss_items where tenant_id = ${feed.tenant_id}
          and feed_id = ${feed.id} order by first_seen_at desc, id desc limit ${KEEP_ITEMS})`
        .execute(trx);
      await trx.updateTable("rss_feeds").set({
        title: parsed.title,
        site_url: parsed.site_url,
        etag: res.etag,
        last_modified: res.lastModified,
        last_fetch_at: started,
        last_status: "ok",
        last_error: null,
        next_fetch_at: next,
        lease_until: null,
        updated_at: now,
      }).where("tenant_id", "=", where.tenant_id).where("id", "=", where.id).execute();
      return Number(after?.n ?? 0) - Number(before?.n ?? 0);
    });
    return { status: "ok", added };
  } catch (e) {
    const error = publicFetchError(e);
    if (error === "unexpected") {
      deps.log.error("rss refresh failed", { feed_id: feed.id, error: String(e) });
    } else {
      // The details (addresses, resolver errors) are for the operator only.
      deps.log.info("rss fetch failed", { feed_id: feed.id, error: String(e) });
    }
    await db.updateTable("rss_feeds").set({
      last_fetch_at: started,
      last_status: "error",
      last_error: error,
      next_fetch_at: next,
      lease_until: null,
      updated_at: deps.clock(),
    }).where("tenant_id", "=", where.tenant_id).where("id", "=", where.id).execute();
    return { status: "error", added: 0, error };
  }
}

/** "Fetch now" from the API or UI: the feed's current validators, then a refresh. */
export async function refreshFeedNow(
  deps: Deps,
  tenantId: string,
  feedId: string,
  opts: RefreshOptions = {},
): Promise<RefreshResult | null> {
  const feed = await rssDb(deps).selectFrom("rss_feeds")
    .select(["tenant_id", "id", "url", "etag", "last_modified"])
    .where("tenant_id", "=", tenantId).where("id", "=", feedId).executeTakeFirst();
  return feed ? await refreshFeed(deps, feed, opts) : null;
}
