// The loop of a background job that sleeps until its next due time or a NOTIFY on its channel:
// run a round, sleep as long as the round says (or until woken), again until stopped. Never a
// busy poll; a failed round is logged and retried after a pause.
import type { Database } from "./db/database.ts";
import type { Logger } from "./log.ts";

export interface WakeLoopOptions {
  /** Listened to; any notification ends the current sleep. */
  channel: string;
  database: Pick<Database, "listen">;
  log: Logger;
  /** For the log line of a failed round, e.g. { worker: id }. */
  labels?: Record<string, string>;
  /** One round; returns how long to sleep afterwards, in ms (0 or less: go again at once). */
  round: () => Promise<number>;
  /** The pause after a failed round. */
  retryMs?: number;
}

export class WakeLoop {
  readonly #o: WakeLoopOptions;
  #stopping = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  /** A wake that came while a round ran: the round may have read the state before the news. */
  #woken = false;
  #unlisten: (() => Promise<void>) | null = null;

  constructor(opts: WakeLoopOptions) {
    this.#o = opts;
  }

  /** True once stop() was called: a long round should finish early. */
  get stopping(): boolean {
    return this.#stopping;
  }

  async start(): Promise<void> {
    this.#unlisten = await this.#o.database.listen(this.#o.channel, () => this.wake());
    this.#loop = this.#run();
  }

  /** Lets the round in hand finish, then returns. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.wake();
    await this.#loop;
    await this.#unlisten?.();
  }

  /** Ends the current sleep (a NOTIFY does this; tests that move the clock may too). */
  wake(): void {
    const w = this.#wake;
    this.#wake = null;
    if (w) w();
    else this.#woken = true;
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      this.#woken = false;
      let wait: number;
      try {
        wait = await this.#o.round();
      } catch (e) {
        this.#o.log.error("background round failed", { ...this.#o.labels, error: String(e) });
        wait = this.#o.retryMs ?? 5_000;
      }
      if (this.#stopping || wait <= 0 || this.#woken) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#wake = null;
          resolve();
        }, wait);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}
