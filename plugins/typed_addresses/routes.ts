// API of typed_addresses, at /api/v1/typed-addresses: a person's address types, and a mailing's
// choice of address type to send to.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { bearer, body, errorsWithConflict, IdParam, json } from "../../routes/api/schemas.ts";
import { ADDRESS_TYPES, SendOptions } from "./options.ts";
import { mailingChoice, setMailingChoice, setTypes, typedAddresses } from "./store.ts";

const tags = ["Typed addresses"];
const errors = errorsWithConflict("The mailing changed since you read it, or is not a draft");

const TypedAddress = z.object({
  id: z.string(),
  address: z.string(),
  is_primary: z.boolean(),
  type: z.enum(ADDRESS_TYPES).nullable(),
}).openapi("TypedAddress");
const TypedAddresses = z.object({ items: z.array(TypedAddress) }).openapi("TypedAddresses");

const TypesInput = z.object({
  /** Address id → its type, or null to clear it. A type may be given to one address only. */
  types: z.record(z.uuid(), z.enum(ADDRESS_TYPES).nullable()),
}).strict();

const Choice = z.object({
  /** null: each person's primary address (the default). */
  choice: SendOptions.nullable(),
}).openapi("AddressChoice");
const ChoiceInput = Choice.extend({ version: z.number().int().min(1) }).strict();

export function typedAddressRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/persons/{id}",
      tags,
      security: bearer,
      summary: "A person's addresses with their types",
      request: { params: IdParam },
      responses: { 200: json(TypedAddresses, "The addresses"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const items = await typedAddresses(deps, tenant.id, c.req.valid("param").id);
      return c.json({ items }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/persons/{id}",
      tags,
      security: bearer,
      summary: "Set or clear the types of a person's addresses",
      request: { params: IdParam, body: body(TypesInput) },
      responses: { 200: json(TypedAddresses, "The addresses"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const items = await setTypes(
        deps,
        tenant.id,
        c.req.valid("param").id,
        c.req.valid("json").types,
        actorOf(c),
      );
      return c.json({ items }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/mailings/{id}",
      tags,
      security: bearer,
      summary: "Which address type a mailing is sent to",
      request: { params: IdParam },
      responses: { 200: json(Choice, "The choice"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const { choice } = await mailingChoice(deps, tenant.id, c.req.valid("param").id);
      return c.json({ choice }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/mailings/{id}",
      tags,
      security: bearer,
      summary: "Send a draft mailing to an address type (or back to the primary address)",
      request: { params: IdParam, body: body(ChoiceInput) },
      responses: { 200: json(Choice.extend({ version: z.number() }), "Saved"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const input = c.req.valid("json");
      const m = await setMailingChoice(deps, tenant.id, c.req.valid("param").id, input, actorOf(c));
      return c.json({ choice: input.choice, version: m.version }, 200);
    },
  );
}
