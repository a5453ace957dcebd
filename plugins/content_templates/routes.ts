// API of the content_templates plugin, at /api/v1/content-templates.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
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
import { MailingSchema } from "../../routes/api/mailings_schemas.ts";
import {
  createTemplate,
  deleteTemplate,
  getTemplate,
  listTemplates,
  mailingFromTemplate,
  setShared,
  TemplateCreate,
} from "./templates.ts";

const tags = ["Content templates"];
const errors = errorsWithConflict("Conflicts with existing data");

const TemplateSchema = z.object({
  id: z.string(),
  name: z.string(),
  subject: z.string(),
  preheader: z.string(),
  body_html: z.string(),
  design_template_version_id: z.string().nullable(),
  subscription_type_id: z.string().nullable(),
  subscription_type_name: z.string().nullable(),
  shared: z.boolean(),
  created_by: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("ContentTemplate");

export function contentTemplateRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/",
      tags,
      security: bearer,
      summary: "Your templates and those shared with the organisation, newest first",
      request: { query: PageParams },
      responses: { 200: json(pageOf(TemplateSchema, "ContentTemplatePage"), "A page"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const page = await listTemplates(
        deps,
        tenant.id,
        actorOf(c),
        PageQuery.parse(c.req.valid("query")),
      );
      return c.json({ items: page.items.map(jsonify), next_cursor: page.next_cursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/",
      tags,
      security: bearer,
      summary: "Save a mailing's content (mailing_id) or given content as a template",
      request: { headers: IdempotencyHeader, body: body(TemplateCreate) },
      responses: { 201: json(TemplateSchema, "The template"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const tpl = await createTemplate(deps, tenant.id, c.req.valid("json"), actorOf(c));
      return c.json(jsonify(tpl), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/{id}",
      tags,
      security: bearer,
      summary: "Get a template",
      request: { params: IdParam },
      responses: { 200: json(TemplateSchema, "The template"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const tpl = await getTemplate(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.json(jsonify(tpl), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/{id}",
      tags,
      security: bearer,
      summary: "Share with the organisation, or stop sharing (the author only)",
      request: { params: IdParam, body: body(z.object({ shared: z.boolean() }).strict()) },
      responses: { 200: json(TemplateSchema, "The template"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const { shared } = c.req.valid("json");
      const tpl = await setShared(deps, tenant.id, c.req.valid("param").id, shared, actorOf(c));
      return c.json(jsonify(tpl), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/{id}",
      tags,
      security: bearer,
      summary: "Delete a template (the author only); mailings made from it are kept",
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      await deleteTemplate(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/{id}/mailings",
      tags,
      security: bearer,
      summary: "Start a new draft mailing from the template (content and subscription type)",
      request: { headers: IdempotencyHeader, params: IdParam },
      responses: { 201: json(MailingSchema, "The new draft"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const m = await mailingFromTemplate(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.json(jsonify(m), 201);
    },
  );
}
