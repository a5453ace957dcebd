// A tenant's webhook endpoints: create (the secret is shown once), list, change, delete, new
// secret; the tables' types; and the URL check every change goes through.
import type { Kysely, Transaction } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../../core/deps.ts";
import type { DB } from "../../core/db/schema.ts";
import { isUuid, uuidv7 } from "../../core/db/ids.ts";
import { AppError } from "../../core/errors.ts";
import { type Locale, t } from "../../core/i18n/mod.ts";
import { audit } from "../../core/tenants/audit.ts";
import { MAIL_EVENT_TYPES, type MailEventType } from "../../core/plugin.ts";
import { newEndpointSecret, openSecret, sealSecret } from "./secret_box.ts";
import { parseTarget, type Resolver, resolveTarget, TargetRefused } from "./ssrf.ts";

export interface WebhookEndpointsTable {
  tenant_id: string;
  id: string;
  url: string;
  description: string;
  events: string[];
  secret_sealed: string;
  enabled: boolean;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export type OutboxStatus = "pending" | "leased" | "delivered" | "failed";

export interface WebhookEventsTable {
  tenant_id: string;
  id: string;
  endpoint_id: string;
  event_id: string;
  type: string;
  payload: unknown;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: Date;
  give_up_at: Date;
  lease_until: Date | null;
  leased_by: string | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
}

export interface WebhookDeliveriesTable {
  tenant_id: string;
  id: string;
  endpoint_id: string;
  row_ids: string[];
  event_types: string[];
  ok: boolean;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  manual: boolean;
  test: boolean;
  attempted_at: Date;
}

export type WebhooksDB = DB & {
  webhook_endpoints: WebhookEndpointsTable;
  webhook_events: WebhookEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
};

export const dbOf = (deps: Pick<AppDeps, "db">) => deps.db as unknown as Kysely<WebhooksDB>;
export type WDb = Kysely<WebhooksDB> | Transaction<WebhooksDB>;

/** A tenant may have this many endpoints (each event fans out to every subscribed one). */
export const MAX_ENDPOINTS = 20;

export const EventTypes = z.array(z.enum(MAIL_EVENT_TYPES)).min(1).max(MAIL_EVENT_TYPES.length);

export const EndpointCreate = z.object({
  url: z.string().trim().min(1).max(2000),
  events: EventTypes,
  description: z.string().trim().max(200).default(""),
  enabled: z.boolean().default(true),
}).strict();

export const EndpointPatch = z.object({
  url: z.string().trim().min(1).max(2000).optional(),
  events: EventTypes.optional(),
  description: z.string().trim().max(200).optional(),
  enabled: z.boolean().optional(),
}).strict();

const COLUMNS = [
  "id",
  "url",
  "description",
  "events",
  "enabled",
  "created_by",
  "created_at",
  "updated_at",
] as const;

export interface Endpoint {
  id: string;
  url: string;
  description: string;
  events: MailEventType[];
  enabled: boolean;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

type Deps = Pick<AppDeps, "db" | "clock" | "config" | "secret">;
export interface StoreOptions {
  locale: Locale;
  /** Resolves host names for the address check (tests give a local one). */
  resolve?: Resolver;
}

/** The URL in its canonical form, or a field error on `url` saying what is wrong with it. */
export async function checkUrl(deps: Pick<Deps, "config">, raw: string, opts: StoreOptions) {
  const policy = {
    allowPrivate: deps.config.webhookAllowPrivate,
    allowHttp: deps.config.webhookAllowHttp,
  };
  try {
    const url = parseTarget(raw, policy);
    await resolveTarget(url, policy, opts.resolve);
    return url.href;
  } catch (e) {
    if (!(e instanceof TargetRefused)) throw e;
    throw new AppError("validation", {}, [{
      path: "url",
      code: e.reason,
      message: t(opts.locale, `webhooks.url_${e.reason}`),
    }]);
  }
}

const uniq = (types: string[]) => MAIL_EVENT_TYPES.filter((x) => types.includes(x));

/** Creates an endpoint; the answer carries its secret, which is never shown again. */
export async function createEndpoint(
  deps: Deps,
  tenantId: string,
  input: z.input<typeof EndpointCreate>,
  actor: string,
  opts: StoreOptions,
): Promise<Endpoint & { secret: string }> {
  const v = EndpointCreate.parse(input);
  const url = await checkUrl(deps, v.url, opts);
  const id = uuidv7();
  const secret = newEndpointSecret();
  const sealed = await sealSecret(deps.secret, { tenantId, id }, secret);
  const now = deps.clock();
  const db = dbOf(deps);
  await db.transaction().execute(async (trx) => {
    const n = await trx.selectFrom("webhook_endpoints").select((eb) => eb.fn.countAll().as("n"))
      .where("tenant_id", "=", tenantId).executeTakeFirstOrThrow();
    if (Number(n.n) >= MAX_ENDPOINTS) {
      throw new AppError("conflict", {}, [{
        path: "url",
        code: "too_many",
        message: t(opts.locale, "webhooks.too_many", { n: MAX_ENDPOINTS }),
      }]);
    }
    await trx.insertInto("webhook_endpoints").values({
      tenant_id: tenantId,
      id,
      url,
      description: v.description,
      events: uniq(v.events),
      secret_sealed: sealed,
      enabled: v.enabled,
      created_by: actor,
      created_at: now,
      updated_at: now,
    }).execute();
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "webhook.create",
      target: id,
      details: { url, events: uniq(v.events) },
      at: now,
    });
  });
  return { ...await getEndpoint(deps, tenantId, id), secret };
}

