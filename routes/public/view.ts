// "View in browser": the signed link in a message (`{{view_in_browser_url}}`) shows that
// recipient's copy as a web page, merged as it was sent. No session; a bad token gets a plain
// 404. The page may hold personal data, so it is never cached, indexed or given a Referer, and it
// runs no script (CSP).
import { Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { notFound } from "./not_found.ts";
import { TokenSigner } from "../../core/feedback/tokens.ts";
import {
  compileContent,
  type Recipient,
  renderPageHtml,
  trackingSettings,
} from "../../core/send/render.ts";
import type { SendContent } from "../../core/send/queue.ts";

const PAGE_HEADERS = {
  "cache-control": "private, no-store",
  "x-robots-tag": "noindex, nofollow",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  // Mail HTML: inline styles and remote images, nothing that runs.
  "content-security-policy":
    "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; " +
    "font-src https: data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
};

export function viewRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  const signer = new TokenSigner(deps.secret);
  const tracking = trackingSettings(deps);

  app.get("/v/:token", async (c) => {
    const ref = signer.verifyMessage("view", c.req.param("token"));
    if (!ref) return notFound(c, deps, "view.not_found");
    const row = await deps.db.selectFrom("send_queue as q")
      .innerJoin(
        "sends as s",
        (j) => j.onRef("s.tenant_id", "=", "q.tenant_id").onRef("s.id", "=", "q.send_id"),
      )
      .leftJoin(
        "persons as p",
        (j) => j.onRef("p.tenant_id", "=", "q.tenant_id").onRef("p.id", "=", "q.person_id"),
      )
      .select([
        "q.address",
        "q.data",
        "q.send_id",
        "s.kind",
        "s.content",
        "p.first_name",
        "p.last_name",
        "p.organisation",
        "p.title",
        "p.language",
        "p.custom",
      ])
      .where("q.tenant_id", "=", ref.tenantId).where("q.id", "=", ref.queueId)
      .executeTakeFirst();
    if (!row) return notFound(c, deps, "view.not_found");
    const recipient: Recipient = {
      address: row.address,
      first_name: row.first_name ?? undefined,
      last_name: row.last_name ?? undefined,
      organisation: row.organisation ?? undefined,
      title: row.title ?? undefined,
      language: row.language,
      custom: (row.custom ?? undefined) as Record<string, unknown> | undefined,
      data: (row.data ?? undefined) as Record<string, unknown> | undefined,
    };
    const html = renderPageHtml(compileContent(row.content as SendContent), recipient, tracking, {
      tenantId: ref.tenantId,
      queueId: ref.queueId,
      sendId: row.send_id,
      kind: row.kind,
    });
    if (html === null) return notFound(c, deps, "view.not_found");
    return c.html(html, 200, PAGE_HEADERS);
  });

  return app;
}
