// Sender identities API: the From names and addresses a tenant may send as; admins manage and
// verify them, everyone with read access lists them (mailings offer only verified ones).
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant, requireTenantAdmin } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import {
  createSender,
  deleteSender,
  getSender,
  listSenders,
  SenderCreate,
  SenderPatch,
  updateSender,
  verifySender,
} from "../../core/mailings/senders.ts";
import { bearer, body, errorsWithConflict, IdempotencyHeader, IdParam, json } from "./schemas.ts";

const errors = errorsWithConflict("Another sender identity of the tenant has this address");

const SenderSchema = z.object({
  id: z.string(),
  name: z.string().openapi({ example: "Alumni office" }),
  address: z.string().openapi({ example: "alumni@example.edu" }),
  verified_at: z.string().nullable().openapi({
    description: "When an admin confirmed the address; only verified senders can send",
  }),
  verified_by: z.string().nullable(),
  created_by: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("SenderIdentity");

const ListQuery = z.object({
  verified: z.enum(["true", "false"]).optional().openapi({
    param: { name: "verified", in: "query" },
    description: "true: only verified identities (those a mailing may use)",
  }),
});

export function senderRoutes(app: OpenAPIHono, deps: AppDeps): void {
  const tags = ["Sender identities"];

  app.openapi(
    createRoute({
      method: "get",
      path: "/senders",
      tags,
      security: bearer,
      summary: "List the tenant's sender identities",
      request: { query: ListQuery },
      responses: {
        200: json(z.object({ items: z.array(SenderSchema) }), "The identities"),
        ...errors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const verifiedOnly = c.req.valid("query").verified === "true";
      const items = await listSenders(deps, tenant.id, { verifiedOnly });
      return c.json({ items: items.map(jsonify) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/senders",
      tags,
      security: bearer,
      summary: "Add a sender identity (unverified until an admin verifies it)",
      request: { headers: IdempotencyHeader, body: body(SenderCreate) },
      responses: { 201: json(SenderSchema, "The identity"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      const row = await createSender(deps, tenant.id, c.req.valid("json"), actorOf(c));
      return c.json(jsonify(row), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/senders/{id}",
      tags,
      security: bearer,
      summary: "Get a sender identity",
      request: { params: IdParam },
      responses: { 200: json(SenderSchema, "The identity"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      return c.json(jsonify(await getSender(deps, tenant.id, c.req.valid("param").id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/senders/{id}",
      tags,
      security: bearer,
      summary: "Change the name or address; a new address must be verified again",
      request: { params: IdParam, body: body(SenderPatch) },
      responses: { 200: json(SenderSchema, "The identity"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      const row = await updateSender(
        deps,
        tenant.id,
        c.req.valid("param").id,
        c.req.valid("json"),
        actorOf(c),
      );
      return c.json(jsonify(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/senders/{id}/verify",
      tags,
      security: bearer,
      summary: "Mark the identity verified: an admin confirms the address is the organisation's",
      request: { params: IdParam },
      responses: { 200: json(SenderSchema, "The identity"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      const row = await verifySender(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.json(jsonify(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/senders/{id}",
      tags,
      security: bearer,
      summary: "Remove a sender identity",
      request: { params: IdParam },
      responses: { 204: { description: "Removed" }, ...errors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      await deleteSender(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.body(null, 204);
    },
  );
}
