// People API: persons, their addresses, lifecycle, contact notes and custom field definitions.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant, requireTenantAdmin } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import {
  addAddress,
  addNote,
  AddressInput,
  changeLifecycle,
  CLEAR_NOTE_MAX,
  clearUndeliverable,
  createCustomField,
  createPerson,
  CustomFieldCreate,
  getPerson,
  LIFECYCLE_ACTIONS,
  listCustomFields,
  listNotes,
  listPersons,
  makePrimary,
  NoteCreate,
  PersonCreate,
  PersonPatch,
  PersonQuery,
  removeAddress,
  updatePerson,
} from "../../core/people/persons.ts";
import { PageQuery } from "../../core/http/pagination.ts";
import { findDuplicates, MergeInput, mergePersons } from "../../core/people/merge.ts";
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

const errors = errorsWithConflict(
  "Conflicts with existing data (e.g. the address belongs to another person)",
);

const AddressSchema = z.object({
  id: z.string(),
  address: z.string(),
  is_primary: z.boolean(),
  type: z.string().nullable(),
  undeliverable_at: z.string().nullable(),
  undeliverable_reason: z.string().nullable(),
  cleared_at: z.string().nullable(),
  cleared_by: z.string().nullable(),
  created_at: z.string(),
}).openapi("Address");

const PersonSchema = z.object({
  id: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  organisation: z.string(),
  title: z.string(),
  language: z.string().nullable(),
  custom: z.record(z.string(), z.unknown()),
  tags: z.array(z.string()),
  status: z.enum(["active", "deleted", "deceased", "purged"]),
  status_changed_at: z.string().nullable(),
  status_changed_by: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  addresses: z.array(AddressSchema),
}).openapi("Person");

const PersonSummarySchema = z.object({
  id: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  organisation: z.string(),
  status: z.string(),
  tags: z.array(z.string()),
  primary_address: z.string().nullable(),
  undeliverable_at: z.string().nullable(),
}).openapi("PersonSummary");

const NoteSchema = z.object({
  id: z.string(),
  kind: z.enum(["manual", "mailing", "system"]),
  body: z.string(),
  author: z.string().nullable(),
  mailing_id: z.string().nullable(),
  subject: z.string().nullable(),
  delivered_at: z.string().nullable(),
  opened_at: z.string().nullable(),
  clicked_at: z.string().nullable(),
  bounced_at: z.string().nullable(),
  unsubscribed_at: z.string().nullable(),
  sent_at: z.string().nullable(),
  complained_at: z.string().nullable(),
  details: z.array(z.string()).openapi({ description: "event:detail, at most 20" }),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("ContactNote");

const AddressParams = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" } }),
  addressId: z.string().openapi({ param: { name: "addressId", in: "path" } }),
});

const tags = ["People"];

const ClearUndeliverableBody = z.object({
  note: z.string().trim().max(CLEAR_NOTE_MAX).optional().openapi({
    description: "Why the flag is cleared (kept in the audit log and on the timeline)",
    example: "The recipient confirmed by phone that the mailbox works again",
  }),
}).openapi("ClearUndeliverable");

