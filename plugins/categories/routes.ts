// API of the categories plugin, at /api/v1/categories: manage categories (admin), assign them
// to mailings, list a category's mailings, and statistics per category over a period.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant, requireTenantAdmin } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import { PageQuery } from "../../core/http/pagination.ts";
import {
  bearer,
  body,
  errorsWithConflict,
  IdempotencyHeader,
  IdParam,
  json,
  pageOf,
  PageParams,
} from "../../routes/api/schemas.ts";
import {
  assignCategories,
  type Category,
  categoryStats,
  createCategory,
  deleteCategory,
  getCategory,
  listCategories,
  mailingCategories,
  mailingsInCategory,
  updateCategory,
} from "./categories.ts";
import { getMailing } from "../../core/mailings/mailings.ts";
import { speaking } from "./issues.ts";

const tags = ["Categories"];
const errors = errorsWithConflict("A category with that name exists");

const CategorySchema = z.object({
  id: z.string(),
  name: z.string(),
  colour: z.string().nullable().openapi({ example: "#1f6feb" }),
  mailings: z.number().openapi({ description: "Mailings with this category" }),
  created_at: z.string(),
}).openapi("Category");

const CategoryBody = z.object({
  name: z.string().max(100),
  colour: z.string().max(7).nullable().optional().openapi({ description: "#rrggbb or null" }),
}).strict().openapi("CategoryInput");

const Labels = z.object({
  items: z.array(z.object({ id: z.string(), name: z.string(), colour: z.string().nullable() })),
}).openapi("MailingCategories");

const MailingSummarySchema = z.object({
  id: z.string(),
  status: z.string(),
  subject: z.string(),
  send_id: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  sent_at: z.string().nullable(),
}).passthrough().openapi("CategoryMailing");

const Totals = z.object({
  sends: z.number(),
  recipients: z.number(),
  sent: z.number(),
  failed: z.number(),
  bouncedHard: z.number(),
  bouncedSoft: z.number(),
  complaints: z.number(),
  uniqueOpens: z.number(),
  uniqueClicks: z.number(),
  machineOpens: z.number(),
  machineClicks: z.number(),
});

const cat = (c: Category) => ({ ...c, created_at: new Date(c.created_at).toISOString() });

export function categoryRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/",
      tags,
      security: bearer,
      summary: "The tenant's categories by name, with their number of mailings",
      responses: {
        200: json(z.object({ items: z.array(CategorySchema) }).openapi("CategoryList"), "All"),
        ...errors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      return c.json({ items: (await listCategories(deps, tenant.id)).map(cat) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/",
      tags,
      security: bearer,
      summary: "Add a category (admin)",
      request: { headers: IdempotencyHeader, body: body(CategoryBody) },
      responses: { 201: json(CategorySchema, "The category"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      const r = await speaking(
        c.get("locale"),
        () => createCategory(deps, tenant.id, c.req.valid("json"), actorOf(c)),
      );
      return c.json(cat(r), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/stats",
      tags,
      security: bearer,
      summary: "Period statistics per category (days in the tenant's time zone, both included)",
      description: "Totals over the sends started in the period (test sends left out), for the " +
        "mailings of each category. A mailing in two categories counts in both.",
      request: {
        query: z.object({
          from: z.string().openapi({ param: { name: "from", in: "query" }, example: "2027-01-01" }),
          to: z.string().openapi({ param: { name: "to", in: "query" }, example: "2027-01-31" }),
        }),
      },
      responses: {
        200: json(
          z.object({
            from: z.string(),
            to: z.string(),
            time_zone: z.string(),
            items: z.array(z.object({ category: CategorySchema, stats: Totals })),
          }).openapi("CategoryStats"),
          "Per category",
        ),
        ...errors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const tz = c.get("timeZone");
      const r = await speaking(
        c.get("locale"),
        () => categoryStats(deps, tenant.id, c.req.valid("query"), tz),
      );
      return c.json({
        from: r.from.toISOString(),
        to: r.to.toISOString(),
        time_zone: tz,
        items: r.rows.map((x) => ({ category: cat(x.category), stats: x.stats })),
      }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/{id}",
      tags,
      security: bearer,
      summary: "Get a category",
      request: { params: IdParam },
      responses: { 200: json(CategorySchema, "The category"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      return c.json(cat(await getCategory(deps, tenant.id, c.req.valid("param").id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/{id}",
      tags,
      security: bearer,
      summary: "Rename or recolour a category (admin)",
      request: { params: IdParam, body: body(CategoryBody.partial()) },
      responses: { 200: json(CategorySchema, "The category"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      const r = await speaking(c.get("locale"), () =>
        updateCategory(
          deps,
          tenant.id,
          c.req.valid("param").id,
          c.req.valid("json"),
          actorOf(c),
        ));
      return c.json(cat(r), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/{id}",
      tags,
      security: bearer,
      summary: "Delete a category (admin); its mailings only lose the label",
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...errors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      await deleteCategory(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/{id}/mailings",
      tags,
      security: bearer,
      summary: "The mailings of a category, newest first",
      request: { params: IdParam, query: PageParams },
      responses: {
        200: json(pageOf(MailingSummarySchema, "CategoryMailingPage"), "A page"),
        ...errors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const page = await mailingsInCategory(
        deps,
        tenant.id,
        c.req.valid("param").id,
        PageQuery.parse(c.req.valid("query")),
      );
      return c.json({ items: page.items.map(jsonify), next_cursor: page.next_cursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/mailings/{id}",
      tags,
      security: bearer,
      summary: "The categories of a mailing",
      request: { params: IdParam },
      responses: { 200: json(Labels, "Its categories"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const id = c.req.valid("param").id;
      await getMailing(deps, tenant.id, id); // 404 for another tenant's mailing
      return c.json({ items: await mailingCategories(deps, tenant.id, id) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/mailings/{id}",
      tags,
      security: bearer,
      summary: "Set the categories of a mailing (replaces them; [] removes all)",
      request: {
        params: IdParam,
        body: body(z.object({ category_ids: z.array(z.string()) }).strict()),
      },
      responses: { 200: json(Labels, "Its categories now"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const items = await speaking(c.get("locale"), () =>
        assignCategories(
          deps,
          tenant.id,
          c.req.valid("param").id,
          c.req.valid("json"),
          actorOf(c),
        ));
      return c.json({ items }, 200);
    },
  );
}
