// The plugins installed in this build; the operator enables them per tenant by tier or add-on.
import type { Plugin } from "../core/plugin.ts";

export const installedPlugins: Plugin[] = [];
