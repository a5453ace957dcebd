// The link_stats plugin (Advanced tier): clicks per link of each send. Its hook labels the links
// once when a send's content is frozen (not per message); the counts come from the core's
// tracking events. A card on the send's statistics page, an API at /api/v1/link-stats, and CSV.
import type { Plugin } from "../../core/plugin.ts";
import { labelLinks } from "./label.ts";
import { messages } from "./messages.ts";
import { linkStatsRoutes } from "./routes.ts";
import { linkStatsPanel, linkStatsUi } from "./ui.tsx";

export const linkStatsPlugin: Plugin = {
  name: "link_stats",
  tier: "advanced",
  apiPath: "link-stats",
  messages,
  hooks: {
    transformTemplate: (html) => Promise.resolve(labelLinks(html)),
  },
  routes: linkStatsRoutes,
  ui: {
    nav: [],
    routes: linkStatsUi,
    sendStatsPanel: linkStatsPanel,
  },
};
