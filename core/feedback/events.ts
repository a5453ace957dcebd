// Records opens and clicks off the request path: events are buffered in memory and written in
// one multi-row insert every ~250 ms or 1,000 events, with the per-send counters, each message's
// first human open/click and plugins' afterEvents writes in the same transaction, set-based.
import { sql, type Transaction } from "kysely";
import type { AppDeps } from "../deps.ts";
import type { DB } from "../db/schema.ts";
import { uuidv7 } from "../db/ids.ts";
import type { MailEvent } from "../plugin.ts";
import { groupBy } from "../collections.ts";
import { emitMailEvents, type EventDeps, hasEventListeners } from "./mail_events.ts";

export interface TrackingEvent {
  tenantId: string;
  queueId: string;
  kind: "open" | "click";
  link: number | null;
  url: string | null;
  userAgent: string | null;
  /** Already truncated (machine.ts truncateIp): the full address is never stored. */
  ip: string | null;
  machine: boolean;
  reason: string | null;
  at: Date;
}

export interface RecorderOptions {
  /** Longest time an event waits in memory. */
  flushMs?: number;
  /** Events per insert; a full batch is written at once. */
  batchSize?: number;
  /** Events held at most; beyond that new events are dropped (and counted) rather than OOM. */
  maxBuffer?: number;
}

/** With a registry (the app's deps), written events reach plugins' afterEvents hooks. */
type Deps = Pick<AppDeps, "db" | "log"> & Partial<EventDeps>;

export class EventRecorder {
  readonly #deps: Deps;
  readonly #flushMs: number;
  readonly #batch: number;
  readonly #max: number;
  #buffer: TrackingEvent[] = [];
  #timer: ReturnType<typeof setTimeout> | null = null;
  #writing: Promise<void> = Promise.resolve();
  #stopped = false;
  /** Events dropped because the buffer was full or the database kept failing. */
  dropped = 0;
  /** Events written so far (inserted rows; events of unknown messages are not). */
  written = 0;

  constructor(deps: Deps, opts: RecorderOptions = {}) {
    this.#deps = deps;
    this.#flushMs = opts.flushMs ?? 250;
    this.#batch = opts.batchSize ?? 1_000;
    this.#max = opts.maxBuffer ?? 100_000;
  }

  get pending(): number {
    return this.#buffer.length;
  }

  /** Queues an event; never waits. False when it was dropped. */
  record(e: TrackingEvent): boolean {
    if (this.#stopped || this.#buffer.length >= this.#max) {
      this.dropped++;
      return false;
    }
    this.#buffer.push(e);
    if (this.#buffer.length >= this.#batch) this.#schedule(0);
    else if (!this.#timer) this.#schedule(this.#flushMs);
    return true;
  }

  #schedule(ms: number) {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.flush().catch(() => {});
    }, ms);
  }

  /** Writes everything buffered so far; resolves when it is in the database. */
  flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    // One writer at a time: batches reach the database in the order they were recorded.
    this.#writing = this.#writing.then(async () => {
      while (this.#buffer.length) {
        const batch = this.#buffer.splice(0, this.#batch);
        try {
          this.written += await writeEvents(this.#deps, batch);
        } catch (e) {
          this.#deps.log.error("tracking events not written", {
            events: batch.length,
            error: String(e),
          });
          this.dropped += batch.length;
        }
      }
    });
    return this.#writing;
  }

  /** Stops taking events and writes the rest (the app's stop path calls this). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.flush();
  }
}

/** A stored open or click, as the insert in writeEvents returns it. */
interface WrittenEvent {
  tenant_id: string;
  send_id: string;
  queue_id: string;
  kind: "open" | "click";
  link: number | null;
  url: string | null;
  machine: boolean;
  machine_reason: string | null;
  created_at: Date;
}

/**
 * One batch in one transaction: the events (joined to their queue rows, so an event of a
 * message that does not exist is dropped), first human opens/clicks, the send counters and,
 * with a registry in deps, plugins' afterEvents. Returns how many events were stored.
 */
