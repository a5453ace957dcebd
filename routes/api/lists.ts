// Lists API: static lists of persons, filled by hand or in bulk, and their members.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import { PageQuery } from "../../core/http/pagination.ts";
import {
  addListMembers,
  createList,
  deleteList,
  getList,
  ListCreate,
  listLists,
  listMembers,
  ListPatch,
  PersonIds,
  removeListMembers,
  renameList,
} from "../../core/people/lists.ts";
import {
  bearer,
  body,
  errorsWithConflict,
  IdempotencyHeader,
  IdParam,
  json,
  pageOf,
  PageParams,
} from "./schemas.ts";

const errors = errorsWithConflict("The name is taken, or a saved segment still uses the list");
const noContent = { 204: { description: "Deleted" }, ...errors };

const ListSchema = z.object({
  id: z.string(),
  name: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("List");

const ListDetailSchema = ListSchema.extend({
  member_count: z.number().int().openapi({ description: "Active members" }),
}).openapi("ListDetail");

const MemberSchema = z.object({
  id: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  organisation: z.string(),
  primary_address: z.string().nullable(),
  added_at: z.string(),
}).openapi("ListMember");

const AddResultSchema = z.object({
  added: z.number().int(),
  unchanged: z.number().int().openapi({ description: "Already members" }),
  not_found: z.array(z.string()).openapi({
    description: "Ids that are not persons of this organisation; never added",
  }),
  not_active: z.array(z.string()).openapi({
    description: "Deleted, deceased or purged persons; not added",
  }),
}).openapi("ListAddResult");

export function listRoutes(app: OpenAPIHono, deps: AppDeps): void {
  const tags = ["Lists"];

  app.openapi(
    createRoute({
      method: "get",
      path: "/lists",
      tags,
      security: bearer,
      summary: "List static lists",
      request: { query: PageParams },
      responses: { 200: json(pageOf(ListSchema, "ListPage"), "A page"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const page = await listLists(deps, tenant.id, PageQuery.parse(c.req.valid("query")));
      return c.json({ items: page.items.map(jsonify), next_cursor: page.next_cursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/lists",
      tags,
      security: bearer,
      summary: "Create a static list; the name must be unique in the organisation",
      request: { headers: IdempotencyHeader, body: body(ListCreate) },
      responses: { 201: json(ListSchema, "The list"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      return c.json(
        jsonify(await createList(deps, tenant.id, c.req.valid("json"), actorOf(c))),
        201,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/lists/{id}",
      tags,
      security: bearer,
      summary: "Get a list with its number of active members",
      request: { params: IdParam },
      responses: { 200: json(ListDetailSchema, "The list"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      return c.json(jsonify(await getList(deps, tenant.id, c.req.valid("param").id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/lists/{id}",
      tags,
      security: bearer,
      summary: "Rename a list",
      request: { params: IdParam, body: body(ListPatch) },
      responses: { 200: json(ListSchema, "The list"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const { id } = c.req.valid("param");
      return c.json(
        jsonify(await renameList(deps, tenant.id, id, c.req.valid("json"), actorOf(c))),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/lists/{id}",
      tags,
      security: bearer,
      summary: "Delete a list (not its persons); refused while a saved segment uses it",
      request: { params: IdParam },
      responses: noContent,
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      await deleteList(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/lists/{id}/members",
      tags,
      security: bearer,
      summary: "The list's active members, a page at a time",
      request: { params: IdParam, query: PageParams },
      responses: { 200: json(pageOf(MemberSchema, "ListMemberPage"), "A page"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const page = await listMembers(
        deps,
        tenant.id,
        c.req.valid("param").id,
        PageQuery.parse(c.req.valid("query")),
      );
      return c.json({ items: page.items.map(jsonify), next_cursor: page.next_cursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/lists/{id}/members",
      tags,
      security: bearer,
      summary: "Add persons by id; other organisations' and inactive persons are never added",
      request: { params: IdParam, body: body(PersonIds) },
      responses: { 200: json(AddResultSchema, "What happened to each id"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const { id } = c.req.valid("param");
      return c.json(
        await addListMembers(deps, tenant.id, id, c.req.valid("json"), actorOf(c)),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/lists/{id}/members",
      tags,
      security: bearer,
      summary: "Remove persons from the list by id",
      request: { params: IdParam, body: body(PersonIds) },
      responses: {
        200: json(z.object({ removed: z.number().int() }), "How many were removed"),
        ...errors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const { id } = c.req.valid("param");
      return c.json(
        await removeListMembers(deps, tenant.id, id, c.req.valid("json"), actorOf(c)),
        200,
      );
    },
  );
}
