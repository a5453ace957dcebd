// API of the webhooks plugin at /api/v1/webhooks (admin scope): endpoints, their delivery log,
// manual retry of a delivery, and a test event.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import { MAIL_EVENT_TYPES } from "../../core/plugin.ts";
import { bearer, body, errorsWithConflict, IdParam, json } from "../../routes/api/schemas.ts";
import {
  createEndpoint,
  deleteEndpoint,
  EndpointCreate,
  EndpointPatch,
  getEndpoint,
  listEndpoints,
  rotateSecret,
  updateEndpoint,
} from "./store.ts";
import { listDeliveries, retryDelivery, sendTestEvent } from "./deliveries.ts";

const tags = ["Webhooks"];
const errors = errorsWithConflict("Too many endpoints, or nothing to retry");

const EndpointSchema = z.object({
  id: z.string(),
  url: z.string(),
  description: z.string(),
  events: z.array(z.enum(MAIL_EVENT_TYPES)),
  enabled: z.boolean(),
  created_by: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("WebhookEndpoint");

const WithSecret = EndpointSchema.extend({
  secret: z.string().openapi({
    description: "The signing secret. Shown only in this answer; store it now.",
  }),
}).openapi("WebhookEndpointWithSecret");

const DeliverySchema = z.object({
  id: z.string(),
  attempted_at: z.string(),
  event_types: z.array(z.string()),
  events: z.number().int(),
  ok: z.boolean(),
  status_code: z.number().int().nullable(),
  error: z.string().nullable(),
  duration_ms: z.number().int(),
  manual: z.boolean(),
  test: z.boolean(),
  failed: z.number().int(),
}).openapi("WebhookDelivery");

const DeliveryParams = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" } }),
  deliveryId: z.string().openapi({ param: { name: "deliveryId", in: "path" } }),
});

const DeliveryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({
    param: { name: "limit", in: "query" },
  }),
  before: z.string().max(64).optional().openapi({
    param: { name: "before", in: "query" },
    description: "A delivery id: older attempts than it (paging back).",
  }),
});

export function webhookRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/",
      tags,
      security: bearer,
      summary: "The tenant's webhook endpoints",
      responses: {
        200: json(z.object({ items: z.array(EndpointSchema) }), "Endpoints"),
        ...errors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "admin");
      const items = await listEndpoints(deps, tenant.id);
      return c.json({ items: items.map((x) => jsonify(x)) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/",
      tags,
      security: bearer,
      summary: "Add an endpoint; the answer carries its signing secret, once",
      request: { body: body(EndpointCreate) },
      responses: { 201: json(WithSecret, "The endpoint and its secret"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "admin");
      const e = await createEndpoint(deps, tenant.id, c.req.valid("json"), actorOf(c), {
        locale: c.get("locale"),
      });
      return c.json(jsonify(e), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/{id}",
      tags,
      security: bearer,
      summary: "One endpoint (without its secret)",
      request: { params: IdParam },
      responses: { 200: json(EndpointSchema, "The endpoint"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "admin");
      return c.json(jsonify(await getEndpoint(deps, tenant.id, c.req.valid("param").id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/{id}",
      tags,
      security: bearer,
      summary: "Change the URL, event types, description, or enable/disable",
      request: { params: IdParam, body: body(EndpointPatch) },
      responses: { 200: json(EndpointSchema, "The endpoint"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "admin");
      const e = await updateEndpoint(
        deps,
        tenant.id,
        c.req.valid("param").id,
        c.req.valid("json"),
        actorOf(c),
        { locale: c.get("locale") },
      );
      return c.json(jsonify(e), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/{id}",
      tags,
      security: bearer,
      summary: "Delete an endpoint, its undelivered events and its log",
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "admin");
      await deleteEndpoint(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/{id}/secret",
      tags,
      security: bearer,
      summary: "Replace the signing secret; the new one is in the answer, once",
      request: { params: IdParam },
      responses: { 200: json(WithSecret, "The endpoint and its new secret"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "admin");
      const e = await rotateSecret(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.json(jsonify(e), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/{id}/deliveries",
      tags,
      security: bearer,
      summary: "Recent delivery attempts, newest first",
      request: { params: IdParam, query: DeliveryQuery },
      responses: {
        200: json(z.object({ items: z.array(DeliverySchema) }), "Attempts"),
        ...errors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "admin");
      const q = c.req.valid("query");
      const items = await listDeliveries(deps, tenant.id, c.req.valid("param").id, q);
      return c.json({ items: items.map((x) => jsonify(x)) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/{id}/deliveries/{deliveryId}/retry",
      tags,
      security: bearer,
      summary: "Send a delivery's failed events again now",
      request: { params: DeliveryParams },
      responses: {
        202: json(z.object({ requeued: z.number().int() }), "Queued for an attempt now"),
        ...errors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "admin");
      const { id, deliveryId } = c.req.valid("param");
      const r = await retryDelivery(deps, tenant.id, id, deliveryId, actorOf(c), c.get("locale"));
      return c.json(r, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/{id}/test",
      tags,
      security: bearer,
      summary: "Send a signed test event now and answer how the endpoint replied",
      request: { params: IdParam },
      responses: { 200: json(DeliverySchema, "The attempt"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "admin");
      const r = await sendTestEvent(deps, tenant.id, c.req.valid("param").id);
      return c.json(jsonify(r), 200);
    },
  );
}
