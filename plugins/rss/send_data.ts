// The rss plugin's sendData hook: the feed blocks a mailing names, computed once per send when
// its content is frozen, and the veto of a send whose "new items" blocks have nothing new.
//
// A mailing names a list as rss.<feed slug>.<list>:
//   items       the feed's newest items (10)        items_5      the newest 5 (1–50)
//   new_items   only items first fetched after this mailing's last send (10), new_items_3 …
// e.g. {{#each rss.news.new_items_5}}<a href="{{link}}">{{title}}</a> {{date}}{{/each}}
import { formatDateTime, isLocale, t } from "../../core/i18n/mod.ts";
import { sql } from "kysely";
import type { AppDeps } from "../../core/deps.ts";
import { DATA_CUTOFF_KEY } from "../../core/mailings/send_data.ts";
import type { SendDataContext, SendDataResult } from "../../core/plugin.ts";
import { feedItems, rssDb, type StoredItem } from "./store.ts";

export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 50;

const USE = /\brss\.([a-z][a-z0-9_]*)\.(new_items|items)(?:_(\d{1,3}))?\b/g;

export interface FeedUse {
  slug: string;
  key: string;
  fresh: boolean;
  limit: number;
}

/** The feed lists a template names, each once. */
export function findFeedUses(source: string): FeedUse[] {
  const uses = new Map<string, FeedUse>();
  for (const m of source.matchAll(USE)) {
    const [, slug, list, n] = m as unknown as [string, string, string, string | undefined];
    const limit = n === undefined ? DEFAULT_LIMIT : Math.min(Math.max(Number(n), 1), MAX_LIMIT);
    const key = n === undefined ? list : `${list}_${n}`;
    uses.set(`${slug}.${key}`, { slug, key, fresh: list === "new_items", limit });
  }
  return [...uses.values()];
}

/** What a template sees of one item; URLs were checked to be http(s) when stored. */
function itemData(it: StoredItem, locale: string, timeZone: string) {
  const at = it.published_at ?? it.first_seen_at;
  return {
    title: it.title,
    link: it.link ?? "",
    summary: it.summary,
    image: it.image ?? "",
    date: formatDateTime(at, isLocale(locale) ? locale : "en", timeZone),
    date_iso: at.toISOString(),
  };
}

export async function rssSendData(ctx: SendDataContext): Promise<SendDataResult> {
  const deps = ctx.deps;
  const source = [ctx.content.subject, ctx.content.html ?? "", ctx.content.text ?? ""].join("\n");
  const uses = findFeedUses(source);
  if (!uses.length) return {};
  const tenant = await deps.db.selectFrom("tenants").select(["locale", "time_zone"])
    .where("id", "=", ctx.tenantId).executeTakeFirst();
  const locale = tenant?.locale ?? "en";
  const timeZone = tenant?.time_zone ?? "UTC";
  // Shared row locks on the feeds order this read against a refresh storing items (refresh.ts
  // locks the feed before stamping them): every item is either read here, or stamped after the
  // cut-off and so new for the next send.
  const read = await rssDb(deps).transaction().execute(async (trx) => {
    const feeds = await trx.selectFrom("rss_feeds").select(["id", "slug", "title", "site_url"])
      .where("tenant_id", "=", ctx.tenantId)
      .where("slug", "in", [...new Set(uses.map((u) => u.slug))]).orderBy("id").forShare()
      .execute();
    // The database's clock, as refresh.ts stamps items with it; whole milliseconds, so the
    // next send's lastSentAt (a Date) is exactly this cut-off.
    const now = await sql<{ ms: number | string }>`
      select floor(extract(epoch from clock_timestamp()) * 1000)::bigint as ms`.execute(trx);
    const cutoff = new Date(Number(now.rows[0]!.ms));
    const db = { db: trx as unknown as AppDeps["db"] };
    const lists = [];
    for (const u of uses) {
      const feed = feeds.find((f) => f.slug === u.slug);
      const items = feed
        ? await feedItems(db, ctx.tenantId, feed.id, {
          limit: u.limit,
          ...(u.fresh ? { since: ctx.lastSentAt, until: cutoff } : {}),
        })
        : null;
      lists.push({ use: u, feed, items });
    }
    return { cutoff, lists };
  });
  // The next send's lastSentAt (core/mailings/send_data.ts): new items are those after this.
  const data: Record<string, unknown> = { [DATA_CUTOFF_KEY]: read.cutoff.toISOString() };
  const unknown: string[] = [];
  let freshAsked = false;
  let freshFound = false;
  for (const { use: u, feed, items } of read.lists) {
    if (!feed || !items) {
      unknown.push(u.slug);
      continue;
    }
    if (u.fresh) {
      freshAsked = true;
      if (items.length) freshFound = true;
    }
    const block = (data[u.slug] ??= { title: feed.title, link: feed.site_url ?? "" }) as Record<
      string,
      unknown
    >;
    block[u.key] = items.map((it) => itemData(it, locale, timeZone));
  }
  const l = isLocale(locale) ? locale : "en";
  if (unknown.length) {
    const reason = t(l, "rss.skip_unknown_feed", { slugs: [...new Set(unknown)].join(", ") });
    return ctx.preview ? { data } : { data, skip: { reason } };
  }
  // A mailing built on new items has nothing to say when there are none.
  if (freshAsked && !freshFound && !ctx.preview) {
    return { data, skip: { reason: t(l, "rss.skip_no_new_items") } };
  }
  return { data };
}
