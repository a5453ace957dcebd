// The plugin contract and registry: plugins declare what they add; the core knows none by name.
import type { Hono } from "hono";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { DB, Tier } from "./db/schema.ts";
import type { Kysely } from "kysely";
import type { MigrationSource } from "./db/migrator.ts";
import type { AppDeps } from "./deps.ts";
import type { Locale } from "./i18n/mod.ts";
import { reserveDataNamespace } from "./mailings/data_namespaces.ts";
import type { ExpansionContext, ExpansionRules } from "./send/expansion.ts";
import type { HtmlEscapedString } from "hono/utils/html";
import type { TenantInfo } from "./auth/sessions.ts";
import type { Mailing } from "./mailings/mailings.ts";

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

export const MAIL_EVENT_TYPES = [
  "sent",
  "delivered",
  "deferred",
  "bounced",
  "opened",
  "clicked",
  "unsubscribed",
  "complained",
] as const;
export type MailEventType = (typeof MAIL_EVENT_TYPES)[number];

/** One thing that happened to one message (a send_queue row), for the afterEvents hook. */
export interface MailEvent {
  tenantId: string;
  type: MailEventType;
  at: Date;
  sendId: string;
  /** The send_queue row: the message's id. */
  queueId: string;
  recipient: string;
  /**
   * By type: reply (sent, delivered, deferred); kind, reason, status (bounced, complained);
   * url, link, machine, machine_reason (opened, clicked); scope, subscription_type_id, source
   * (unsubscribed).
   */
  details: Record<string, string | number | boolean | null>;
}

/** The closed list of hooks; each runs under a time limit (see runHook). */
export interface SendHooks {
  /**
   * Once per template compile (not per message): may rewrite the compiled HTML. Called when a
   * send's content is frozen (core/mailings/template_hooks.ts); templateId is the mailing's id.
   */
  transformTemplate(html: string, ctx: { tenantId: string; templateId: string }): Promise<string>;
  /** Delivery outcomes, a batch at a time. */
  afterDeliveryBatch(outcomes: DeliveryOutcome[]): Promise<void>;
  /**
   * What happened to messages (core/feedback/mail_events.ts), a batch at a time, one tenant per
   * call, inside the core's transaction that records them: `deps.db` is that transaction, so
   * what the hook writes there (an outbox) commits with the events, and a rollback of the events
   * takes it away too. Each plugin's call has its own savepoint: a hook that throws or times out
   * is logged, its writes are rolled back, and the events are not offered again; the core's
   * recording and the other plugins' writes stand. Database work only, and brief (it holds the
   * recording open): no network calls, no `db.transaction()` (it throws), no other handle
   * (PGlite has one connection); slow work belongs to the plugin's own worker (`start`), reading
   * what the hook wrote.
   */
  afterEvents(events: MailEvent[], deps: Pick<AppDeps, "db" | "log" | "clock">): Promise<void>;
  /**
   * Who a send reaches: rules this plugin adds to one send's expansion — and to the recipient
   * count before sending, which must agree with it (core/send/expansion.ts). Called once per
   * expansion or count, never per recipient. Null adds nothing.
   */
  expansionRules(ctx: ExpansionContext): Promise<ExpansionRules | null>;
  /**
   * Send-wide merge data, computed once when a mailing's content is frozen for a send (and for
   * its preview and test sends), never per recipient (core/mailings/send_data.ts). `data` is
   * merged under the plugin's name: {{#each <plugin>.x}} in the mailing reads data.x. `skip`
   * vetoes a real send: the core then creates no send, leaves the mailing as it was and throws
   * AppError "send_skipped" naming the plugin and reason (audited as mailing.send_skipped);
   * whoever starts sends on a timetable catches that code and records the run as skipped.
   * Preview and test sends ignore `skip`. A hook that throws or runs out of time stops the send.
   */
  sendData(ctx: SendDataContext): Promise<SendDataResult>;
  /**
   * Persons newly added to a list (by staff, the API or a CSV import), after the core has
   * committed them; `at` is their list_members.added_at. Best effort: a hook that fails or times
   * out is logged, so a plugin that must not miss one also reads list_members itself.
   */
  afterListMembersAdded(ctx: ListMembersAdded): Promise<void>;
}

/** What afterListMembersAdded is told (core/people/list_events.ts). */
export interface ListMembersAdded {
  tenantId: string;
  listId: string;
  personIds: string[];
  at: Date;
}

/** What a sendData hook is asked about. */
export interface SendDataContext {
  /** Hooks are plain functions: this is how one reaches the database and clock. */
  deps: AppDeps;
  tenantId: string;
  mailingId: string;
  /** The content being frozen: subject, html, text (Handlebars sources, fallbacks expanded). */
  content: { subject: string; html?: string; text?: string };
  /** When this mailing's last real (non-test) send was created; null before the first. */
  lastSentAt: Date | null;
  /** A preview or test send: nothing is sent to the audience, `skip` is not honoured. */
  preview: boolean;
}

