// The REST API under /api/v1: one route table, OpenAPI document and local interactive docs.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { authenticate, requireOperator, requirePlugin } from "../../core/http/context.ts";
import { jsonError } from "../../core/http/errors.ts";
import { idempotency } from "../../core/http/idempotency.ts";
import { AppError } from "../../core/errors.ts";
import { tenantRoutes } from "./tenants.ts";
import { tenantAdminRoutes } from "./tenant_admin.ts";
import { docsRoutes } from "./docs.ts";
import { personRoutes } from "./persons.ts";
import { importRoutes } from "./imports.ts";
import { sendRoutes } from "./sends.ts";
import { segmentRoutes } from "./segments.ts";
import { listRoutes } from "./lists.ts";
import { bounceRoutes } from "./bounces.ts";
import { mailingRoutes } from "./mailings.ts";
import { unsubscribeRoutes } from "./unsubscribes.ts";
import { dkimKeyRoutes } from "./dkim_keys.ts";
import { designTemplateRoutes } from "./design_templates.ts";
import { senderRoutes } from "./senders.ts";
import { operatorDesignRoutes } from "./operator_design.ts";

export const API_VERSION = "0.1.0";

/** Every sub-app shares this hook, so a bad request body gets our error body, not Hono's. */
export function newApi(): OpenAPIHono {
  return new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) return jsonError(c, result.error);
    },
  });
}

/** Plugins' operator routes answer operators only, so a route cannot forget to check. */
const requireOperatorMw: MiddlewareHandler = async function operatorOnly(c, next) {
  requireOperator(c);
  await next();
};

export function apiRoutes(deps: AppDeps): OpenAPIHono {
  const api = newApi();
  // A POST that says JSON but sends nothing means "no body": routes whose body is optional (an
  // unblock note) then see none, instead of answering 400 for malformed JSON.
  api.use("*", async (c, next) => {
    if (c.req.raw.body === null && c.req.header("content-type")?.includes("json")) {
      const headers = new Headers(c.req.raw.headers);
      headers.delete("content-type");
      c.req.raw = new Request(c.req.raw, { headers });
    }
    await next();
  });
  api.use("*", authenticate(deps, "bearer"));
  api.use("*", idempotency(deps));
  api.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "A tenant API key (skk_…) or an operator key (sko_…)",
  });

  tenantAdminRoutes(api, deps);
  tenantRoutes(api, deps);
  operatorDesignRoutes(api, deps);
  personRoutes(api, deps);
  importRoutes(api, deps);
  segmentRoutes(api, deps);
  listRoutes(api, deps);
  bounceRoutes(api, deps);
  unsubscribeRoutes(api, deps);
  sendRoutes(api, deps);
  mailingRoutes(api, deps);
  dkimKeyRoutes(api, deps);
  designTemplateRoutes(api, deps);
  senderRoutes(api, deps);

  for (const plugin of deps.registry.all()) {
    if (!plugin.routes) continue;
    const sub = newApi();
    sub.use("*", requirePlugin(plugin.name));
    plugin.routes(sub, deps);
    api.route(`/${plugin.apiPath ?? plugin.name}`, sub);
  }
  for (const plugin of deps.registry.all()) {
    if (!plugin.operatorRoutes) continue;
    const sub = newApi();
    sub.use("*", requireOperatorMw);
    plugin.operatorRoutes(sub, deps);
    api.route(`/tenants/:id/${plugin.name}`, sub);
  }

  api.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Skicka API",
      version: API_VERSION,
      description: "Errors always have the body { error: { code, message, details } }. " +
        "Lists use cursor pagination (?limit=&cursor=, next_cursor in the answer). " +
        "POSTs that create things accept an Idempotency-Key header.",
    },
    servers: [{ url: `${deps.config.baseUrl}/api/v1` }],
  });
  docsRoutes(api);
  api.notFound(() => {
    throw new AppError("not_found");
  });
  api.onError((err, c) => jsonError(c, err));
  return api;
}
