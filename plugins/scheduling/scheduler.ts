// The scheduler: in the worker role, claims due schedules and starts their mailings' sends.
// Exactly once with any number of schedulers: a due row is claimed in one UPDATE (rows locked
// with SKIP LOCKED, status scheduled → starting, under a lease), and starting is idempotent —
// the core moves a mailing from scheduled to sending once, under its row lock. A scheduler that
// dies after claiming leaves the lease to run out; the next claim finds the mailing already
// sending (done — or, if it died between the core's two transactions, with its send still a
// draft: the audience is expanded then) or still scheduled (start it). A refusal (AppError: a
// reason) fails the schedule at once; anything else (connection reset, deadlock) is left
// claimed for the lease to retry, up to maxAttempts. A suspended tenant's or one without the
// plugin's due schedule fails with that reason (the mailing a draft again): sending it late,
// whenever the tenant is let back, could be worse than not at all. Idle, it sleeps until the
// next due time or a NOTIFY on the scheduling channel; it never polls in a loop.
import { sql } from "kysely";
import type { AppDeps } from "../../core/deps.ts";
import { uuidv7 } from "../../core/db/ids.ts";
import { jsonb } from "../../core/db/json.ts";
import { AppError } from "../../core/errors.ts";
import { getMailing } from "../../core/mailings/mailings.ts";
import { sendMailing } from "../../core/mailings/send.ts";
import { expandSend, getSend } from "../../core/send/queue.ts";
import { notifyWorkers } from "../../core/send/worker.ts";
import { getTenant } from "../../core/tenants/tenants.ts";
import { WakeLoop } from "../../core/wake_loop.ts";
import { dbOf, type ScheduledMailingsTable, SCHEDULING_CHANNEL } from "./schedules.ts";
import { type Reason, reasonOf } from "./reasons.ts";

/** The plugin's own name, to ask the registry whether a tenant still has it. */
const PLUGIN_NAME = "scheduling";

export interface SchedulerOptions {
  /** How long a claim is held before another scheduler may take the row over. */
  leaseMs?: number;
  /** Longest sleep; a safety net for clocks that jump, not the way due times are found. */
  maxIdleMs?: number;
  /** Rows claimed per round. */
  batch?: number;
  /** Claims of one schedule that ended in a transient error before it is given up as failed. */
  maxAttempts?: number;
  id?: string;
  /** Starts a mailing's send; the core's sendMailing (tests put a failing one in front). */
  startSend?: typeof sendMailing;
}

type Claimed = Pick<
  ScheduledMailingsTable,
  "tenant_id" | "id" | "mailing_id" | "created_by" | "attempts"
>;

export class Scheduler {
  readonly id: string;
  readonly #deps: AppDeps;
  readonly #leaseMs: number;
  readonly #maxIdleMs: number;
  readonly #batch: number;
  readonly #maxAttempts: number;
  readonly #startSend: typeof sendMailing;
  readonly #loop: WakeLoop;