export interface SendDataResult {
  data?: Record<string, unknown>;
  skip?: { reason: string };
}
export const HOOK_NAMES = [
  "transformTemplate",
  "afterDeliveryBatch",
  "afterEvents",
  "expansionRules",
  "sendData",
  "afterListMembersAdded",
] as const satisfies readonly (
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
  /**
   * Operator API routes about one tenant, mounted under /api/v1/tenants/{id}/<name> for
   * operators only (whatever the tenant has); the tenant's id is the `id` path parameter.
   */
  operatorRoutes?(app: OpenAPIHono, deps: AppDeps): void;
  /** Staff UI pages under /p/<name>, gated by tenant, with nav items. */
  ui?: {
    nav: NavItem[];
    routes(app: Hono, deps: AppDeps): void;
    /** A card on a send's statistics page (/sends/:id/stats); null shows nothing. */
    sendStatsPanel?(ctx: SendStatsPanelContext): Promise<PanelElement | null>;
    /**
     * A card on a mailing's page, below its own content: the review page of a draft (beside
     * Send) and the status page of a scheduled, sending or sent mailing. Called for the
     * tenant's enabled plugins only, in registry order; null shows nothing. A panel that throws
     * is logged and left out, so one plugin cannot break the page. Its forms post to the
     * plugin's own pages (/p/<name>/…) and carry ctx.csrf.
     */
    mailingPanel?(ctx: MailingPanelContext): Promise<PanelElement | null>;
    /** A card on a person's profile page (/people/:id), as mailingPanel. */
    personPanel?(ctx: PersonPanelContext): Promise<PanelElement | null>;
  };
  /**
   * Address types this plugin gives its tenants (e.g. "work"): addresses can carry them
   * (person_addresses.type) and CSV import columns can target them as "email.<type>". Labelled
   * by the plugin's message "address_type.<type>".
   */
  addressTypes?: readonly string[];
  hooks?: Partial<SendHooks>;
  /** Background work (schedulers, pollers), started in the worker role. */
  start?(deps: AppDeps): Promise<void>;
  stop?(): Promise<void>;
  /**
   * Network servers of the smtp role (e.g. SMTP submission), started beside the core's inbound
   * server; resolves to the function that stops them. In the `all` role a failure (a port in
   * use) is logged and the rest still starts, as for the inbound server.
   */
  startSmtp?(deps: AppDeps): Promise<() => Promise<void>>;
}

/** What a panel returns: server-rendered JSX (hono's JSX.Element). */
export type PanelElement = HtmlEscapedString | Promise<HtmlEscapedString>;

/** What a send statistics panel is drawn for: the send (already checked to be the tenant's). */
export interface SendStatsPanelContext {
  deps: AppDeps;
  tenantId: string;
  sendId: string;
  locale: Locale;
  timeZone: string;
}

/** What a mailing panel is drawn for: the mailing (already checked to be the tenant's). */
export interface MailingPanelContext {
  deps: AppDeps;
  tenant: TenantInfo;
  mailing: Mailing;
  /** The signed-in staff user (panels are only drawn for staff). */
  user: { id: string; role: "admin" | "user" };
  locale: Locale;
  /** The viewer's time zone (the user's, else the tenant's). */
  timeZone: string;
  /** The form field and token every POST form needs. */
  csrf: { field: string; token: string };
}

/** What a person panel is drawn for: the person (already checked to be the tenant's). */
export interface PersonPanelContext extends Omit<MailingPanelContext, "mailing"> {
  personId: string;
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
      // Its send data fills the merge namespace of its name (see SendHooks.sendData).
      if (p.hooks?.sendData) reserveDataNamespace(p.name);
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

  readonly #plans = new Map<string, { enabled: ReadonlySet<string>; at: number }>();

  /**
   * The plugins a tenant has, looked up by id (for work outside a request: workers, schedulers,
   * expansion). Empty for an unknown tenant. One primary-key read; the set itself is cached.
   * `maxAgeMs` lets per-batch callers on a hot path (delivery outcomes, mail events) reuse a
   * lookup that recent: a tier change then reaches them within that time.
   */
  async enabledForTenant(
    db: Kysely<DB>,
    tenantId: string,
    opts: { maxAgeMs?: number } = {},
  ): Promise<ReadonlySet<string>> {
    const hit = this.#plans.get(tenantId);
    if (opts.maxAgeMs && hit && hit.at + opts.maxAgeMs > Date.now()) {
      return hit.enabled;
    }
    const t = await db.selectFrom("tenants").select(["id", "tier", "addons", "updated_at"])
      .where("id", "=", tenantId).executeTakeFirst();
    const enabled = t ? this.enabledFor({ ...t, addons: t.addons ?? [] }) : new Set<string>();
    if (this.#plans.size > 10_000) this.#plans.clear();
    this.#plans.set(tenantId, { enabled, at: Date.now() });
    return enabled;
  }

  /** The address types the tenant's enabled plugins give, as "<plugin>" → types. */
  addressTypes(enabled: ReadonlySet<string>): { plugin: string; type: string }[] {
    return this.all().filter((p) => enabled.has(p.name)).flatMap((p) =>
      (p.addressTypes ?? []).map((type) => ({ plugin: p.name, type }))
    );
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
