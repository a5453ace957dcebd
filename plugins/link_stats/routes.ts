// API of the link_stats plugin, at /api/v1/link-stats: per-link clicks of a send, JSON or CSV.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { requireTenant } from "../../core/http/context.ts";
import { bearer, commonErrors, IdParam, json } from "../../routes/api/schemas.ts";
import { linkStats, linkStatsCsv } from "./stats.ts";

const tags = ["Link statistics"];

const Counts = z.object({ total: z.number(), unique: z.number() });
const LinkStatsSchema = z.object({
  send_id: z.string(),
  links: z.array(z.object({
    index: z.number().openapi({ description: "Position among the send's tracked links (0-based)" }),
    url: z.string(),
    label: z.string().openapi({ description: "The link's text (or image alt text)" }),
    human: Counts,
    machine: Counts,
  })),
}).openapi("LinkStats");

export function linkStatsRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/sends/{id}",
      tags,
      security: bearer,
      summary: "Clicks per link of a send: unique and total, people and machines apart",
      request: { params: IdParam },
      responses: { 200: json(LinkStatsSchema, "Every tracked link"), ...commonErrors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const { id } = c.req.valid("param");
      return c.json({ send_id: id, links: await linkStats(deps, tenant.id, id) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/sends/{id}/links.csv",
      tags,
      security: bearer,
      summary: "The same table as CSV",
      request: { params: IdParam },
      responses: {
        200: { description: "CSV", content: { "text/csv": { schema: z.string() } } },
        ...commonErrors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const { id } = c.req.valid("param");
      const csv = linkStatsCsv(await linkStats(deps, tenant.id, id));
      return c.body(csv, 200, {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="links-${id}.csv"`,
      });
    },
  );
}
