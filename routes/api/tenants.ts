// Operator API: create, list, change and suspend tenants; add their first users.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireOperator } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import {
  createTenant,
  getTenant,
  listTenants,
  TenantCreate,
  TenantPatch,
  updateTenant,
} from "../../core/tenants/tenants.ts";
import { createUser, listUsers, UserCreate } from "../../core/tenants/users.ts";
import {
  bearer,
  commonErrors,
  IdempotencyHeader,
  IdParam,
  json,
  pageOf,
  PageParams,
  TenantSchema,
  UserSchema,
} from "./schemas.ts";

const tags = ["Operator"];

export function tenantRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/tenants",
      tags,
      security: bearer,
      summary: "List tenants",
      request: { query: PageParams },
      responses: {
        200: json(pageOf(TenantSchema, "TenantPage"), "A page of tenants"),
        ...commonErrors,
      },
    }),
    async (c) => {
      requireOperator(c);
      const page = await listTenants(deps, c.req.valid("query"));
      return c.json({ items: page.items.map(jsonify), next_cursor: page.next_cursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/tenants",
      tags,
      security: bearer,
      summary: "Create a tenant",
      request: {
        headers: IdempotencyHeader,
        body: { content: { "application/json": { schema: TenantCreate } }, required: true },
      },
      responses: { 201: json(TenantSchema, "The new tenant"), ...commonErrors },
    }),
    async (c) => {
      requireOperator(c);
      const tenant = await createTenant(deps, c.req.valid("json"), actorOf(c));
      return c.json(jsonify(tenant), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/tenants/{id}",
      tags,
      security: bearer,
      summary: "Get a tenant",
      request: { params: IdParam },
      responses: { 200: json(TenantSchema, "The tenant"), ...commonErrors },
    }),
    async (c) => {
      requireOperator(c);
      return c.json(jsonify(await getTenant(deps, c.req.valid("param").id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/tenants/{id}",
      tags,
      security: bearer,
      summary: "Change a tenant's name, tier, add-ons, status (suspend) or defaults",
      request: {
        params: IdParam,
        body: { content: { "application/json": { schema: TenantPatch } }, required: true },
      },
      responses: { 200: json(TenantSchema, "The tenant as changed"), ...commonErrors },
    }),
    async (c) => {
      requireOperator(c);
      const row = await updateTenant(
        deps,
        c.req.valid("param").id,
        c.req.valid("json"),
        actorOf(c),
      );
      return c.json(jsonify(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/tenants/{id}/users",
      tags,
      security: bearer,
      summary: "List a tenant's staff users",
      request: { params: IdParam },
      responses: { 200: json(z.object({ items: z.array(UserSchema) }), "Users"), ...commonErrors },
    }),
    async (c) => {
      requireOperator(c);
      const id = c.req.valid("param").id;
      await getTenant(deps, id);
      return c.json({ items: (await listUsers(deps, id)).map(jsonify) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/tenants/{id}/users",
      tags,
      security: bearer,
      summary: "Add a staff user; returns a one-time link for choosing a password",
      request: {
        params: IdParam,
        headers: IdempotencyHeader,
        body: { content: { "application/json": { schema: UserCreate } }, required: true },
      },
      responses: {
        201: json(UserSchema.extend({ setup_url: z.string() }), "The user and set-up link"),
        ...commonErrors,
      },
    }),
    async (c) => {
      requireOperator(c);
      const { user, setupToken } = await createUser(
        deps,
        c.req.valid("param").id,
        c.req.valid("json"),
        actorOf(c),
      );
      return c.json(
        { ...jsonify(user), setup_url: `${deps.config.baseUrl}/password/setup/${setupToken}` },
        201,
      );
    },
  );
}