export async function listEndpoints(deps: Pick<AppDeps, "db">, tenantId: string) {
  const rows = await dbOf(deps).selectFrom("webhook_endpoints").select(COLUMNS)
    .where("tenant_id", "=", tenantId).orderBy("id").execute();
  return rows.map(normalize);
}

export async function getEndpoint(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  id: string,
): Promise<Endpoint> {
  if (!isUuid(id)) throw new AppError("not_found");
  const row = await dbOf(deps).selectFrom("webhook_endpoints").select(COLUMNS)
    .where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst();
  if (!row) throw new AppError("not_found");
  return normalize(row);
}

function normalize(r: Omit<Endpoint, "events"> & { events: string[] }): Endpoint {
  return {
    ...r,
    events: MAIL_EVENT_TYPES.filter((x) => r.events.includes(x)),
    created_at: new Date(r.created_at),
    updated_at: new Date(r.updated_at),
  };
}

export async function updateEndpoint(
  deps: Deps,
  tenantId: string,
  id: string,
  input: z.input<typeof EndpointPatch>,
  actor: string,
  opts: StoreOptions,
): Promise<Endpoint> {
  const v = EndpointPatch.parse(input);
  await getEndpoint(deps, tenantId, id);
  const url = v.url === undefined ? undefined : await checkUrl(deps, v.url, opts);
  const now = deps.clock();
  const set = {
    ...(url !== undefined ? { url } : {}),
    ...(v.events ? { events: uniq(v.events) } : {}),
    ...(v.description !== undefined ? { description: v.description } : {}),
    ...(v.enabled !== undefined ? { enabled: v.enabled } : {}),
    updated_at: now,
  };
  await dbOf(deps).transaction().execute(async (trx) => {
    await trx.updateTable("webhook_endpoints").set(set)
      .where("tenant_id", "=", tenantId).where("id", "=", id).execute();
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "webhook.update",
      target: id,
      details: { ...set, updated_at: undefined },
      at: now,
    });
  });
  return await getEndpoint(deps, tenantId, id);
}

/** Deletes an endpoint with its undelivered events and its log. */
export async function deleteEndpoint(deps: Deps, tenantId: string, id: string, actor: string) {
  await getEndpoint(deps, tenantId, id);
  const now = deps.clock();
  await dbOf(deps).transaction().execute(async (trx) => {
    await trx.deleteFrom("webhook_endpoints").where("tenant_id", "=", tenantId)
      .where("id", "=", id).execute();
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "webhook.delete",
      target: id,
      at: now,
    });
  });
}

/** Replaces the signing secret; the new one is answered once. */
export async function rotateSecret(deps: Deps, tenantId: string, id: string, actor: string) {
  await getEndpoint(deps, tenantId, id);
  const secret = newEndpointSecret();
  const sealed = await sealSecret(deps.secret, { tenantId, id }, secret);
  const now = deps.clock();
  await dbOf(deps).transaction().execute(async (trx) => {
    await trx.updateTable("webhook_endpoints").set({ secret_sealed: sealed, updated_at: now })
      .where("tenant_id", "=", tenantId).where("id", "=", id).execute();
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "webhook.rotate_secret",
      target: id,
      at: now,
    });
  });
  return { ...await getEndpoint(deps, tenantId, id), secret };
}

/** The endpoint's secret in clear, for signing (never leaves the process). */
export async function endpointSecret(
  deps: Pick<AppDeps, "db" | "secret">,
  tenantId: string,
  id: string,
): Promise<string> {
  const row = await dbOf(deps).selectFrom("webhook_endpoints").select("secret_sealed")
    .where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirstOrThrow();
  return await openSecret(deps.secret, { tenantId, id }, row.secret_sealed);
}
