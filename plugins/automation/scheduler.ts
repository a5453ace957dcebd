// The automation worker (worker role): starts recurring runs as they come due, sends triggered
// mail, and finishes what a crashed worker left. Idle, it sleeps until the next run is due or a
// NOTIFY (a rule changed, a person joined a watched list); it never polls in a tight loop. Any
// number of these may run against one PostgreSQL: each run and each membership is sent once
// (runs.ts, triggers.ts).
import { sql } from "kysely";
import type { AppDeps } from "../../core/deps.ts";
import { uuidv7 } from "../../core/db/ids.ts";
import { notifyWorkers } from "../../core/send/worker.ts";
import { WakeLoop } from "../../core/wake_loop.ts";
import {
  claimDueRuns,
  resumeStartedRuns,
  type RunSettings,
  startRun,
  takeOverStaleRuns,
} from "./runs.ts";
import {
  pruneTriggerEvents,
  resumeTriggeredSends,
  sendPending,
  sweepLists,
  TRIGGER_EVENT_RETENTION_DAYS,
} from "./triggers.ts";
import { AUTOMATION_CHANNEL } from "./store.ts";

export interface AutomationWorkerOptions {
  id?: string;
  /** A claim older than this is taken over (default 10 minutes). */
  leaseMs?: number;
  /** Occurrences found later than this are recorded as missed (default 6 hours). */
  missedAfterMs?: number;
  /** Longest sleep when no run is due (default 1 minute). */
  maxIdleMs?: number;
  /** Due occurrences claimed per round (the rest are left to other workers or the next round). */
  batch?: number;
  /**
   * How often the safety-net sweep of watched lists runs (default 5 minutes). The hook records
   * memberships at once; the sweep only finds those whose hook call was lost, so a few minutes
   * late is fine, and each rule's mark is rewritten at most this often.
   */
  sweepEveryMs?: number;
  /** How often processed trigger events are pruned (default 1 hour). */
  pruneEveryMs?: number;
  /** Processed trigger events older than this many days are deleted (default 90). */
  retainTriggerEventsDays?: number;
}

export interface TickResult {
  runs: number;
  triggered: number;
}

export class AutomationWorker {
  readonly id: string;
  readonly #deps: AppDeps;
  readonly #settings: RunSettings;
  readonly #maxIdleMs: number;
  readonly #batch: number;
  readonly #sweepEveryMs: number;
  readonly #pruneEveryMs: number;
  readonly #retainDays: number;
  readonly #loop: WakeLoop;
  #lastSweep = -Infinity;
  #lastPrune = -Infinity;

  constructor(deps: AppDeps, opts: AutomationWorkerOptions = {}) {
    this.#deps = deps;
    this.id = opts.id ?? `${Deno.hostname()}:${Deno.pid}:${uuidv7().slice(-8)}`;
    this.#settings = {
      workerId: this.id,
      leaseMs: opts.leaseMs ?? 10 * 60_000,
      missedAfterMs: opts.missedAfterMs ?? 6 * 60 * 60_000,
    };
    this.#maxIdleMs = opts.maxIdleMs ?? 60_000;
    this.#batch = opts.batch ?? 20;
    this.#sweepEveryMs = opts.sweepEveryMs ?? 5 * 60_000;
    this.#pruneEveryMs = opts.pruneEveryMs ?? 60 * 60_000;
    this.#retainDays = opts.retainTriggerEventsDays ?? TRIGGER_EVENT_RETENTION_DAYS;
    this.#loop = new WakeLoop({
      channel: AUTOMATION_CHANNEL,
      database: deps.database,
      log: deps.log,
      labels: { job: "automation", worker: this.id },
      round: async () => {
        let r = await this.tick();
        while (!this.#loop.stopping && (r.runs || r.triggered)) r = await this.tick();
        return await this.#untilNext();
      },
    });
  }

  async start(): Promise<void> {
    await this.#loop.start();
  }

  /** Lets the round in hand finish, then returns. */
  async stop(): Promise<void> {
    await this.#loop.stop();
  }

  wake(): void {
    this.#loop.wake();
  }

  /** One round: due runs, stale claims, the list sweep and pruning (when due), pending triggers. */
  async tick(): Promise<TickResult> {
    const deps = this.#deps;
    let runs = 0;
    for (
      const run of [
        ...await takeOverStaleRuns(deps, this.#settings),
        ...await claimDueRuns(deps, this.#settings, this.#batch),
      ]
    ) {
      if (this.#loop.stopping) break;
      await startRun(deps, this.#settings, run);
      runs++;
    }
    await resumeStartedRuns(deps, this.#settings);
    const now = deps.clock().getTime();
    if (now - this.#lastSweep >= this.#sweepEveryMs) {
      this.#lastSweep = now;
      await sweepLists(deps, { minStepMs: this.#sweepEveryMs });
    }
    if (now - this.#lastPrune >= this.#pruneEveryMs) {
      this.#lastPrune = now;
      await pruneTriggerEvents(deps, { days: this.#retainDays });
    }
    const triggered = await sendPending(deps);
    await resumeTriggeredSends(deps, this.#settings.leaseMs);
    if (runs || triggered) await notifyWorkers(deps);
    return { runs, triggered };
  }

  /** Milliseconds until the next run is due (its lead time included), capped. */
  async #untilNext(): Promise<number> {
    const r = await sql<{ next: Date | string | null }>`
      select min(next_run_at - lead_minutes * interval '1 minute') as next
      from automation_rules where active and kind = 'recurring'`.execute(this.#deps.db);
    const next = r.rows[0]?.next;
    if (!next) return this.#maxIdleMs;
    const ms = new Date(next).getTime() - this.#deps.clock().getTime();
    return Math.min(Math.max(ms, 250), this.#maxIdleMs);
  }
}
