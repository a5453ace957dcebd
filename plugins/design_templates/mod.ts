// The design_templates plugin (Standard tier): several design templates per tenant, a default
// among them, and archiving. The core reads and renders designs; this adds their management.
import type { Plugin } from "../../core/plugin.ts";
import { designTemplatesUi } from "./ui.tsx";
import { messages } from "./messages.ts";

export const designTemplatesPlugin: Plugin = {
  name: "design_templates",
  tier: "standard",
  messages,
  ui: {
    nav: [{ path: "", label: "nav" }],
    routes: designTemplatesUi,
  },
};