export async function writeEvents(
  deps: Pick<AppDeps, "db"> & Partial<EventDeps>,
  batch: TrackingEvent[],
): Promise<number> {
  if (!batch.length) return 0;
  const col = <T>(f: (e: TrackingEvent) => T) => batch.map(f);
  return await deps.db.transaction().execute(async (trx) => {
    const ins = await sql<WrittenEvent>`
      insert into tracking_events (tenant_id, id, queue_id, send_id, person_id, kind, link, url,
        user_agent, ip, machine, machine_reason, created_at)
      select v.tenant_id, v.id, v.queue_id, q.send_id, q.person_id, v.kind, v.link, v.url,
        v.user_agent, v.ip, v.machine, v.reason, v.at
      from unnest(${col((e) => e.tenantId)}::uuid[], ${col(() => uuidv7())}::uuid[],
        ${col((e) => e.queueId)}::uuid[], ${col((e) => e.kind)}::text[],
        ${col((e) => e.link === null ? null : String(e.link))}::text[]::int[],
        ${col((e) => e.url?.slice(0, 4000) ?? null)}::text[],
        ${col((e) => e.userAgent?.slice(0, 500) ?? null)}::text[],
        ${col((e) => e.ip)}::text[], ${col((e) => String(e.machine))}::text[]::boolean[],
        ${col((e) => e.reason)}::text[], ${col((e) => e.at.toISOString())}::timestamptz[])
        as v(tenant_id, id, queue_id, kind, link, url, user_agent, ip, machine, reason, at)
      join send_queue q on q.tenant_id = v.tenant_id and q.id = v.queue_id
      returning tenant_id, send_id, queue_id, kind, link, url, machine, machine_reason,
        created_at`.execute(trx);

    const sends = new Map<string, Counters>();
    const counter = (tenant: string, send: string) => {
      const key = `${tenant}/${send}`;
      let c = sends.get(key);
      if (!c) sends.set(key, c = { tenant, send, o: 0, c: 0, uo: 0, uc: 0, mo: 0, mc: 0 });
      return c;
    };
    // The first human open/click per message, earliest in this batch.
    const firsts = { open: new Map<string, Date>(), click: new Map<string, Date>() };
    for (const r of ins.rows) {
      const c = counter(r.tenant_id, r.send_id);
      if (r.machine) r.kind === "open" ? c.mo++ : c.mc++;
      else {
        r.kind === "open" ? c.o++ : c.c++;
        const m = firsts[r.kind];
        const key = `${r.tenant_id}/${r.queue_id}`;
        const at = new Date(r.created_at);
        const prev = m.get(key);
        if (!prev || at < prev) m.set(key, at);
      }
    }
    for (const kind of ["open", "click"] as const) {
      const m = firsts[kind];
      if (!m.size) continue;
      const keys = [...m.keys()];
      const column = sql.ref(kind === "open" ? "opened_at" : "clicked_at");
      // "is null" makes a message count once even when two processes flush at the same time:
      // the second update waits for the row and then no longer matches.
      const first = await sql<{ tenant_id: string; send_id: string }>`
        update send_queue q set ${column} = v.at
        from unnest(${keys.map((k) => k.slice(0, 36))}::uuid[],
          ${keys.map((k) => k.slice(37))}::uuid[],
          ${[...m.values()].map((d) => d.toISOString())}::timestamptz[]) as v(tenant_id, id, at)
        where q.tenant_id = v.tenant_id and q.id = v.id and q.${column} is null
        returning q.tenant_id, q.send_id`.execute(trx);
      for (const r of first.rows) counter(r.tenant_id, r.send_id)[kind === "open" ? "uo" : "uc"]++;
    }
    if (sends.size) {
      const cs = [...sends.values()];
      const n = (f: (c: Counters) => number) => cs.map((c) => String(f(c)));
      await sql`
        update sends s set opens = s.opens + v.o, clicks = s.clicks + v.c,
          unique_opens = s.unique_opens + v.uo, unique_clicks = s.unique_clicks + v.uc,
          machine_opens = s.machine_opens + v.mo, machine_clicks = s.machine_clicks + v.mc
        from unnest(${cs.map((c) => c.tenant)}::uuid[], ${cs.map((c) => c.send)}::uuid[],
          ${n((c) => c.o)}::text[]::int[], ${n((c) => c.c)}::text[]::int[],
          ${n((c) => c.uo)}::text[]::int[], ${n((c) => c.uc)}::text[]::int[],
          ${n((c) => c.mo)}::text[]::int[], ${n((c) => c.mc)}::text[]::int[])
          as v(tenant_id, id, o, c, uo, uc, mo, mc)
        where s.tenant_id = v.tenant_id and s.id = v.id`.execute(trx);
    }
    await emitTracking(trx, deps, ins.rows);
    return ins.rows.length;
  });
}

