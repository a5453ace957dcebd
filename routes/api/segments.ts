// Segments API: saved dynamic audiences, their live counts and the persons they match now.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import { PageQuery } from "../../core/http/pagination.ts";
import {
  CONDITION_SCHEMAS,
  MAX_CONDITIONS,
  MAX_DEPTH,
  SegmentDefinition,
} from "../../core/people/segment_definition.ts";
import { countSegment } from "../../core/people/segments.ts";
import {
  createSegment,
  deleteSegment,
  getSegment,
  listSegments,
  previewSavedSegment,
  SegmentCreate,
  updateSegment,
} from "../../core/people/saved_segments.ts";
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

const errors = errorsWithConflict("The name is taken");
const noContent = { 204: { description: "Deleted" }, ...errors };

// The tree is validated by core (shape chosen by key, so errors name exact paths); for the
// document each condition shape is a component and a group refers to itself.
const CONDITION_NAMES: Record<keyof typeof CONDITION_SCHEMAS, string> = {
  field: "FieldCondition",
  tag: "TagCondition",
  list: "ListCondition",
  created: "CreatedCondition",
  updated: "UpdatedCondition",
  has_address: "AddressCondition",
  mailing: "MailingCondition",
};
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

// Wrapped in a schema made here: zod-openapi only adds .openapi() to schemas created after it
// loaded, and the core's schemas may be created first (depends on import order).
const Definition = z.lazy(() => SegmentDefinition).openapi("SegmentDefinition", {
  description: `A group of conditions combined with AND or OR; groups nest up to ${MAX_DEPTH} ` +
    `levels, with at most ${MAX_CONDITIONS} conditions in all. Text matches ignore case. ` +
    "Only active persons ever match. Conditions on mailings are reserved: they are refused " +
    "until mailings exist.",
  type: "object",
  properties: {
    op: { type: "string", enum: ["and", "or"] },
    conditions: {
      type: "array",
      maxItems: MAX_CONDITIONS,
      items: {
        anyOf: [...Object.values(CONDITION_NAMES).map(ref), ref("SegmentDefinition")],
      },
    },
  },
  required: ["op", "conditions"],
  example: {
    op: "or",
    conditions: [
      {
        op: "and",
        conditions: [
          { field: "organisation", match: "contains", value: "acme" },
          { tag: "vip", has: true },
        ],
      },
      { list: "0193e5a0-0000-7000-8000-000000000000", member: true },
    ],
  },
});

const SegmentSchema = z.object({
  id: z.string(),
  name: z.string(),
  definition: Definition,
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("Segment");

const SegmentCreateBody = SegmentCreate.extend({ definition: Definition });
const SegmentPatchBody = SegmentCreateBody.partial();

const PersonRef = z.object({
  id: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  organisation: z.string(),
  primary_address: z.string().nullable(),
}).openapi("SegmentPerson");

export function segmentRoutes(app: OpenAPIHono, deps: AppDeps): void {
  for (const [key, name] of Object.entries(CONDITION_NAMES)) {
    // As JSON Schema: the core's zod schemas may predate zod-openapi's .openapi() (see above).
    const schema = CONDITION_SCHEMAS[key as keyof typeof CONDITION_NAMES];
    app.openAPIRegistry.registerComponent(
      "schemas",
      name,
      z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as never,
    );
  }
  const tags = ["Segments"];

  app.openapi(
    createRoute({
      method: "get",
      path: "/segments",
      tags,
      security: bearer,
      summary: "List saved segments",
      request: { query: PageParams },
      responses: { 200: json(pageOf(SegmentSchema, "SegmentPage"), "A page"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const page = await listSegments(deps, tenant.id, PageQuery.parse(c.req.valid("query")));
      return c.json({ items: page.items.map(jsonify), next_cursor: page.next_cursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/segments",
      tags,
      security: bearer,
      summary: "Save a segment; the name must be unique in the organisation",
      request: { headers: IdempotencyHeader, body: body(SegmentCreateBody) },
      responses: { 201: json(SegmentSchema, "The segment"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const row = await createSegment(deps, tenant.id, c.req.valid("json"), actorOf(c));
      return c.json(jsonify(row), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/segments/count",
      tags,
      security: bearer,
      summary: "Count the persons a definition matches now (the editor's live count)",
      request: { body: body(Definition) },
      responses: { 200: json(z.object({ count: z.number().int() }), "The count"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      return c.json({ count: await countSegment(deps, tenant.id, c.req.valid("json")) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/segments/{id}",
      tags,
      security: bearer,
      summary: "Get a saved segment",
      request: { params: IdParam },
      responses: { 200: json(SegmentSchema, "The segment"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      return c.json(jsonify(await getSegment(deps, tenant.id, c.req.valid("param").id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/segments/{id}",
      tags,
      security: bearer,
      summary: "Rename a segment or replace its definition",
      request: { params: IdParam, body: body(SegmentPatchBody) },
      responses: { 200: json(SegmentSchema, "The segment"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const row = await updateSegment(
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
      method: "delete",
      path: "/segments/{id}",
      tags,
      security: bearer,
      summary: "Delete a saved segment",
      request: { params: IdParam },
      responses: noContent,
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      await deleteSegment(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/segments/{id}/persons",
      tags,
      security: bearer,
      summary: "The persons a saved segment matches now, a page at a time",
      request: { params: IdParam, query: PageParams },
      responses: { 200: json(pageOf(PersonRef, "SegmentPersonPage"), "A page"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const page = await previewSavedSegment(
        deps,
        tenant.id,
        c.req.valid("param").id,
        PageQuery.parse(c.req.valid("query")),
      );
      return c.json(page, 200);
    },
  );
}
