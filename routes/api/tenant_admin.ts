// Tenant API: who am I, API keys and staff users of the caller's own tenant.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant, requireTenantAdmin } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import {
  createApiKey,
  getApiKey,
  listApiKeys,
  revokeApiKey,
  SCOPES,
} from "../../core/auth/api_keys.ts";
import { createUser, getUser, listUsers, UserCreate } from "../../core/tenants/users.ts";
import {
  ApiKeySchema,
  bearer,
  commonErrors,
  IdempotencyHeader,
  IdParam,
  json,
  TenantSchema,
  UserSchema,
} from "./schemas.ts";

export const ApiKeyCreate = z.object({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(z.enum(SCOPES)).min(1).default(["read", "write"]),
});

export function tenantAdminRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/me",
      tags: ["Account"],
      security: bearer,
      summary: "The caller's tenant, enabled features and key scopes",
      responses: {
        200: json(
          z.object({
            tenant: TenantSchema.pick({
              id: true,
              slug: true,
              name: true,
              tier: true,
              addons: true,
            }),
            plugins: z.array(z.string()),
            scopes: z.array(z.string()),
          }),
          "Who you are",
        ),
        ...commonErrors,
      },
    }),
    (c) => {
      const tenant = requireTenant(c, "read");
      const auth = c.get("auth")!;
      return c.json({
        tenant: {
          id: tenant.id,
          slug: tenant.slug,
          name: tenant.name,
          tier: tenant.tier,
          addons: tenant.addons,
        },
        plugins: [...c.get("plugins")].sort(),
        scopes: auth.kind === "api_key" ? auth.scopes : [...SCOPES],
      }, 200);
    },
  );

  const keyTags = ["API keys"];
  app.openapi(
    createRoute({
      method: "get",
      path: "/api-keys",
      tags: keyTags,
      security: bearer,
      summary: "List API keys (secrets are never shown again)",
      responses: { 200: json(z.object({ items: z.array(ApiKeySchema) }), "Keys"), ...commonErrors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      return c.json({ items: (await listApiKeys(deps, tenant.id)).map(jsonify) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api-keys",
      tags: keyTags,
      security: bearer,
      summary: "Create an API key; the response holds the key, shown only this once",
      request: {
        headers: IdempotencyHeader,
        body: { content: { "application/json": { schema: ApiKeyCreate } }, required: true },
      },
      responses: {
        201: json(ApiKeySchema.extend({ key: z.string() }), "The key, with its secret"),
        ...commonErrors,
      },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      const body = c.req.valid("json");
      const auth = c.get("auth");
      const created = await createApiKey(deps, {
        tenantId: tenant.id,
        name: body.name,
        scopes: body.scopes,
        createdBy: auth?.kind === "user" ? auth.user.id : null,
      });
      const row = await getApiKey(deps, tenant.id, created.id);
      return c.json({ ...jsonify(row), key: created.key }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api-keys/{id}",
      tags: keyTags,
      security: bearer,
      summary: "Get one API key",
      request: { params: IdParam },
      responses: { 200: json(ApiKeySchema, "The key"), ...commonErrors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      return c.json(jsonify(await getApiKey(deps, tenant.id, c.req.valid("param").id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api-keys/{id}",
      tags: keyTags,
      security: bearer,
      summary: "Revoke an API key",
      request: { params: IdParam },
      responses: { 200: json(ApiKeySchema, "The revoked key"), ...commonErrors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      const id = c.req.valid("param").id;
      await revokeApiKey(deps, tenant.id, id);
      return c.json(jsonify(await getApiKey(deps, tenant.id, id)), 200);
    },
  );

  const userTags = ["Users"];
  app.openapi(
    createRoute({
      method: "get",
      path: "/users",
      tags: userTags,
      security: bearer,
      summary: "List staff users",
      responses: { 200: json(z.object({ items: z.array(UserSchema) }), "Users"), ...commonErrors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      return c.json({ items: (await listUsers(deps, tenant.id)).map(jsonify) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/users/{id}",
      tags: userTags,
      security: bearer,
      summary: "Get a staff user",
      request: { params: IdParam },
      responses: { 200: json(UserSchema, "The user"), ...commonErrors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      return c.json(jsonify(await getUser(deps, tenant.id, c.req.valid("param").id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/users",
      tags: userTags,
      security: bearer,
      summary: "Add a staff user; returns a one-time link for choosing a password",
      request: {
        headers: IdempotencyHeader,
        body: { content: { "application/json": { schema: UserCreate } }, required: true },
      },
      responses: {
        201: json(UserSchema.extend({ setup_url: z.string() }), "The user and set-up link"),
        ...commonErrors,
      },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      const { user, setupToken } = await createUser(
        deps,
        tenant.id,
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
