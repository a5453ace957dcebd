// Design templates API: the tenant's MJML designs, their immutable versions, validation.
//
// Without the design_templates plugin (Light) a tenant has one design, which only its admins
// (or admin-scoped keys) change; with it (Standard) staff with write access keep several,
// choose the default and archive old ones.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant, requireTenantAdmin } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import { localizeIssues } from "../../core/http/errors.ts";
import { AppError } from "../../core/errors.ts";
import { validateMjml } from "../../core/mailings/design_mjml.ts";
import {
  addDesignVersion,
  archiveDesignTemplate,
  createDesignTemplate,
  DesignCreate,
  DesignVersionCreate,
  getDesignTemplate,
  getDesignVersion,
  listDesignTemplates,
  mjmlFieldIssues,
  MULTI_DESIGN_PLUGIN,
  setDefaultDesign,
} from "../../core/mailings/design_store.ts";
import { bearer, body, errorsWithConflict, IdempotencyHeader, IdParam, json } from "./schemas.ts";

const errors = errorsWithConflict("The name is taken, the template is archived or the default");

export const TemplateSchema = z.object({
  id: z.string(),
  name: z.string(),
  is_default: z.boolean(),
  current_version_id: z.string().nullable(),
  created_by: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  archived_at: z.string().nullable(),
}).openapi("DesignTemplate");

export const VersionSchema = z.object({
  id: z.string(),
  template_id: z.string(),
  version: z.number().int(),
  content_hash: z.string(),
  created_by: z.string().nullable(),
  created_at: z.string(),
}).openapi("DesignTemplateVersion");

export const TemplateDetailSchema = TemplateSchema.extend({
  mjml: z.string().openapi({ description: "The MJML source of the current version" }),
  versions: z.array(VersionSchema).openapi({ description: "Newest first" }),
}).openapi("DesignTemplateDetail");

const VersionDetailSchema = VersionSchema.extend({ mjml: z.string() })
  .openapi("DesignTemplateVersionDetail");

const MjmlIssueSchema = z.object({
  path: z.string(),
  code: z.string().openapi({ example: "mjml" }),
  message: z.string(),
  line: z.number().int().nullable().openapi({ description: "Line in the MJML source" }),
  tag: z.string().nullable().openapi({ example: "mj-text" }),
}).openapi("MjmlIssue");

const ValidationSchema = z.object({
  valid: z.boolean(),
  errors: z.array(MjmlIssueSchema),
}).openapi("MjmlValidation");

const ListQuery = z.object({
  include_archived: z.enum(["true", "false"]).optional().openapi({
    param: { name: "include_archived", in: "query" },
  }),
});

const VersionParams = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" } }),
  versionId: z.string().openapi({ param: { name: "versionId", in: "path" } }),
});

/** Who may change designs: admins only, unless the tenant has the plugin. */
function requireDesignEditor(c: Context) {
  if (c.get("plugins").has(MULTI_DESIGN_PLUGIN)) return requireTenant(c, "write");
  return requireTenantAdmin(c);
}

function requireMultiple(c: Context) {
  const tenant = requireTenant(c, "write");
  if (!c.get("plugins").has(MULTI_DESIGN_PLUGIN)) {
    throw new AppError("plugin_not_enabled", { plugin: MULTI_DESIGN_PLUGIN });
  }
  return tenant;
}

export function designTemplateRoutes(app: OpenAPIHono, deps: AppDeps): void {
  const tags = ["Design templates"];

  app.openapi(
    createRoute({
      method: "get",
      path: "/design-templates",
      tags,
      security: bearer,
      summary: "List the tenant's design templates, the default first",
      request: { query: ListQuery },
      responses: {
        200: json(z.object({ items: z.array(TemplateSchema) }), "The templates"),
        ...errors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const includeArchived = c.req.valid("query").include_archived === "true";
      const items = await listDesignTemplates(deps, tenant.id, { includeArchived });
      return c.json({ items: items.map(jsonify) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/design-templates/validate",
      tags,
      security: bearer,
      summary: "Check an MJML source with strict validation; errors carry line numbers",
      description: "The source must contain the content slot `[[content]]`; optional slots are " +
        "`[[preheader]]`, `[[header]]` and `[[footer]]`.",
      request: { body: body(DesignVersionCreate) },
      responses: { 200: json(ValidationSchema, "The outcome"), ...errors },
    }),
    async (c) => {
      requireTenant(c, "read");
      const r = await validateMjml(c.req.valid("json").mjml);
      const issues = localizeIssues(c.get("locale"), mjmlFieldIssues(r.issues));
      return c.json({ valid: r.ok, errors: issues }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/design-templates",
      tags,
      security: bearer,
      summary: "Create a design template from valid MJML",
      description: "Without the design_templates plugin a tenant has at most one (403 " +
        "plugin_not_enabled for a second), created by an admin. A tenant's first template " +
        "becomes its default.",
      request: { headers: IdempotencyHeader, body: body(DesignCreate) },
      responses: { 201: json(TemplateSchema, "The template"), ...errors },
    }),
    async (c) => {
      const tenant = requireDesignEditor(c);
      const multiple = c.get("plugins").has(MULTI_DESIGN_PLUGIN);
      const row = await createDesignTemplate(deps, tenant.id, c.req.valid("json"), actorOf(c), {
        multiple,
      });
      return c.json(jsonify(row), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/design-templates/{id}",
      tags,
      security: bearer,
      summary: "Get a template with its current MJML and all versions",
      request: { params: IdParam },
      responses: { 200: json(TemplateDetailSchema, "The template"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const row = await getDesignTemplate(deps, tenant.id, c.req.valid("param").id);
      return c.json(jsonify(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/design-templates/{id}/versions/{versionId}",
      tags,
      security: bearer,
      summary: "Get one version with its MJML source",
      request: { params: VersionParams },
      responses: { 200: json(VersionDetailSchema, "The version"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const { id, versionId } = c.req.valid("param");
      const row = await getDesignVersion(deps, tenant.id, versionId);
      if (row.template_id !== id) throw new AppError("not_found");
      return c.json(jsonify(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/design-templates/{id}/versions",
      tags,
      security: bearer,
      summary: "Save an edit as a new version, which becomes current",
      description: "Versions are never changed: mailings keep the version they used.",
      request: { params: IdParam, body: body(DesignVersionCreate) },
      responses: { 201: json(VersionSchema, "The new version"), ...errors },
    }),
    async (c) => {
      const tenant = requireDesignEditor(c);
      const row = await addDesignVersion(
        deps,
        tenant.id,
        c.req.valid("param").id,
        c.req.valid("json"),
        actorOf(c),
      );
      return c.json(jsonify(row), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/design-templates/{id}/default",
      tags,
      security: bearer,
      summary: "Make the template the default design (design_templates plugin)",
      request: { params: IdParam },
      responses: { 200: json(TemplateSchema, "The template"), ...errors },
    }),
    async (c) => {
      const tenant = requireMultiple(c);
      const row = await setDefaultDesign(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.json(jsonify(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/design-templates/{id}/archive",
      tags,
      security: bearer,
      summary: "Archive a template that is not the default (design_templates plugin)",
      request: { params: IdParam },
      responses: { 200: json(TemplateSchema, "The template"), ...errors },
    }),
    async (c) => {
      const tenant = requireMultiple(c);
      const row = await archiveDesignTemplate(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.json(jsonify(row), 200);
    },
  );
}
