// Delivers the outbox: claims due rows under a lease (FOR UPDATE SKIP LOCKED, so worker processes
// never deliver the same row at once; a dead worker's rows come back when the lease runs out),
// POSTs them per endpoint in signed batches, and writes each attempt down: 2xx → delivered,
// anything else → retried with exponential backoff and jitter until 24 hours after the event,
// then failed. At least once: a receiver may see an event twice and should dedupe on its id.
import { sql } from "kysely";
import type { AppDeps } from "../../core/deps.ts";
import { uuidv7 } from "../../core/db/ids.ts";
import { groupBy } from "../../core/collections.ts";
import { dbOf, endpointSecret, type WebhooksDB } from "./store.ts";
import { postJson, type PostResult } from "./http_post.ts";
import { SIGNATURE_HEADER, signPayload } from "./signature.ts";
import type { Resolver } from "./ssrf.ts";
import { WEBHOOK_CHANNEL } from "./outbox.ts";
import type { Transaction } from "kysely";

export interface DispatcherOptions {
  workerId?: string;
  /** Most events in one request. */
  maxEventsPerRequest?: number;
  /** Rows claimed per round. */
  claimSize?: number;
  /** How long claimed rows stay with this worker. */
  leaseMs?: number;
  /** Requests in flight at once. */
  concurrency?: number;
  /** Host name resolution for the address check (tests give a local one). */
  resolve?: Resolver;
  /** 0 ≤ x < 1, for the jitter (tests fix it). */
  random?: () => number;
  /** Longest sleep when idle; a NOTIFY or the next due retry wakes it earlier. */
  idleWaitMs?: number;
}

/** First retry after ~30 s, doubling, at most an hour apart (README, "Event webhooks"). */
export const BACKOFF_BASE_MS = 30_000;
export const BACKOFF_CAP_MS = 3600_000;

/** The wait before attempt `attempts + 1`: exponential, capped, with "equal jitter" (½–1×). */
export function backoffMs(attempts: number, random: () => number = Math.random): number {
  const full = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1));
  return Math.round(full / 2 + random() * (full / 2));
}

interface ClaimedRow {
  tenant_id: string;
  id: string;
  endpoint_id: string;
  type: string;
  payload: unknown;
  attempts: number;
  give_up_at: Date;
}

export interface AttemptResult extends PostResult {
  deliveryId: string;
  events: number;
}

type Deps = Pick<
  AppDeps,
  "db" | "clock" | "config" | "secret" | "log" | "database" | "registry"
>;

export class WebhookDispatcher {
  readonly id: string;
  readonly #deps: Deps;
  readonly #max: number;
  readonly #claim: number;
  readonly #lease: number;
  readonly #concurrency: number;
  readonly #resolve?: Resolver;
  readonly #random: () => number;
  readonly #idle: number;
  #stopping = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #woken = false;
  #unlisten: (() => Promise<void>) | null = null;
  #lastHousekeeping = 0;

  constructor(deps: Deps, opts: DispatcherOptions = {}) {
    this.#deps = deps;
    this.id = opts.workerId ?? `${Deno.hostname()}:${Deno.pid}:${uuidv7().slice(-8)}`;
    this.#max = opts.maxEventsPerRequest ?? 100;
    this.#claim = opts.claimSize ?? 500;
    this.#lease = opts.leaseMs ?? deps.config.webhookTimeoutMs * 3 + 30_000;
    this.#concurrency = opts.concurrency ?? 8;
    this.#resolve = opts.resolve;
    this.#random = opts.random ?? Math.random;
    this.#idle = opts.idleWaitMs ?? 5_000;
  }

