// The automation plugin (Advanced tier): recurring sends of a mailing to segments re-evaluated
// at every run, sends triggered by a person joining a list, waiting periods per mailing, and
// systematic or seeded random samples. API at /api/v1/automation, pages at /p/automation, a
// panel on the mailing page, and the worker that starts runs (exactly once across workers).
import type { AppDeps } from "../../core/deps.ts";
import type { Plugin } from "../../core/plugin.ts";
import { messages } from "./messages.ts";
import { expansionRules } from "./rules.ts";
import { automationRoutes } from "./routes.ts";
import { recordTriggerEvents } from "./triggers.ts";
import { AutomationWorker } from "./scheduler.ts";
import { automationPanel, automationUi } from "./ui.tsx";

let running: AutomationWorker | null = null;
/**
 * The hook below needs the database, which hooks are not handed: it is the one this process
 * serves (set when routes or the worker start). Without it, the worker's sweep of list_members
 * still finds every new member.
 */
let bound: AppDeps | null = null;

export const automationPlugin: Plugin = {
  name: "automation",
  tier: "advanced",
  migrations: new URL("./migrations/", import.meta.url),
  messages,
  hooks: {
    expansionRules,
    async afterListMembersAdded(ctx) {
      if (bound) await recordTriggerEvents(bound, ctx);
    },
  },
  routes(app, deps) {
    bound = deps;
    automationRoutes(app, deps);
  },
  ui: {
    nav: [{ path: "", label: "nav" }],
    routes: automationUi,
    mailingPanel: automationPanel,
  },
  async start(deps) {
    bound = deps;
    running = new AutomationWorker(deps);
    await running.start();
    deps.log.info("automation worker started", { worker: running.id });
  },
  async stop() {
    await running?.stop();
    running = null;
  },
};
