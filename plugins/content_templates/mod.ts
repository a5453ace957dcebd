// The content_templates plugin (Standard tier): reusable mailing content, private or shared,
// each defining a subscription type. API at /api/v1/content-templates.
import type { Plugin } from "../../core/plugin.ts";
import { contentTemplateRoutes } from "./routes.ts";

export const contentTemplatesPlugin: Plugin = {
  name: "content_templates",
  tier: "standard",
  apiPath: "content-templates",
  migrations: new URL("./migrations/", import.meta.url),
  routes: contentTemplateRoutes,
};
