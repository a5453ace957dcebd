// Bounce API: the tenant's undeliverable addresses (JSON pages or a CSV stream) and bounce policy.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant, requireTenantAdmin } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import { PageQuery } from "../../core/http/pagination.ts";
import { getBouncePolicy, setBouncePolicy } from "../../core/feedback/bounces.ts";
import {
  clearListed,
  listUndeliverable,
  undeliverableCsv,
} from "../../core/feedback/undeliverable.ts";
import { CLEAR_NOTE_MAX } from "../../core/people/persons.ts";
import { bearer, body, commonErrors, json, pageOf, PageParams } from "./schemas.ts";

const tags = ["Bounces"];

const UndeliverableSchema = z.object({
  id: z.string().openapi({
    description: "The address's id (a person's address, or a suppressed address of no person)",
  }),
  address: z.string(),
  person_id: z.string().nullable().openapi({
    description: "null: the address is not in the CRM (e.g. a transactional recipient)",
  }),
  reason: z.string().nullable().openapi({ example: "hard: unknown_user (5.1.1)" }),
  since: z.string(),
}).openapi("UndeliverableAddress");

const ClearedSchema = z.object({
  id: z.string(),
  address: z.string(),
  person_id: z.string().nullable(),
}).openapi("ClearedAddress");

const ClearBody = z.object({
  note: z.string().trim().max(CLEAR_NOTE_MAX).optional().openapi({
    description: "Why the address is unblocked (kept in the audit log)",
    example: "The customer confirmed the mailbox works again",
  }),
}).openapi("ClearListedAddress");

const PolicySchema = z.object({
  soft_threshold: z.number().int().min(1).max(100).openapi({ example: 3 }),
  soft_window_days: z.number().int().min(1).max(365).openapi({ example: 30 }),
}).openapi("BouncePolicy");

const csvResponse = { description: "CSV", content: { "text/csv": { schema: z.string() } } };

function csv(deps: AppDeps, tenantId: string, day: string): Response {
  return new Response(undeliverableCsv(deps, tenantId), {
    status: 200,
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="undeliverable-${day}.csv"`,
    },
  });
}

export function bounceRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/undeliverable",
      tags,
      security: bearer,
      summary:
        "Addresses flagged undeliverable, oldest first (?format=csv streams them all as CSV)",
      request: {
        query: PageParams.extend({
          format: z.enum(["json", "csv"]).default("json").openapi({
            param: { name: "format", in: "query" },
          }),
        }),
      },
      responses: {
        200: {
          description: "A page, or the CSV",
          content: {
            "application/json": { schema: pageOf(UndeliverableSchema, "UndeliverablePage") },
            "text/csv": { schema: z.string() },
          },
        },
        ...commonErrors,
      },
    }),
    // deno-lint-ignore no-explicit-any -- one route answers JSON or a CSV stream
    async (c): Promise<any> => {
      const tenant = requireTenant(c, "read");
      const q = c.req.valid("query");
      if (q.format === "csv") return csv(deps, tenant.id, deps.clock().toISOString().slice(0, 10));
      const page = await listUndeliverable(deps, tenant.id, PageQuery.parse(q));
      return c.json({ items: page.items.map(jsonify), next_cursor: page.next_cursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/undeliverable.csv",
      tags,
      security: bearer,
      summary: "All undeliverable addresses as CSV: address, person_id, reason, since",
      responses: { 200: csvResponse, ...commonErrors },
    }),
    (c) => {
      const tenant = requireTenant(c, "read");
      return csv(deps, tenant.id, deps.clock().toISOString().slice(0, 10)) as never;
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/undeliverable/{id}/clear",
      tags,
      security: bearer,
      summary: "Unblock an address of the undeliverable list, in the CRM or not (admins only)",
      description: "An optional note says why; it is kept in the audit log (and on the " +
        "person's timeline for a CRM address).",
      request: {
        params: z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) }),
        body: { ...body(ClearBody), required: false },
      },
      responses: { 200: json(ClearedSchema, "The unblocked address"), ...commonErrors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      const input = c.req.header("content-type")?.includes("json") ? c.req.valid("json") : {};
      return c.json(
        await clearListed(deps, tenant.id, c.req.valid("param").id, actorOf(c), {
          note: input.note,
        }),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/bounce-policy",
      tags,
      security: bearer,
      summary: "How many soft bounces within how many days make an address undeliverable",
      responses: { 200: json(PolicySchema, "The policy"), ...commonErrors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      return c.json(await getBouncePolicy(deps, tenant.id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/bounce-policy",
      tags,
      security: bearer,
      summary: "Change the soft-bounce policy (admins; one hard bounce always blocks)",
      request: { body: body(PolicySchema) },
      responses: { 200: json(PolicySchema, "The policy"), ...commonErrors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      return c.json(await setBouncePolicy(deps, tenant.id, c.req.valid("json"), actorOf(c)), 200);
    },
  );
}
