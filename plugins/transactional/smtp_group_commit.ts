// Group commit for the submission server: messages that sessions finish at about the same time
// are queued in one transaction instead of one each, so 50 busy sessions cost a few commits
// rather than 50. Every message still gets its 250 only after the commit that holds it; when
// that commit fails, every message in it gets the failure (451), and none of them is queued.
import type { AppDeps } from "../../core/deps.ts";
import { enqueueRaw, enqueueRawMany, type RawInput } from "./enqueue.ts";

type Deps = Pick<AppDeps, "db" | "clock" | "log">;

interface Waiting {
  msg: RawInput;
  resolve(r: { ids: string[] }): void;
  reject(e: unknown): void;
}

export interface GroupCommitOptions {
  /** Most messages in one transaction. */
  maxBatch: number;
  /** Transactions in flight at once per tenant and stream; the rest wait and join the next. */
  maxInFlight: number;
}

export const DEFAULT_GROUP_COMMIT: GroupCommitOptions = { maxBatch: 50, maxInFlight: 4 };

/**
 * Queues messages, batching those that arrive while earlier commits are in flight. A message
 * that arrives when nothing is waiting is committed at once (after the current tick, so that
 * messages finished in the same tick share it): no delay is added when the server is quiet.
 */
export class GroupCommit {
  readonly #groups = new Map<string, { waiting: Waiting[]; inFlight: number }>();

  constructor(
    readonly deps: Deps,
    readonly opts: GroupCommitOptions = DEFAULT_GROUP_COMMIT,
  ) {}

  enqueue(tenantId: string, msg: RawInput): Promise<{ ids: string[] }> {
    const key = `${tenantId}\n${msg.stream ?? ""}`;
    let group = this.#groups.get(key);
    if (!group) {
      group = { waiting: [], inFlight: 0 };
      this.#groups.set(key, group);
    }
    const g = group;
    return new Promise((resolve, reject) => {
      g.waiting.push({ msg, resolve, reject });
      if (g.waiting.length === 1) queueMicrotask(() => this.#pump(key, tenantId));
    });
  }

  #pump(key: string, tenantId: string) {
    const g = this.#groups.get(key);
    if (!g) return;
    while (g.waiting.length && g.inFlight < this.opts.maxInFlight) {
      const batch = g.waiting.splice(0, this.opts.maxBatch);
      g.inFlight++;
      this.#commit(tenantId, batch).finally(() => {
        g.inFlight--;
        if (g.waiting.length) this.#pump(key, tenantId);
        else if (g.inFlight === 0) this.#groups.delete(key);
      });
    }
  }

  async #commit(tenantId: string, batch: Waiting[]) {
    try {
      const results = await enqueueRawMany(this.deps, tenantId, batch.map((w) => w.msg));
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (e) {
      if (batch.length > 1) {
        // One bad message must not refuse the others (nothing was written): each goes alone
        // and gets its own answer — a database outage fails them all again, a poisoned
        // message only itself.
        await Promise.all(
          batch.map((w) => enqueueRaw(this.deps, tenantId, w.msg).then(w.resolve, w.reject)),
        );
        return;
      }
      for (const w of batch) w.reject(e);
    }
  }
}
