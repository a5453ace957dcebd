// The rss plugin (Advanced tier): RSS 2.0 and Atom feeds per tenant, fetched politely by a
// background poller, and their newest items as blocks in mailings (see send_data.ts).
// API at /api/v1/rss, staff page at /p/rss.
import type { Plugin } from "../../core/plugin.ts";
import { messages } from "./messages.ts";
import { startPoller } from "./poller.ts";
import { rssRoutes } from "./routes.ts";
import { rssSendData } from "./send_data.ts";
import { rssMailingPanel, rssUi } from "./ui.tsx";

let poller: { stop(): Promise<void> } | null = null;

export const rssPlugin: Plugin = {
  name: "rss",
  tier: "advanced",
  migrations: new URL("./migrations/", import.meta.url),
  messages,
  routes: rssRoutes,
  ui: {
    nav: [{ path: "", label: "nav" }],
    routes: rssUi,
    mailingPanel: (ctx) =>
      ctx.mailing.status === "draft" ? rssMailingPanel(ctx) : Promise.resolve(null),
  },
  hooks: { sendData: rssSendData },
  start(deps) {
    poller = startPoller(deps);
    return Promise.resolve();
  },
  async stop() {
    await poller?.stop();
    poller = null;
  },
};