export function personRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/persons",
      tags,
      security: bearer,
      summary: "Search persons by any part of the name or the start of any address",
      request: { query: PageParams.extend(PersonQuery.shape) },
      responses: { 200: json(pageOf(PersonSummarySchema, "PersonPage"), "A page"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const q = c.req.valid("query");
      const page = await listPersons(deps, tenant.id, PersonQuery.parse(q), PageQuery.parse(q));
      return c.json({ items: page.items.map(jsonify), next_cursor: page.next_cursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/persons",
      tags,
      security: bearer,
      summary: "Create a person; the first address becomes the primary one",
      request: { headers: IdempotencyHeader, body: body(PersonCreate) },
      responses: { 201: json(PersonSchema, "The person"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const person = await createPerson(deps, tenant.id, c.req.valid("json"), actorOf(c));
      return c.json(jsonify(person), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/persons/{id}",
      tags,
      security: bearer,
      summary: "Get a person with all addresses (primary first)",
      request: { params: IdParam },
      responses: { 200: json(PersonSchema, "The person"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      return c.json(jsonify(await getPerson(deps, tenant.id, c.req.valid("param").id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/persons/{id}",
      tags,
      security: bearer,
      summary: "Change fields; custom values are merged, tags replaced",
      request: { params: IdParam, body: body(PersonPatch) },
      responses: { 200: json(PersonSchema, "The person"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const person = await updatePerson(
        deps,
        tenant.id,
        c.req.valid("param").id,
        c.req.valid("json"),
        actorOf(c),
      );
      return c.json(jsonify(person), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/persons/{id}/addresses",
      tags,
      security: bearer,
      summary: "Add an address (unique in the tenant); primary: true makes it the sending one",
      request: {
        params: IdParam,
        body: body(AddressInput.extend({ primary: z.boolean().optional() })),
      },
      responses: { 200: json(PersonSchema, "The person"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const person = await addAddress(
        deps,
        tenant.id,
        c.req.valid("param").id,
        c.req.valid("json"),
        actorOf(c),
      );
      return c.json(jsonify(person), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/persons/{id}/addresses/{addressId}",
      tags,
      security: bearer,
      summary: "Remove an address; removing the primary promotes the oldest other one",
      request: { params: AddressParams },
      responses: { 200: json(PersonSchema, "The person"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const { id, addressId } = c.req.valid("param");
      return c.json(
        jsonify(await removeAddress(deps, tenant.id, id, addressId, actorOf(c))),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/persons/{id}/addresses/{addressId}/primary",
      tags,
      security: bearer,
      summary: "Make this address the primary (sending) address",
      request: { params: AddressParams },
      responses: { 200: json(PersonSchema, "The person"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const { id, addressId } = c.req.valid("param");
      return c.json(jsonify(await makePrimary(deps, tenant.id, id, addressId, actorOf(c))), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/persons/{id}/addresses/{addressId}/clear-undeliverable",
      tags,
      security: bearer,
      summary: "Unblock an address flagged undeliverable (admins only; noted on the timeline)",
      description: "An optional note says why; it is kept in the audit log and on the timeline.",
      request: {
        params: AddressParams,
        body: { ...body(ClearUndeliverableBody), required: false },
      },
      responses: { 200: json(PersonSchema, "The person"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      const { id, addressId } = c.req.valid("param");
      const input = c.req.header("content-type")?.includes("json") ? c.req.valid("json") : {};
      return c.json(
        jsonify(
          await clearUndeliverable(deps, tenant.id, id, addressId, actorOf(c), {
            note: input.note,
          }),
        ),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/persons/{id}/lifecycle",
      tags,
      security: bearer,
      summary: "delete (soft, undoable) · restore · deceased (addresses removed) · " +
        "purge (GDPR erasure: an anonymous stub remains)",
      request: {
        params: IdParam,
        body: body(z.object({ action: z.enum(LIFECYCLE_ACTIONS) })),
      },
      responses: { 200: json(PersonSchema, "The person"), ...errors },
    }),
    async (c) => {
      // Purging erases personal data for good: an admin decision.
      const { action } = c.req.valid("json");
      const tenant = action === "purge" ? requireTenantAdmin(c) : requireTenant(c, "write");
      const person = await changeLifecycle(
        deps,
        tenant.id,
        c.req.valid("param").id,
        action,
        actorOf(c),
      );
      return c.json(jsonify(person), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/persons/{id}/notes",
      tags,
      security: bearer,
      summary: "The person's timeline, newest first",
      request: { params: IdParam },
      responses: { 200: json(z.object({ items: z.array(NoteSchema) }), "Notes"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const items = await listNotes(deps, tenant.id, c.req.valid("param").id);
      return c.json({ items: items.map(jsonify) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/persons/{id}/notes",
      tags,
      security: bearer,
      summary: "Add a manual contact note",
      request: { params: IdParam, headers: IdempotencyHeader, body: body(NoteCreate) },
      responses: { 201: json(NoteSchema, "The note"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const note = await addNote(
        deps,
        tenant.id,
        c.req.valid("param").id,
        c.req.valid("json"),
        actorOf(c),
      );
      return c.json(jsonify(note), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/persons/{id}/merge",
      tags,
      security: bearer,
      summary: "Merge another person into this one: addresses, notes, tags and lists move here; " +
        "the other person is gone",
      request: { params: IdParam, body: body(MergeInput) },
      responses: { 200: json(PersonSchema, "The surviving person"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const person = await mergePersons(
        deps,
        tenant.id,
        c.req.valid("param").id,
        c.req.valid("json"),
        actorOf(c),
      );
      return c.json(jsonify(person), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/duplicates",
      tags,
      security: bearer,
      summary: "Likely duplicate persons (same name and organisation, or same address local part)",
      responses: {
        200: json(
          z.object({
            items: z.array(z.object({
              reason: z.enum(["same_name_and_organisation", "same_local_part"]),
              persons: z.array(z.object({
                id: z.string(),
                first_name: z.string(),
                last_name: z.string(),
                organisation: z.string(),
                primary_address: z.string().nullable(),
              })),
            })),
          }),
          "Groups of likely duplicates",
        ),
        ...errors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      return c.json({ items: await findDuplicates(deps, tenant.id) }, 200);
    },
  );

  const fieldTags = ["Custom fields"];
  const FieldSchema = z.object({
    key: z.string(),
    label: z.string(),
    type: z.enum(["text", "number", "date", "boolean"]),
    created_at: z.string(),
  }).openapi("CustomField");

  app.openapi(
    createRoute({
      method: "get",
      path: "/custom-fields",
      tags: fieldTags,
      security: bearer,
      summary: "The tenant's custom person fields",
      responses: { 200: json(z.object({ items: z.array(FieldSchema) }), "Fields"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      return c.json({ items: (await listCustomFields(deps, tenant.id)).map(jsonify) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/custom-fields",
      tags: fieldTags,
      security: bearer,
      summary: "Define a typed custom field (admins)",
      request: { body: body(CustomFieldCreate) },
      responses: { 201: json(FieldSchema, "The field"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenantAdmin(c);
      const field = await createCustomField(deps, tenant.id, c.req.valid("json"), actorOf(c));
      return c.json(jsonify(field), 201);
    },
  );
}
