// The scheduling plugin (Advanced tier): send a mailing at a date and time in the tenant's time
// zone. API at /api/v1/scheduling, a panel on the mailing page, the list at /p/scheduling, and
// the scheduler that starts due mailings in the worker role (exactly once across workers).
import type { Plugin } from "../../core/plugin.ts";
import { messages } from "./messages.ts";
import { schedulingRoutes } from "./routes.ts";
import { schedulingPanel, schedulingUi } from "./ui.tsx";
import { Scheduler } from "./scheduler.ts";

let running: Scheduler | null = null;

export const schedulingPlugin: Plugin = {
  name: "scheduling",
  tier: "advanced",
  migrations: new URL("./migrations/", import.meta.url),
  messages,
  routes: schedulingRoutes,
  ui: {
    nav: [{ path: "", label: "nav" }],
    routes: schedulingUi,
    mailingPanel: schedulingPanel,
  },
  async start(deps) {
    running = new Scheduler(deps);
    await running.start();
    deps.log.info("scheduler started", { scheduler: running.id });
  },
  async stop() {
    await running?.stop();
    running = null;
  },
};