  async start(): Promise<void> {
    this.#unlisten = await this.#deps.database.listen(WEBHOOK_CHANNEL, () => {
      this.#woken = true;
      this.#wake?.();
    });
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#loop;
    await this.#unlisten?.();
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      this.#woken = false;
      let n = 0;
      let wait = this.#idle;
      try {
        n = await this.runOnce();
        if (n === 0) wait = await this.#untilNextDue();
      } catch (e) {
        this.#deps.log.error("webhook round failed", { worker: this.id, error: String(e) });
      }
      // A NOTIFY during the round (rows committed after the claim) means: go again at once.
      if (n > 0 || this.#stopping || this.#woken) continue;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#wake = null;
          resolve();
        };
        const timer = setTimeout(done, wait);
        this.#wake = done;
      });
    }
  }

  /** Sleep until the earliest pending retry, at most idleWaitMs. */
  async #untilNextDue(): Promise<number> {
    const r = await dbOf(this.#deps).selectFrom("webhook_events")
      .select((eb) => eb.fn.min("next_attempt_at").as("next"))
      .where("status", "=", "pending").executeTakeFirst();
    if (!r?.next) return this.#idle;
    const ms = new Date(r.next as Date).getTime() - this.#deps.clock().getTime();
    return Math.max(50, Math.min(this.#idle, ms));
  }

  /** One round: return expired leases, claim due rows, deliver them. Returns rows handled. */
  async runOnce(): Promise<number> {
    await this.#housekeeping();
    const rows = await this.claim();
    if (!rows.length) return 0;
    const requests: ClaimedRow[][] = [];
    for (const list of groupBy(rows, (r) => `${r.tenant_id}/${r.endpoint_id}`).values()) {
      for (let i = 0; i < list.length; i += this.#max) requests.push(list.slice(i, i + this.#max));
    }
    let next = 0;
    const lane = async () => {
      while (next < requests.length) await this.#deliver(requests[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, requests.length) }, lane));
    return rows.length;
  }

  /** Claims due rows for this worker (exported for the crash test: claim, then "die"). */
  async claim(): Promise<ClaimedRow[]> {
    const now = this.#deps.clock();
    const until = new Date(now.getTime() + this.#lease);
    // Across tenants on purpose: one dispatcher serves them all, through the partial index.
    const r = await sql<ClaimedRow>`
      with c as materialized (
        select tenant_id, id from webhook_events
        where status = 'pending' and next_attempt_at <= ${now}
        order by next_attempt_at limit ${this.#claim}
        for update skip locked
      )
      update webhook_events e set status = 'leased', lease_until = ${until},
        leased_by = ${this.id}, attempts = e.attempts + 1
      from c where e.tenant_id = c.tenant_id and e.id = c.id
      returning e.tenant_id, e.id, e.endpoint_id, e.type, e.payload, e.attempts, e.give_up_at`
      .execute(this.#deps.db);
    return r.rows.map((x) => ({ ...x, give_up_at: new Date(x.give_up_at) }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async #deliver(rows: ClaimedRow[]): Promise<void> {
    const { tenant_id: tenantId, endpoint_id: endpointId } = rows[0]!;
    const endpoint = await dbOf(this.#deps).selectFrom("webhook_endpoints")
      .select(["url", "enabled"]).where("tenant_id", "=", tenantId)
      .where("id", "=", endpointId).executeTakeFirst();
    // Deleted meanwhile: its rows went with it.
    if (!endpoint) return;
    const failure = (error: string): AttemptResult => ({
      deliveryId: uuidv7(),
      events: rows.length,
      status: null,
      durationMs: 0,
      error,
    });
    let result: AttemptResult;
    // Not to be sent at all (no retry): a disabled endpoint, a tenant without the add-on.
    let final = true;
    if (!endpoint.enabled) {
      result = failure("endpoint disabled");
    } else if (
      // An operator may take the add-on away after events were queued: those are not sent.
      !(await this.#deps.registry.enabledForTenant(this.#deps.db, tenantId))
        .has("webhooks")
    ) {
      result = failure("the tenant no longer has the webhooks add-on");
    } else {
      final = false;
      try {
        result = await attempt(this.#deps, {
          tenantId,
          endpointId,
          url: endpoint.url,
          payloads: rows.map((r) => r.payload),
          resolve: this.#resolve,
        });
      } catch (e) {
        // Not the receiver's fault (an unreadable secret, a bad stored URL): retried all the same.
        result = failure(String(e).slice(0, 500));
      }
    }
    await this.#record(rows, result, final);
  }

  async #record(rows: ClaimedRow[], r: AttemptResult, final: boolean): Promise<void> {
    const now = this.#deps.clock();
    const ok = isSuccess(r.status);
    const { tenant_id: tenantId, endpoint_id: endpointId } = rows[0]!;
    const error = r.error ?? (ok ? null : `HTTP ${r.status}`);
    await dbOf(this.#deps).transaction().execute(async (trx) => {
      await logAttempt(trx, tenantId, endpointId, rows, r, now, {});
      const mine = (ids: string[]) =>
        trx.updateTable("webhook_events").where("tenant_id", "=", tenantId)
          .where("id", "in", ids).where("status", "=", "leased").where("leased_by", "=", this.id);
      if (ok) {
        await mine(rows.map((x) => x.id)).set({
          status: "delivered",
          delivered_at: now,
          lease_until: null,
          last_error: null,
        }).execute();
        return;
      }
      const giveUp = rows.filter((x) => final || x.give_up_at <= now);
      const retry = rows.filter((x) => !giveUp.includes(x));
      if (giveUp.length) {
        await mine(giveUp.map((x) => x.id)).set({
          status: "failed",
          lease_until: null,
          last_error: error,
        }).execute();
      }
      // One wait per request: its events stay together on the next attempt.
      for (const [attempts, list] of groupBy(retry, (x) => x.attempts)) {
        const wait = backoffMs(attempts, this.#random);
        const at = Math.min(
          now.getTime() + wait,
          Math.max(...list.map((x) => x.give_up_at.getTime())),
        );
        await mine(list.map((x) => x.id)).set({
          status: "pending",
          lease_until: null,
          next_attempt_at: new Date(at),
          last_error: error,
        }).execute();
      }
    });
    if (!ok) {
      this.#deps.log.info("webhook delivery failed", {
        tenant: tenantId,
        endpoint: endpointId,
        events: rows.length,
        status: r.status,
        error,
      });
    }
  }

  /** Leases that ran out (a dead worker) return to pending; old rows and log lines go. */
  async #housekeeping(): Promise<void> {
    const now = this.#deps.clock();
    await sql`update webhook_events set status = 'pending', lease_until = null, leased_by = null
      where status = 'leased' and lease_until < ${now}`.execute(this.#deps.db);
    if (Date.now() - this.#lastHousekeeping < 10 * 60_000) return;
    this.#lastHousekeeping = Date.now();
    const week = new Date(now.getTime() - 7 * 86_400_000);
    const month = new Date(now.getTime() - 30 * 86_400_000);
    await sql`delete from webhook_events where (tenant_id, id) in (select tenant_id, id
      from webhook_events where status = 'delivered' and created_at < ${week} limit 10000)`
      .execute(this.#deps.db);
    await sql`delete from webhook_events where (tenant_id, id) in (select tenant_id, id
      from webhook_events where status = 'failed' and created_at < ${month} limit 10000)`
      .execute(this.#deps.db);
    await sql`delete from webhook_deliveries where (tenant_id, id) in (select tenant_id, id
      from webhook_deliveries where attempted_at < ${month} limit 10000)`.execute(this.#deps.db);
  }
}

export const isSuccess = (status: number | null) =>
  status !== null && status >= 200 && status < 300;

/** One signed POST of these events to an endpoint (the dispatcher's and the test button's). */
export async function attempt(
  deps: Pick<AppDeps, "db" | "clock" | "config" | "secret">,
  to: {
    tenantId: string;
    endpointId: string;
    url: string;
    payloads: unknown[];
    resolve?: Resolver;
  },
): Promise<AttemptResult> {
  const deliveryId = uuidv7();
  const body = JSON.stringify({ delivery_id: deliveryId, events: to.payloads });
  const secret = await endpointSecret(deps, to.tenantId, to.endpointId);
  const r = await postJson(new URL(to.url), body, {
    policy: {
      allowPrivate: deps.config.webhookAllowPrivate,
      allowHttp: deps.config.webhookAllowHttp,
    },
    timeoutMs: deps.config.webhookTimeoutMs,
    resolve: to.resolve,
    headers: {
      "user-agent": "Skicka-Webhooks/1",
      "skicka-delivery": deliveryId,
      [SIGNATURE_HEADER]: await signPayload(secret, body, deps.clock()),
    },
  });
  return { ...r, deliveryId, events: to.payloads.length };
}

/** Writes one attempt to the endpoint's delivery log. */
export async function logAttempt(
  db: Transaction<WebhooksDB> | ReturnType<typeof dbOf>,
  tenantId: string,
  endpointId: string,
  rows: { id: string; type: string }[],
  r: AttemptResult,
  now: Date,
  flags: { manual?: boolean; test?: boolean },
): Promise<void> {
  const ok = isSuccess(r.status);
  await db.insertInto("webhook_deliveries").values({
    tenant_id: tenantId,
    id: r.deliveryId,
    endpoint_id: endpointId,
    row_ids: rows.map((x) => x.id),
    event_types: flags.test ? ["test"] : [...new Set(rows.map((x) => x.type))].sort(),
    ok,
    status_code: r.status,
    error: r.error ?? (ok ? null : `HTTP ${r.status}`),
    duration_ms: r.durationMs,
    manual: flags.manual ?? false,
    test: flags.test ?? false,
    attempted_at: now,
  }).execute();
}
