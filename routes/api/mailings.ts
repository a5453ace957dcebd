// Mailings API: drafts (create, autosave, copy, delete), listed and read; sending and the rest
// of a mailing's life are in mailings_send.ts.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import { PageQuery } from "../../core/http/pagination.ts";
import {
  copyMailing,
  createMailing,
  deleteMailing,
  getMailing,
  listMailings,
  MAILING_STATUSES,
  MailingCreate,
  MailingPatch,
  patchMailing,
} from "../../core/mailings/mailings.ts";
import { bearer, body, IdempotencyHeader, IdParam, json, pageOf, PageParams } from "./schemas.ts";
import { errors, MailingSchema, MailingSummarySchema, tags } from "./mailings_schemas.ts";
import { mailingSendRoutes } from "./mailings_send.ts";

const ListQuery = PageParams.extend({
  status: z.enum(MAILING_STATUSES).optional().openapi({ param: { name: "status", in: "query" } }),
  q: z.string().max(200).optional().openapi({
    param: { name: "q", in: "query" },
    description: "Words in the subject",
  }),
});

export function mailingRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/mailings",
      tags,
      security: bearer,
      summary: "List mailings, newest first, by status and subject words",
      request: { query: ListQuery },
      responses: { 200: json(pageOf(MailingSummarySchema, "MailingPage"), "A page"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const { status, q, ...page } = c.req.valid("query");
      const found = await listMailings(deps, tenant.id, { status, q }, PageQuery.parse(page));
      return c.json({ items: found.items.map(jsonify), next_cursor: found.next_cursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/mailings",
      tags,
      security: bearer,
      summary: "Create a draft; the body is sanitised on save",
      request: { headers: IdempotencyHeader, body: body(MailingCreate) },
      responses: { 201: json(MailingSchema, "The draft"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const m = await createMailing(deps, tenant.id, c.req.valid("json"), actorOf(c));
      return c.json(jsonify(m), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/mailings/{id}",
      tags,
      security: bearer,
      summary: "Get a mailing",
      request: { params: IdParam },
      responses: { 200: json(MailingSchema, "The mailing"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      return c.json(jsonify(await getMailing(deps, tenant.id, c.req.valid("param").id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/mailings/{id}",
      tags,
      security: bearer,
      summary: "Autosave a draft: the changed fields and the version last seen; 409 if stale",
      request: { params: IdParam, body: body(MailingPatch) },
      responses: { 200: json(MailingSchema, "The saved draft, with its new version"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const m = await patchMailing(
        deps,
        tenant.id,
        c.req.valid("param").id,
        c.req.valid("json"),
        actorOf(c),
      );
      return c.json(jsonify(m), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/mailings/{id}",
      tags,
      security: bearer,
      summary: "Delete a draft (other states are kept as history)",
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      await deleteMailing(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/mailings/{id}/copy",
      tags,
      security: bearer,
      summary: "Copy any mailing (with its attachments) into a new draft",
      request: { headers: IdempotencyHeader, params: IdParam },
      responses: { 201: json(MailingSchema, "The new draft"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const m = await copyMailing(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.json(jsonify(m), 201);
    },
  );

  mailingSendRoutes(app, deps);
}