/**
 * Opens and clicks being written, as "opened"/"clicked" for plugins' afterEvents in the same
 * transaction. The recipients are read only when some plugin listens, so the pixel's write path
 * pays nothing otherwise.
 */
async function emitTracking(
  trx: Transaction<DB>,
  deps: Partial<EventDeps>,
  rows: WrittenEvent[],
): Promise<void> {
  if (!rows.length || !hasEventListeners(deps)) return;
  const to = new Map<string, string>();
  for (const [tenantId, list] of groupBy(rows, (r) => r.tenant_id)) {
    const ids = [...new Set(list.map((r) => r.queue_id))];
    const q = await sql<{ id: string; address: string }>`select id, address from send_queue
      where tenant_id = ${tenantId} and id = any(${ids}::uuid[])`.execute(trx);
    for (const r of q.rows) to.set(`${tenantId}/${r.id}`, r.address);
  }
  await emitMailEvents(
    trx,
    deps,
    rows.map((r): MailEvent => ({
      tenantId: r.tenant_id,
      type: r.kind === "open" ? "opened" : "clicked",
      at: new Date(r.created_at),
      sendId: r.send_id,
      queueId: r.queue_id,
      recipient: to.get(`${r.tenant_id}/${r.queue_id}`) ?? "",
      details: r.kind === "open" ? { machine: r.machine, machine_reason: r.machine_reason } : {
        url: r.url,
        link: r.link === null ? null : Number(r.link),
        machine: r.machine,
        machine_reason: r.machine_reason,
      },
    })),
  );
}

interface Counters {
  tenant: string;
  send: string;
  o: number;
  c: number;
  uo: number;
  uc: number;
  mo: number;
  mc: number;
}

/**
 * What this process saw of a message lately (opens not yet written, recent clicks): the burst
 * and no-open rules need it before the events reach the database. Bounded, oldest dropped.
 */
export class RecentActivity {
  readonly #max: number;
  readonly #map = new Map<string, { opened: boolean; clicks: { link: number; at: number }[] }>();

  constructor(max = 20_000) {
    this.#max = max;
  }

  get(queueId: string) {
    return this.#map.get(queueId);
  }

  #entry(queueId: string) {
    let e = this.#map.get(queueId);
    if (e) this.#map.delete(queueId);
    else e = { opened: false, clicks: [] };
    this.#map.set(queueId, e);
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value!);
    return e;
  }

  opened(queueId: string) {
    this.#entry(queueId).opened = true;
  }

  clicked(queueId: string, link: number, at: number) {
    const e = this.#entry(queueId);
    e.clicks.push({ link, at });
    if (e.clicks.length > 20) e.clicks.shift();
  }
}

const recorders = new WeakMap<object, EventRecorder>();

/** The process's recorder for this app (one per database handle). */
export function trackingRecorder(deps: Deps): EventRecorder {
  let r = recorders.get(deps.db);
  if (!r) recorders.set(deps.db, r = new EventRecorder(deps));
  return r;
}

/** Flushes and stops the app's recorder, if it has one: call before closing the database. */
export async function stopTracking(deps: Pick<AppDeps, "db">): Promise<void> {
  await recorders.get(deps.db)?.stop();
  recorders.delete(deps.db);
}
