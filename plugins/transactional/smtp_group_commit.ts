// Group commit for the submission server and the REST API: messages that arrive at about the
// same time (sessions finishing DATA, one-message requests) are queued in one statement instead
// of one each, so 50 busy clients cost a few commits rather than 50. Every message is still
// answered only after the commit that holds it; when that commit fails, each message of it is
// tried again alone, so one bad message fails only itself and an outage fails them all.
import type { AppDeps } from "../../core/deps.ts";
import { enqueueRawMany, type RawInput } from "./enqueue.ts";

type Deps = Pick<AppDeps, "db" | "clock" | "log">;

interface Waiting<I, R> {
  item: I;
  resolve(r: R): void;
  reject(e: unknown): void;
}

export interface GroupCommitOptions {
  /** Most messages in one transaction. */
  maxBatch: number;
  /** Transactions in flight at once per tenant; the rest wait and join the next. */
  maxInFlight: number;
}

export const DEFAULT_GROUP_COMMIT: GroupCommitOptions = { maxBatch: 50, maxInFlight: 4 };

/**
 * Commits items per tenant in groups: `commit` queues several in one transaction (all or none)
 * and answers each, in order. An item that arrives when nothing is waiting is committed at once
 * (after the current tick, so that items finished in the same tick share it): no delay is added
 * when the server is quiet.
 */
export class Grouped<I, R> {
  readonly #groups = new Map<string, { waiting: Waiting<I, R>[]; inFlight: number }>();

  constructor(
    readonly commit: (tenantId: string, items: I[]) => Promise<R[]>,
    readonly opts: GroupCommitOptions = DEFAULT_GROUP_COMMIT,
  ) {}

  add(tenantId: string, item: I): Promise<R> {
    let group = this.#groups.get(tenantId);
    if (!group) {
      group = { waiting: [], inFlight: 0 };
      this.#groups.set(tenantId, group);
    }
    const g = group;
    return new Promise((resolve, reject) => {
      g.waiting.push({ item, resolve, reject });
      if (g.waiting.length === 1) queueMicrotask(() => this.#pump(tenantId));
    });
  }

  #pump(tenantId: string) {
    const g = this.#groups.get(tenantId);
    if (!g) return;
    while (g.waiting.length && g.inFlight < this.opts.maxInFlight) {
      const batch = g.waiting.splice(0, this.opts.maxBatch);
      g.inFlight++;
      this.#commit(tenantId, batch).finally(() => {
        g.inFlight--;
        if (g.waiting.length) this.#pump(tenantId);
        else if (g.inFlight === 0) this.#groups.delete(tenantId);
      });
    }
  }

  async #commit(tenantId: string, batch: Waiting<I, R>[]) {
    try {
      const results = await this.commit(tenantId, batch.map((w) => w.item));
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (e) {
      if (batch.length > 1) {
        // Nothing of the group was written: each goes alone and gets its own answer.
        await Promise.all(
          batch.map((w) => this.commit(tenantId, [w.item]).then((r) => w.resolve(r[0]!), w.reject)),
        );
        return;
      }
      for (const w of batch) w.reject(e);
    }
  }
}

/** Submitted messages (SMTP relay). */
export class GroupCommit {
  readonly #grouped: Grouped<RawInput, { ids: string[] }>;

  constructor(deps: Deps, opts: GroupCommitOptions = DEFAULT_GROUP_COMMIT) {
    this.#grouped = new Grouped((tenantId, msgs) => enqueueRawMany(deps, tenantId, msgs), opts);
  }

  enqueue(tenantId: string, msg: RawInput): Promise<{ ids: string[] }> {
    return this.#grouped.add(tenantId, msg);
  }
}
