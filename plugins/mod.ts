// The plugins installed in this build; the operator enables them per tenant by tier or add-on.
import type { Plugin } from "../core/plugin.ts";
import { contentTemplatesPlugin } from "./content_templates/mod.ts";
import { designTemplatesPlugin } from "./design_templates/mod.ts";
import { linkStatsPlugin } from "./link_stats/mod.ts";
import { schedulingPlugin } from "./scheduling/mod.ts";
import { categoriesPlugin } from "./categories/mod.ts";
import { rssPlugin } from "./rss/mod.ts";
import { webhooksPlugin } from "./webhooks/mod.ts";
import { transactionalPlugin } from "./transactional/mod.ts";
import { automationPlugin } from "./automation/mod.ts";
import { typedAddressesPlugin } from "./typed_addresses/mod.ts";

export const installedPlugins: Plugin[] = [
  designTemplatesPlugin,
  contentTemplatesPlugin,
  linkStatsPlugin,
  schedulingPlugin,
  categoriesPlugin,
  rssPlugin,
  webhooksPlugin,
  transactionalPlugin,
  automationPlugin,
  typedAddressesPlugin,
];
