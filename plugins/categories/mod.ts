// The categories plugin (Advanced tier): the tenant's own categories on mailings, a filter of
// mailings by category and period statistics per category. API at /api/v1/categories, the
// page /p/categories and a panel on the mailing page.
import type { Plugin } from "../../core/plugin.ts";
import { messages } from "./messages.ts";
import { categoryRoutes } from "./routes.ts";
import { categoriesPanel, categoriesUi } from "./ui.tsx";

export const categoriesPlugin: Plugin = {
  name: "categories",
  tier: "advanced",
  migrations: new URL("./migrations/", import.meta.url),
  messages,
  routes: categoryRoutes,
  ui: {
    nav: [{ path: "", label: "nav" }],
    routes: categoriesUi,
    mailingPanel: categoriesPanel,
  },
};
