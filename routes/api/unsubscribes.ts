// Unsubscribes API: a person's unsubscribe history, unsubscribing on their behalf, and the staff
// re-subscribe (with a required note, audited). No public route re-subscribes anybody.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import {
  listUnsubscribes,
  resubscribe,
  unsubscribe,
  type UnsubscribeScope,
} from "../../core/feedback/unsubscribe.ts";
import { bearer, body, commonErrors, IdempotencyHeader, IdParam, json } from "./schemas.ts";

const tags = ["Persons"];

const UnsubscribeSchema = z.object({
  id: z.string(),
  address: z.string().nullable(),
  subscription_type_id: z.string().nullable().openapi({ description: "null: all mass mail" }),
  subscription_type_name: z.string().nullable(),
  source: z.enum(["one_click", "link", "mailto", "complaint", "staff", "api"]),
  send_id: z.string().nullable(),
  created_at: z.string(),
  resubscribed_at: z.string().nullable(),
  resubscribed_by: z.string().nullable(),
  note: z.string().nullable(),
}).openapi("Unsubscribe");

const Scope = z.object({
  subscription_type_id: z.uuid().nullable().default(null).openapi({
    description: "A subscription type, or null for all mass mail",
  }),
});

const ResubscribeBody = Scope.extend({
  note: z.string().trim().min(1).max(2000).openapi({
    description: "Why (e.g. the person asked by phone); kept with the row and in the audit log",
  }),
}).openapi("Resubscribe");

const toScope = (typeId: string | null): UnsubscribeScope =>
  typeId ? { kind: "type", subscriptionTypeId: typeId } : { kind: "all" };

export function unsubscribeRoutes(app: OpenAPIHono, deps: AppDeps) {
  app.openapi(
    createRoute({
      method: "get",
      path: "/persons/{id}/unsubscribes",
      tags,
      security: bearer,
      summary: "The person's unsubscribes (active and lifted), newest first",
      request: { params: IdParam },
      responses: {
        200: json(z.object({ items: z.array(UnsubscribeSchema) }), "Unsubscribes"),
        ...commonErrors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const items = await listUnsubscribes(deps, tenant.id, c.req.valid("param").id);
      return c.json({ items: items.map(jsonify) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/persons/{id}/unsubscribe",
      tags,
      security: bearer,
      summary: "Unsubscribe the person (from a type, or all mass mail) on their behalf",
      description: "Idempotent: created is false when an active unsubscribe already covers it. " +
        "Queued mass mail to the person (of that type) is cancelled at once.",
      request: { params: IdParam, headers: IdempotencyHeader, body: body(Scope) },
      responses: { 200: json(z.object({ created: z.boolean() }), "Done"), ...commonErrors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const r = await unsubscribe(deps, {
        tenantId: tenant.id,
        personId: c.req.valid("param").id,
        scope: toScope(c.req.valid("json").subscription_type_id),
        source: "api",
      });
      return c.json(r, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/persons/{id}/resubscribe",
      tags,
      security: bearer,
      summary: "Re-subscribe the person (staff only, with a note)",
      description: "With subscription_type_id null every active unsubscribe of the person is " +
        "lifted; with a type, only that type's. Rows are kept, stamped with who and why.",
      request: { params: IdParam, headers: IdempotencyHeader, body: body(ResubscribeBody) },
      responses: {
        200: json(z.object({ resubscribed: z.number().int() }), "How many were lifted"),
        ...commonErrors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const v = c.req.valid("json");
      const r = await resubscribe(deps, {
        tenantId: tenant.id,
        personId: c.req.valid("param").id,
        scope: toScope(v.subscription_type_id),
        actor: actorOf(c),
        note: v.note,
      });
      return c.json(r, 200);
    },
  );
}
