// The webhooks plugin (add-on): per tenant, endpoints that receive the tenant's mail events
// (mass, single and transactional) as signed JSON, at least once, with retries for 24 hours.
// The core's afterEvents hook fills the outbox; the worker role's dispatcher delivers it.
import type { Plugin } from "../../core/plugin.ts";
import { messages } from "./messages.ts";
import { enqueueEvents } from "./outbox.ts";
import { WebhookDispatcher } from "./dispatcher.ts";
import { webhookRoutes } from "./routes.ts";
import { webhooksUi } from "./ui.tsx";

let dispatcher: WebhookDispatcher | null = null;

export const webhooksPlugin: Plugin = {
  name: "webhooks",
  tier: "addon",
  messages,
  migrations: new URL("./migrations/", import.meta.url),
  routes: webhookRoutes,
  ui: {
    nav: [{ path: "", label: "nav", roles: ["admin"] }],
    routes: webhooksUi,
  },
  hooks: {
    afterEvents: async (events, deps) => {
      await enqueueEvents(deps, events);
    },
  },
  async start(deps) {
    dispatcher = new WebhookDispatcher(deps);
    await dispatcher.start();
  },
  async stop() {
    await dispatcher?.stop();
    dispatcher = null;
  },
};
