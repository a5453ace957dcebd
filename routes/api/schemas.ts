// Shared OpenAPI schemas and helpers for /api/v1 routes.
import { z } from "@hono/zod-openapi";
import { TIERS } from "../../core/tenants/tenants.ts";

export const ErrorSchema = z.object({
  error: z.object({
    code: z.string().openapi({ example: "not_found" }),
    message: z.string(),
    details: z.unknown().optional(),
  }),
}).openapi("Error");

const err = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorSchema } },
});

/** A JSON response of `schema`. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

/** A required JSON request body. */
export const body = <T extends z.ZodType>(schema: T) => ({
  content: { "application/json": { schema } },
  required: true,
});

/** The common errors plus a 409 with the given meaning. */
export const errorsWithConflict = (description: string) => ({
  ...commonErrors,
  409: err(description),
});

/** The error answers every authenticated route can give. */
export const commonErrors = {
  400: err("Invalid input; details name each field"),
  401: err("Missing or invalid credentials"),
  403: err("Not allowed, or the feature is not enabled for the tenant"),
  404: err("Not found (also for other tenants' resources)"),
} as const;

export const IdParam = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" }, example: "0193…" }),
});

export const PageParams = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({
    param: { name: "limit", in: "query" },
  }),
  cursor: z.string().max(200).optional().openapi({ param: { name: "cursor", in: "query" } }),
});

export const IdempotencyHeader = z.object({
  "idempotency-key": z.string().max(255).optional().openapi({
    param: { name: "idempotency-key", in: "header" },
    description: "Retrying with the same key returns the first result (kept 24 hours).",
  }),
});

export function pageOf<T extends z.ZodType>(item: T, name: string) {
  return z.object({ items: z.array(item), next_cursor: z.string().nullable() }).openapi(name);
}

export const TenantSchema = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  tier: z.enum(TIERS),
  addons: z.array(z.string()),
  status: z.enum(["active", "suspended"]),
  locale: z.string(),
  time_zone: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("Tenant");

export const UserSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.enum(["admin", "user"]),
  created_at: z.string(),
  last_login_at: z.string().nullable(),
  disabled_at: z.string().nullable(),
}).openapi("User");

export const ApiKeySchema = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(z.string()).openapi({ example: ["read", "write"] }),
  created_at: z.string(),
  last_used_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
}).openapi("ApiKey");

export const bearer = [{ bearer: [] }];
