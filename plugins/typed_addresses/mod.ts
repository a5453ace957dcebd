// The typed_addresses add-on: addresses of type work, private and student beside the primary
// one; mailings sent to a chosen type (persons without one excluded, or given their primary);
// CSV columns targeting a type ("email.work"); segments on "has an address of type" (the core's
// has_address condition takes a type). API at /api/v1/typed-addresses.
import type { Plugin } from "../../core/plugin.ts";
import { messages } from "./messages.ts";
import { ADDRESS_TYPES, expansionRules } from "./options.ts";
import { typedAddressRoutes } from "./routes.ts";
import { mailingPanel, personPanel, typedAddressesUi } from "./ui.tsx";

export const typedAddressesPlugin: Plugin = {
  name: "typed_addresses",
  tier: "addon",
  apiPath: "typed-addresses",
  addressTypes: ADDRESS_TYPES,
  messages,
  routes: typedAddressRoutes,
  ui: { nav: [], routes: typedAddressesUi, mailingPanel, personPanel },
  hooks: { expansionRules: (ctx) => Promise.resolve(expansionRules(ctx.options)) },
};
