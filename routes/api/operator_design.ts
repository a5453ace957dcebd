// Operator API: set up a tenant's default design template (a Light tenant's only one) for it.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireOperator } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import { AppError } from "../../core/errors.ts";
import { getTenant } from "../../core/tenants/tenants.ts";
import {
  defaultDesignOf,
  DefaultDesignSave,
  getDesignTemplate,
  saveDefaultDesign,
} from "../../core/mailings/design_store.ts";
import { bearer, body, commonErrors, IdParam, json } from "./schemas.ts";
import { TemplateDetailSchema } from "./design_templates.ts";

const tags = ["Operator"];

const SavedSchema = TemplateDetailSchema.extend({
  created: z.boolean().openapi({ description: "True when this call created the design" }),
}).openapi("TenantDesignSaved");

async function detailOf(deps: AppDeps, tenantId: string) {
  const current = await defaultDesignOf(deps, tenantId);
  if (!current) throw new AppError("not_found");
  return await getDesignTemplate(deps, tenantId, current.id);
}

export function operatorDesignRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/tenants/{id}/design",
      tags,
      security: bearer,
      summary: "Get a tenant's default design template with its MJML and versions",
      description: "404 when the tenant has no design yet (its mailings use the built-in one).",
      request: { params: IdParam },
      responses: { 200: json(TemplateDetailSchema, "The design"), ...commonErrors },
    }),
    async (c) => {
      requireOperator(c);
      const tenant = await getTenant(deps, c.req.valid("param").id);
      return c.json(jsonify(await detailOf(deps, tenant.id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/tenants/{id}/design",
      tags,
      security: bearer,
      summary: "Set up a tenant's default design template from valid MJML",
      description: "Creates the design (then `name` is required) when the tenant has none, " +
        "else saves the MJML as a new version of its default design. MJML errors answer 400 " +
        "with each problem's `line` and `tag`. Audited in the tenant's log with the operator " +
        "as the actor.",
      request: { params: IdParam, body: body(DefaultDesignSave) },
      responses: {
        200: json(SavedSchema, "A new version of the design"),
        201: json(SavedSchema, "The design, created"),
        ...commonErrors,
      },
    }),
    async (c) => {
      requireOperator(c);
      const tenant = await getTenant(deps, c.req.valid("param").id);
      const r = await saveDefaultDesign(deps, tenant.id, c.req.valid("json"), actorOf(c));
      const detail = await getDesignTemplate(deps, tenant.id, r.template.id);
      return c.json({ ...jsonify(detail), created: r.created }, r.created ? 201 : 200);
    },
  );
}
