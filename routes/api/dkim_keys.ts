// DKIM keys API: a tenant admin generates signing keys per sending domain and reads the DNS
// TXT records to publish. Private keys never leave the server.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenantAdmin } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import {
  deleteTenantDkimKey,
  DKIM_ALGORITHMS,
  DkimKeyCreate,
  generateTenantDkimKey,
  listTenantDkimKeys,
  setTenantDkimKeyActive,
} from "../../core/send/dkim_keys.ts";
import { bearer, body, errorsWithConflict, IdempotencyHeader, IdParam, json } from "./schemas.ts";

const errors = errorsWithConflict("The selector already holds a key for that domain");

const DkimKeySchema = z.object({
  id: z.string(),
  domain: z.string().openapi({ description: "The d= domain; signs mail From it and subdomains" }),
  selector: z.string(),
  algorithm: z.enum(DKIM_ALGORITHMS),
  dns_name: z.string().openapi({
    description: "Where to publish the TXT record",
    example: "skicka-rsa-202611._domainkey.example.com",
  }),
  dns_txt_value: z.string().openapi({
    description: "The TXT record value (split into 255-byte strings where DNS needs it)",
  }),
  active: z.boolean(),
  created_at: z.string(),
}).openapi("DkimKey");

const DkimKeyPatch = z.object({ active: z.boolean() }).openapi("DkimKeyPatch");

export function dkimKeyRoutes(app: OpenAPIHono, deps: AppDeps): void {
  const tags = ["DKIM keys"];

  app.openapi(
    createRoute({
      method: "get",
      path: "/dkim-keys",
      tags,
      security: bearer,
      summary: "List the organisation's DKIM keys with their DNS records (admins)",
      responses: {
        200: json(z.object({ items: z.array(DkimKeySchema) }), "Keys"),
        ...errors,
      },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      return c.json({ items: (await listTenantDkimKeys(deps, tenant.id)).map(jsonify) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/dkim-keys",
      tags,
      security: bearer,
      summary: "Generate a DKIM key (RSA-2048 or Ed25519) for a sending domain (admins)",
      description: "Mail From the domain or a subdomain is signed with its newest active key " +
        "of each algorithm; an RSA and an Ed25519 key together give two signatures (RFC 8463). " +
        "Publish the TXT record before sending, or receivers will see a failing signature.",
      request: { headers: IdempotencyHeader, body: body(DkimKeyCreate) },
      responses: { 201: json(DkimKeySchema, "The key and its DNS record"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      const key = await generateTenantDkimKey(deps, tenant.id, c.req.valid("json"), actorOf(c));
      return c.json(jsonify(key), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/dkim-keys/{id}",
      tags,
      security: bearer,
      summary: "Deactivate or re-activate a DKIM key (admins)",
      request: { params: IdParam, body: body(DkimKeyPatch) },
      responses: { 200: json(DkimKeySchema, "The key"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      const { id } = c.req.valid("param");
      const { active } = c.req.valid("json");
      return c.json(
        jsonify(await setTenantDkimKeyActive(deps, tenant.id, id, active, actorOf(c))),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/dkim-keys/{id}",
      tags,
      security: bearer,
      summary: "Delete a DKIM key for good (admins)",
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...errors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      await deleteTenantDkimKey(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.body(null, 204);
    },
  );
}
