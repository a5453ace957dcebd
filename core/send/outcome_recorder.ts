// Writes delivery outcomes in small groups as they arrive: a group is written once `maxPending`
// outcomes wait or `maxDelayMs` after the first of them, whichever comes first. Writes run one
// at a time and in order. This is what bounds the duplicate window of a crashed worker: what it
// delivered and had not yet written is at most one group plus what was on the wire.
import type { Logger } from "../log.ts";

export interface RecorderOptions {
  maxPending?: number;
  maxDelayMs?: number;
}

export class OutcomeRecorder<T> {
  readonly #write: (batch: T[]) => Promise<void>;
  readonly #log: Pick<Logger, "error">;
  readonly #max: number;
  readonly #delay: number;
  #pending: T[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #chain: Promise<void> = Promise.resolve();
  /** How many writes ran (for the batch profile). */
  writes = 0;

  constructor(
    write: (batch: T[]) => Promise<void>,
    log: Pick<Logger, "error">,
    opts: RecorderOptions = {},
  ) {
    this.#write = write;
    this.#log = log;
    this.#max = Math.max(1, opts.maxPending ?? 64);
    this.#delay = Math.max(0, opts.maxDelayMs ?? 50);
  }

  push(item: T): void {
    this.#pending.push(item);
    if (this.#pending.length >= this.#max) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), this.#delay);
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#pending.length) return;
    const batch = this.#pending;
    this.#pending = [];
    this.writes++;
    // A failed write leaves its rows leased: they go out again after the lease expires.
    this.#chain = this.#chain.then(() => this.#write(batch)).catch((e) =>
      this.#log.error("recording outcomes failed; the rows return after their lease", {
        rows: batch.length,
        error: String(e),
      })
    );
  }

  /** Writes what is waiting and resolves when every write has finished. */
  async close(): Promise<void> {
    this.#flush();
    await this.#chain;
  }
}