  constructor(deps: AppDeps, opts: SchedulerOptions = {}) {
    this.#deps = deps;
    this.#leaseMs = opts.leaseMs ?? 5 * 60_000;
    this.#maxIdleMs = opts.maxIdleMs ?? 5 * 60_000;
    this.#batch = opts.batch ?? 20;
    this.#maxAttempts = opts.maxAttempts ?? 5;
    this.#startSend = opts.startSend ?? sendMailing;
    this.id = opts.id ?? `${Deno.hostname()}:${Deno.pid}:${uuidv7().slice(-8)}`;
    this.#loop = new WakeLoop({
      channel: SCHEDULING_CHANNEL,
      database: deps.database,
      log: deps.log,
      labels: { job: "scheduling", scheduler: this.id },
      // Start what is due, batch after batch, then sleep until the next due time or lease end.
      round: async () => {
        while (!this.#loop.stopping && await this.runDue() > 0) { /* until nothing is due */ }
        return await this.#untilNext();
      },
      retryMs: 5_000,
    });
  }

  async start(): Promise<void> {
    await this.#loop.start();
  }

  /** Finishes the start in hand (if any), then returns; nothing is left half-claimed. */
  async stop(): Promise<void> {
    await this.#loop.stop();
  }

  /** Ends the current sleep (a NOTIFY does this; tests that move the clock may too). */
  wake(): void {
    this.#loop.wake();
  }

  /** Milliseconds until the next schedule is due or a lease runs out (capped). */
  async #untilNext(): Promise<number> {
    const r = await sql<{ next: Date | string | null }>`
      select least(
        (select min(due_at) from scheduled_mailings where status = 'scheduled'),
        (select min(lease_until) from scheduled_mailings where status = 'starting')
      ) as next`.execute(this.#deps.db);
    const next = r.rows[0]?.next;
    if (!next) return this.#maxIdleMs;
    const ms = new Date(next).getTime() - this.#deps.clock().getTime();
    // Due already (another scheduler holds it, or it was claimed meanwhile): look again soon.
    return Math.min(Math.max(ms, 250), this.#maxIdleMs);
  }

  /** Claims what is due now and starts each; returns how many were claimed. */
  async runDue(): Promise<number> {
    const claimed = await this.#claim();
    for (const [i, row] of claimed.entries()) {
      if (this.#loop.stopping) {
        await this.#release(claimed.slice(i));
        break;
      }
      try {
        await this.#startOne(row);
      } catch (e) {
        // Transient (a refusal was recorded in #startOne): left claimed, so when the lease runs
        // out the row is tried again (starting is idempotent) — until attempts run out.
        this.#deps.log.error("scheduled start failed", {
          scheduler: this.id,
          mailing: row.mailing_id,
          attempts: row.attempts,
          error: String(e),
        });
        if (row.attempts >= this.#maxAttempts) {
          await this.#finish(row, "failed", {
            reason: { code: "attempts_exhausted", params: { params: { n: row.attempts } } },
          }).catch((e2) =>
            this.#deps.log.error("recording a failed start failed", { error: String(e2) })
          );
        }
      }
    }
    return claimed.length;
  }

  async #claim(): Promise<Claimed[]> {
    const now = this.#deps.clock();
    const until = new Date(now.getTime() + this.#leaseMs);
    const r = await sql<Claimed>`
      update scheduled_mailings s
      set status = 'starting', claimed_by = ${this.id}, lease_until = ${until},
        attempts = s.attempts + 1, updated_at = ${now}
      where (s.tenant_id, s.id) in (
        select tenant_id, id from scheduled_mailings
        where (status = 'scheduled' and due_at <= ${now})
          or (status = 'starting' and lease_until <= ${now})
        order by due_at limit ${this.#batch}
        for update skip locked)
      returning s.tenant_id, s.id, s.mailing_id, s.created_by, s.attempts`
      .execute(this.#deps.db);
    return r.rows;
  }

  /** Starts one claimed mailing, or records why it did not start. Safe to repeat. */
  async #startOne(row: Claimed): Promise<void> {
    const deps = this.#deps;
    const log = deps.log.child({ scheduler: this.id, mailing: row.mailing_id });
    let m;
    try {
      m = await getMailing(deps, row.tenant_id, row.mailing_id);
    } catch (e) {
      if (e instanceof AppError && e.code === "not_found") {
        return await this.#finish(row, "cancelled", { reason: { code: "mailing_deleted" } });
      }
      throw e;
    }
    if (m.status === "draft" && row.attempts > 1) {
      // An earlier attempt of ours failed transiently after the core made it a draft again and
      // before it could be put back (#restoreScheduled): nobody else turns a claimed row's
      // mailing into a draft (unscheduling needs the row unclaimed).
      if (await this.#restoreScheduled(row)) m = { ...m, status: "scheduled" as const };
    }
    if (m.status === "scheduled") {
      const tenant = await getTenant(deps, row.tenant_id);
      // Suspended meanwhile: nothing goes out on its behalf (see the top of the file).
      if (tenant.status !== "active") {
        return await this.#finish(row, "failed", { reason: { code: "tenant_suspended" } });
      }
      // The operator took the feature away meanwhile: likewise.
      if (!deps.registry.enabledFor(tenant).has(PLUGIN_NAME)) {
        return await this.#finish(row, "failed", { reason: { code: "plugin_not_enabled" } });
      }
    }
    switch (m.status) {
      case "sending":
        // Started already: by an earlier claim that died before writing it down, or by hand.
        // One that died between the core's two transactions left the send a draft: expand it.
        if (m.send_id && !(await this.#expandDraft(row, m.send_id))) return;
        return await this.#finish(row, "started", { sendId: m.send_id });
      case "sent":
        return await this.#finish(row, "started", { sendId: m.send_id });
      case "cancelled":
        return await this.#finish(row, "cancelled", {});
      case "draft":
        return await this.#finish(row, "failed", { reason: { code: "draft_again" } });
    }
    try {
      const r = await this.#startSend(deps, row.tenant_id, row.mailing_id, row.created_by);
      await this.#finish(row, "started", { sendId: r.send_id });
      await notifyWorkers(deps);
      log.info("scheduled mailing started", { send: r.send_id, attempts: row.attempts });
    } catch (e) {
      const again = await getMailing(deps, row.tenant_id, row.mailing_id).catch(() => null);
      if (again && (again.status === "sending" || again.status === "sent")) {
        // Another scheduler's expired claim raced ours and won (the mailing went out once), or
        // the core's clean-up after a failed expansion failed too: the send may be a draft.
        if (again.send_id && !(await this.#expandDraft(row, again.send_id))) return;
        return await this.#finish(row, "started", { sendId: again.send_id });
      }
      if (!(e instanceof AppError)) {
        // Transient: the core may have made the mailing a draft again; it stays scheduled
        // (locked against edits) until the retry.
        await this.#restoreScheduled(row).catch(() => false);
        throw e;
      }
      log.warn("scheduled mailing could not start", { error: String(e) });
      await this.#finish(row, "failed", { reason: reasonOf(e) });
    }
  }

  /**
   * Expands the mailing's send if it is still a draft; false when that was refused for good
   * (the send is dropped, the mailing a draft again and the schedule failed with the reason).
   */
  async #expandDraft(row: Claimed, sendId: string): Promise<boolean> {
    const deps = this.#deps;
    const send = await getSend(deps, row.tenant_id, sendId);
    if (send.status !== "draft") return true;
    try {
      await expandSend(deps, row.tenant_id, sendId, row.created_by);
      await notifyWorkers(deps);
      deps.log.info("scheduled send expanded after an interrupted start", {
        scheduler: this.id,
        mailing: row.mailing_id,
        send: sendId,
      });
      return true;
    } catch (e) {
      // Expanded meanwhile by someone else: the audience is in the queue once either way.
      if (e instanceof AppError && e.code === "conflict") return true;
      if (!(e instanceof AppError)) throw e;
      await this.#finish(row, "failed", { reason: reasonOf(e) });
      return false;
    }
  }

  /** Puts a mailing the core made a draft again (a failed start) back to scheduled. */
  async #restoreScheduled(row: Claimed): Promise<boolean> {
    const r = await dbOf(this.#deps).updateTable("mailings")
      .set({ status: "scheduled", updated_at: this.#deps.clock() })
      .where("tenant_id", "=", row.tenant_id).where("id", "=", row.mailing_id)
      .where("status", "=", "draft").where("send_id", "is", null)
      .where((eb) =>
        eb.exists(
          eb.selectFrom("scheduled_mailings").select("id")
            .where("tenant_id", "=", row.tenant_id).where("id", "=", row.id)
            .where("status", "=", "starting").where("claimed_by", "=", this.id),
        )
      ).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Hands claimed rows that were not started back (stopping), so no lease has to run out. */
  async #release(rows: Claimed[]): Promise<void> {
    for (const row of rows) {
      await dbOf(this.#deps).updateTable("scheduled_mailings")
        .set({ status: "scheduled", claimed_by: null, lease_until: null })
        .where("tenant_id", "=", row.tenant_id).where("id", "=", row.id)
        .where("status", "=", "starting").where("claimed_by", "=", this.id).execute();
    }
  }

  /** Records the outcome if this scheduler still holds the claim; a failed start → draft. */
  async #finish(
    row: Claimed,
    status: "started" | "cancelled" | "failed",
    o: { sendId?: string | null; reason?: Reason },
  ): Promise<void> {
    const now = this.#deps.clock();
    await dbOf(this.#deps).transaction().execute(async (trx) => {
      const done = await trx.updateTable("scheduled_mailings").set({
        status,
        send_id: o.sendId ?? null,
        error: o.reason?.code ?? null,
        error_params: o.reason?.params ? jsonb(o.reason.params) : null,
        started_at: status === "started" ? now : null,
        lease_until: null,
        updated_at: now,
      }).where("tenant_id", "=", row.tenant_id).where("id", "=", row.id)
        .where("status", "=", "starting").where("claimed_by", "=", this.id).executeTakeFirst();
      if (status !== "failed" || !done.numUpdatedRows) return;
      // Editable again, so staff can fix what was missing and schedule anew. A start cut short
      // between the core's two transactions (sending, its send still a draft) loses that send,
      // as the core's own start does when expanding fails.
      const m = await trx.selectFrom("mailings").select(["status", "send_id"])
        .where("tenant_id", "=", row.tenant_id).where("id", "=", row.mailing_id).forUpdate()
        .executeTakeFirst();
      if (m?.status === "sending" && m.send_id) {
        const gone = await trx.deleteFrom("sends").where("tenant_id", "=", row.tenant_id)
          .where("id", "=", m.send_id).where("status", "=", "draft").executeTakeFirst();
        if (!Number(gone.numDeletedRows)) return;
      } else if (m?.status !== "scheduled") return;
      await trx.updateTable("mailings").set({ status: "draft", send_id: null, updated_at: now })
        .where("tenant_id", "=", row.tenant_id).where("id", "=", row.mailing_id).execute();
    });
  }
}
