// Operator API of a tenant's relay networks, at /api/v1/tenants/{id}/transactional/relay-networks
// (operators only: the core mounts plugins' operator routes behind requireOperator).
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import { getTenant } from "../../core/tenants/tenants.ts";
import { bearer, body, commonErrors, IdParam, json } from "../../routes/api/schemas.ts";
import {
  addRelayNetwork,
  listRelayNetworks,
  RelayNetworkCreate,
  removeRelayNetwork,
} from "./relay_networks.ts";

const tags = ["Operator"];

const NetworkSchema = z.object({
  id: z.string(),
  network: z.string().openapi({ example: "192.0.2.0/24" }),
  note: z.string(),
  created_at: z.string(),
  created_by: z.string(),
}).openapi("RelayNetwork");

const NetworkCreate = RelayNetworkCreate.extend({
  network: RelayNetworkCreate.shape.network.openapi({
    description: "CIDR; IPv4 /16 or narrower, IPv6 /48 or narrower; no host bits set",
    example: "192.0.2.0/24",
  }),
}).openapi("RelayNetworkCreate");

const NetworkParams = IdParam.extend({
  network_id: z.string().openapi({ param: { name: "network_id", in: "path" } }),
});

export function relayNetworkRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/relay-networks",
      tags,
      security: bearer,
      summary: "List a tenant's SMTP relay networks",
      request: { params: IdParam },
      responses: {
        200: json(z.object({ items: z.array(NetworkSchema) }), "The networks"),
        ...commonErrors,
      },
    }),
    async (c) => {
      const tenant = await getTenant(deps, c.req.valid("param").id);
      return c.json({ items: (await listRelayNetworks(deps, tenant.id)).map(jsonify) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/relay-networks",
      tags,
      security: bearer,
      summary: "Add an SMTP relay network: its clients submit as the tenant without AUTH",
      description: "400 names `network` when it is not a CIDR, has host bits set, is broader " +
        "than /16 (IPv4) or /48 (IPv6), is already the tenant's, or overlaps another " +
        "tenant's network. Audited in the tenant's log with the operator as the actor.",
      request: { params: IdParam, body: body(NetworkCreate) },
      responses: { 201: json(NetworkSchema, "The network, added"), ...commonErrors },
    }),
    async (c) => {
      const tenant = await getTenant(deps, c.req.valid("param").id);
      const row = await addRelayNetwork(deps, tenant.id, c.req.valid("json"), {
        actor: actorOf(c),
        locale: c.get("locale"),
      });
      return c.json(jsonify(row), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/relay-networks/{network_id}",
      tags,
      security: bearer,
      summary: "Remove an SMTP relay network (new connections from it need AUTH again)",
      request: { params: NetworkParams },
      responses: { 200: json(NetworkSchema, "The network, removed"), ...commonErrors },
    }),
    async (c) => {
      const { id, network_id } = c.req.valid("param");
      const tenant = await getTenant(deps, id);
      return c.json(
        jsonify(await removeRelayNetwork(deps, tenant.id, network_id, actorOf(c))),
        200,
      );
    },
  );
}
