// The plugin contract and registry: plugins declare what they add; the core knows none by name.
import type { Hono } from "hono";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Tier } from "./db/schema.ts";
import type { MigrationSource } from "./db/migrator.ts";
import type { AppDeps } from "./deps.ts";
import type { Locale } from "./i18n/mod.ts";

export type PluginTier = Tier | "addon";

export interface NavItem {
  /** Path below the plugin's UI prefix, e.g. "" for /p/<name>. */
  path: string;
  /** A key in the plugin's own messages. */
  label: string;
  /** Only these roles see it; all staff when omitted. */
  roles?: ("admin" | "user")[];
}

/** Outcome of one delivery attempt, handed to result hooks in batches. */
export interface DeliveryOutcome {
  tenantId: string;
  messageId: string;
  recipient: string;
  status: "sent" | "deferred" | "failed";
  reply: string;
}

/** The closed list of hooks; each runs under a time limit (see runHook). */
export interface SendHooks {
  /** Once per template compile (not per message): may rewrite the compiled HTML. */
  transformTemplate(html: string, ctx: { tenantId: string; templateId: string }): Promise<string>;
  /** Delivery outcomes, a batch at a time. */
  afterDeliveryBatch(outcomes: DeliveryOutcome[]): Promise<void>;
}
export const HOOK_NAMES = ["transformTemplate", "afterDeliveryBatch"] as const satisfies readonly (
  keyof SendHooks
)[];

export interface Plugin {
  /** Unique; namespaces routes (/api/v1/<name>, /p/<name>), tables and settings. */
  name: string;
  tier: PluginTier;
  dependsOn?: string[];
  /** Its own SQL folder, migrated at boot in the plugin's scope. */
  migrations?: URL;
  /** Its user-facing strings, per language; keys are used as "<name>.<key>". */
  messages?: Partial<Record<Locale, Record<string, string>>>;
  /** API routes, mounted under /api/v1/<apiPath or name> and gated by tenant. */
  routes?(app: OpenAPIHono, deps: AppDeps): void;
  /** The API prefix when it should differ from the name (kebab-case, e.g. "content-templates"). */
  apiPath?: string;
  /** Staff UI pages under /p/<name>, gated by tenant, with nav items. */
  ui?: { nav: NavItem[]; routes(app: Hono, deps: AppDeps): void };
  hooks?: Partial<SendHooks>;
  /** Background work (schedulers, pollers), started in the worker role. */
  start?(deps: AppDeps): Promise<void>;
  stop?(): Promise<void>;
}

export class PluginError extends Error {
  override name = "PluginError";
}

const TIER_RANK: Record<Tier, number> = { light: 1, standard: 2, advanced: 3 };
const NAME = /^[a-z][a-z0-9_]{1,39}$/;
const API_PATH = /^[a-z][a-z0-9-]{1,39}$/;

export interface TenantPlan {
  id: string;
  tier: Tier;
  addons: string[];
  updated_at: Date;
}

export class PluginRegistry {
  readonly #plugins = new Map<string, Plugin>();
  readonly #cache = new Map<string, { stamp: number; enabled: ReadonlySet<string> }>();

  /** Validates the set at boot: a bad plugin stops start-up, never a request. */
  constructor(plugins: Plugin[]) {
    const paths = new Map<string, string>();
    for (const p of plugins) {
      if (!NAME.test(p.name)) {
        throw new PluginError(`Plugin name "${p.name}" must match ${NAME} (snake_case)`);
      }
      if (this.#plugins.has(p.name)) throw new PluginError(`Two plugins are named "${p.name}"`);
      const path = p.apiPath ?? p.name;
      const other = paths.get(path);
      if (other) {
        throw new PluginError(`Plugins "${other}" and "${p.name}" both answer at /api/v1/${path}`);
      }
      paths.set(path, p.name);
      if (p.apiPath !== undefined && !API_PATH.test(p.apiPath)) {
        throw new PluginError(
          `Plugin "${p.name}" has apiPath "${p.apiPath}"; it must match ${API_PATH}`,
        );
      }
      if (!["light", "standard", "advanced", "addon"].includes(p.tier)) {
        throw new PluginError(`Plugin "${p.name}" has unknown tier "${p.tier}"`);
      }
      for (const hook of Object.keys(p.hooks ?? {})) {
        if (!(HOOK_NAMES as readonly string[]).includes(hook)) {
          throw new PluginError(
            `Plugin "${p.name}" declares unknown hook "${hook}"; known: ${HOOK_NAMES.join(", ")}`,
          );
        }
      }
      this.#plugins.set(p.name, p);
    }
    for (const p of plugins) {
      for (const dep of p.dependsOn ?? []) {
        if (!this.#plugins.has(dep)) {
          throw new PluginError(`Plugin "${p.name}" depends on "${dep}", which is not installed`);
        }
      }
    }
    this.#checkCycles();
  }

  all(): Plugin[] {
    return [...this.#plugins.values()];
  }

  has(name: string): boolean {
    return this.#plugins.has(name);
  }

  migrationSources(): MigrationSource[] {
    return this.all().filter((p) => p.migrations).map((p) => ({
      scope: p.name,
      dir: p.migrations!,
    }));
  }

  /**
   * The plugins a tenant has: those its tier includes plus its add-ons, minus any whose
   * dependencies it lacks. Cached per tenant until the tenant row changes.
   */
  enabledFor(tenant: TenantPlan): ReadonlySet<string> {
    const stamp = tenant.updated_at.getTime();
    const hit = this.#cache.get(tenant.id);
    if (hit && hit.stamp === stamp) return hit.enabled;
    const wanted = new Set<string>();
    for (const p of this.#plugins.values()) {
      const byTier = p.tier !== "addon" && TIER_RANK[p.tier] <= TIER_RANK[tenant.tier];
      if (byTier || tenant.addons.includes(p.name)) wanted.add(p.name);
    }
    const enabled = new Set<string>();
    const ok = (name: string, seen: Set<string>): boolean => {
      if (!wanted.has(name) || seen.has(name)) return false;
      seen.add(name);
      return (this.#plugins.get(name)!.dependsOn ?? []).every((d) => ok(d, new Set(seen)));
    };
    for (const name of wanted) if (ok(name, new Set())) enabled.add(name);
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(tenant.id, { stamp, enabled });
    return enabled;
  }

  /** Runs one hook of every enabled plugin in turn, each under a time limit. */
  async runHook<K extends keyof SendHooks>(
    name: K,
    enabled: ReadonlySet<string>,
    run: (hook: NonNullable<SendHooks[K]>, plugin: Plugin) => Promise<void>,
    timeoutMs = 5_000,
  ): Promise<void> {
    for (const p of this.#plugins.values()) {
      const hook = p.hooks?.[name];
      if (!hook || !enabled.has(p.name)) continue;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new PluginError(`Hook ${name} of plugin "${p.name}" took over ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      try {
        await Promise.race([run(hook as NonNullable<SendHooks[K]>, p), limit]);
      } finally {
        clearTimeout(timer);
      }
    }
  }

  #checkCycles() {
    const state = new Map<string, "visiting" | "done">();
    const visit = (name: string, path: string[]) => {
      if (state.get(name) === "done") return;
      if (state.get(name) === "visiting") {
        throw new PluginError(`Plugin dependency cycle: ${[...path, name].join(" → ")}`);
      }
      state.set(name, "visiting");
      for (const d of this.#plugins.get(name)?.dependsOn ?? []) visit(d, [...path, name]);
      state.set(name, "done");
    };
    for (const name of this.#plugins.keys()) visit(name, []);
  }
}
