// Public tracking endpoints (no session, no CSRF): the open pixel and the click redirect.
// The pixel answers at once whatever the token; the click redirects only to the URL that was at
// that position in that message's mailing, and anything else gets a plain 404, never a redirect.
import { type Context, Hono } from "hono";
import { sql } from "kysely";
import type { AppDeps } from "../../core/deps.ts";
import { notFound } from "./not_found.ts";
import { TokenSigner } from "../../core/feedback/tokens.ts";
import { SAFE_URL } from "../../core/feedback/tracking.ts";
import { compileContent } from "../../core/send/render.ts";
import { streamMessageLinks } from "../../core/send/stream_render.ts";
import { RecentActivity, trackingRecorder } from "../../core/feedback/events.ts";
import {
  classifyClick,
  classifyOpen,
  machineRules,
  truncateIp,
} from "../../core/feedback/machine.ts";
import type { SendContent } from "../../core/send/queue.ts";

/** A 1×1 transparent GIF (43 bytes). */
export const PIXEL_GIF = Uint8Array.from(
  atob("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="),
  (ch) => ch.charCodeAt(0),
);

const PIXEL_HEADERS = {
  "content-type": "image/gif",
  "content-length": String(PIXEL_GIF.length),
  "cache-control": "no-store, no-cache, must-revalidate, max-age=0",
  pragma: "no-cache",
  expires: "0",
};

export function trackingRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  const signer = new TokenSigner(deps.secret);
  const recorder = trackingRecorder(deps);
  const rules = machineRules({
    appleNetworks: deps.config.trackingAppleNetworks,
    machineNetworks: deps.config.trackingMachineNetworks,
    scannerMs: deps.config.trackingScannerMs,
  });
  const recent = new RecentActivity();
  // A send's content is frozen: its tracked links are found once per process (bounded).
  const linksOf = new Map<string, string[]>();
  const streams = new Set<string>();

  app.get("/t/o/:file", function openPixel(c) {
    const file = c.req.param("file");
    const ref = file.endsWith(".gif") ? signer.verifyMessage("open", file.slice(0, -4)) : null;
    if (ref) {
      const hit = {
        method: c.req.method,
        userAgent: c.req.header("user-agent") ?? null,
        ip: ipOf(c),
      };
      const reason = classifyOpen(hit, rules);
      recent.opened(ref.queueId);
      recorder.record({
        tenantId: ref.tenantId,
        queueId: ref.queueId,
        kind: "open",
        link: null,
        url: null,
        userAgent: hit.userAgent,
        ip: truncateIp(hit.ip),
        machine: reason !== null,
        reason,
        at: deps.clock(),
      });
    }
    return new Response(c.req.method === "HEAD" ? null : PIXEL_GIF, { headers: PIXEL_HEADERS });
  });

  app.get("/t/c/:token", async function clickRedirect(c) {
    const ref = signer.verifyClick(c.req.param("token"));
    if (!ref) return notFound(c, deps, "tracking.link_not_found");
    const row = await deps.db.selectFrom("send_queue as q")
      .select([
        "q.send_id",
        "q.sent_at",
        "q.data",
        sql<boolean>`exists (select 1 from tracking_events e where e.tenant_id = q.tenant_id
          and e.queue_id = q.id and e.kind = 'open')`.as("opened"),
      ])
      .where("q.tenant_id", "=", ref.tenantId).where("q.id", "=", ref.queueId)
      .executeTakeFirst();
    if (!row) return notFound(c, deps, "tracking.link_not_found");
    const links = await mailingLinks(ref.tenantId, row.send_id, row.data);
    const url = links?.[ref.link];
    if (url === undefined || !SAFE_URL.test(url)) {
      return notFound(c, deps, "tracking.link_not_found");
    }

    const at = deps.clock();
    const seen = recent.get(ref.queueId);
    const hit = {
      method: c.req.method,
      userAgent: c.req.header("user-agent") ?? null,
      ip: ipOf(c),
    };
    const reason = classifyClick({
      ...hit,
      at,
      sentAt: row.sent_at ? new Date(row.sent_at) : null,
      opened: Boolean(row.opened) || (seen?.opened ?? false),
      link: ref.link,
      linkCount: links!.length,
      recent: seen?.clicks ?? [],
    }, rules);
    recent.clicked(ref.queueId, ref.link, at.getTime());
    recorder.record({
      tenantId: ref.tenantId,
      queueId: ref.queueId,
      kind: "click",
      link: ref.link,
      url,
      userAgent: hit.userAgent,
      ip: truncateIp(hit.ip),
      machine: reason !== null,
      reason,
      at,
    });
    c.header("cache-control", "no-store");
    return c.redirect(url, 302);
  });

  async function mailingLinks(
    tenantId: string,
    sendId: string,
    data: unknown,
  ): Promise<string[] | null> {
    const key = `${tenantId}/${sendId}`;
    // A transactional stream's messages each carry their own content (and links).
    if (streams.has(key)) return streamMessageLinks(data);
    const hit = linksOf.get(key);
    if (hit) return hit;
    const send = await deps.db.selectFrom("sends").select(["content", "stream"])
      .where("tenant_id", "=", tenantId).where("id", "=", sendId).executeTakeFirst();
    if (!send) return null;
    if (send.stream !== null) {
      if (streams.size >= 10_000) streams.clear();
      streams.add(key);
      return streamMessageLinks(data);
    }
    // The same derivation the render stage used, so positions always agree.
    const links = compileContent(send.content as SendContent).links;
    if (linksOf.size >= 500) linksOf.delete(linksOf.keys().next().value!);
    linksOf.set(key, links);
    return links;
  }

  return app;
}

/** The peer address (X-Forwarded-For is not trusted, as elsewhere in Skicka). */
function ipOf(c: Context): string | null {
  const info = (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr;
  return info?.hostname ?? null;
}
