// The background poller (worker role): claims due feeds under a lease with SKIP LOCKED, so with
// several workers each feed is fetched by exactly one of them per round, and refreshes them.
import { sql } from "kysely";
import type { AppDeps } from "../../core/deps.ts";
import { type FeedRef, refreshFeed, type RefreshOptions } from "./refresh.ts";

/** How often a worker looks for due feeds; each feed's own period is RSS_POLL_MINUTES. */
export const TICK_MS = 30_000;
/** A claim outlives the slowest fetch by far; a worker that dies frees its feeds after this. */
export const LEASE_MS = 5 * 60_000;
const BATCH = 20;

type Deps = Pick<AppDeps, "db" | "clock" | "config" | "log" | "registry">;

/** Claims up to `limit` due feeds of any tenant for this worker (one statement, no races). */
export async function claimDueFeeds(deps: Deps, limit = BATCH): Promise<FeedRef[]> {
  const now = deps.clock();
  const until = new Date(now.getTime() + LEASE_MS);
  const r = await sql<FeedRef>`
    update rss_feeds f set lease_until = ${until}
    from (
      select tenant_id, id from rss_feeds
      where next_fetch_at <= ${now} and (lease_until is null or lease_until < ${now})
      order by next_fetch_at
      limit ${limit}
      for update skip locked
    ) due
    where f.tenant_id = due.tenant_id and f.id = due.id
    returning f.tenant_id, f.id, f.url, f.etag, f.last_modified`.execute(deps.db);
  return r.rows;
}

/** One round: claim, then refresh each feed whose tenant still has the plugin. */
export async function pollOnce(deps: Deps, opts: RefreshOptions = {}): Promise<number> {
  const feeds = await claimDueFeeds(deps);
  let fetched = 0;
  for (const f of feeds) {
    const enabled = await deps.registry.enabledForTenant(deps.db, f.tenant_id);
    if (!enabled.has("rss")) {
      // The tenant lost the feature: look again a period later, without fetching.
      const next = new Date(deps.clock().getTime() + deps.config.rssPollMs);
      await sql`update rss_feeds set next_fetch_at = ${next}, lease_until = null
        where tenant_id = ${f.tenant_id} and id = ${f.id}`.execute(deps.db);
      continue;
    }
    await refreshFeed(deps, f, opts);
    fetched++;
  }
  return fetched;
}

/** Starts polling; the returned stop() waits for a round in progress to finish. */
export function startPoller(deps: Deps, opts: { tickMs?: number } = {}) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const loop = () => {
    if (stopped) return;
    running = pollOnce(deps).catch((e) => {
      deps.log.error("rss poll failed", { error: String(e) });
    }).finally(() => {
      if (!stopped) timer = setTimeout(loop, opts.tickMs ?? TICK_MS);
    });
  };
  loop();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
