// Slows password guessing on the submission server: every failed AUTH is answered late, and a
// client address with too many recent failures is refused AUTH for a while. In memory, per
// process: an attacker spread over several smtp processes gets a little more, never much.

export interface AuthGuardOptions {
  /** Failures from one address within `windowMs` before it is locked out. */
  maxFailures: number;
  windowMs: number;
  /** How late a failed AUTH is answered. */
  failureDelayMs: number;
}

export const DEFAULT_AUTH_GUARD: AuthGuardOptions = {
  maxFailures: 10,
  windowMs: 15 * 60_000,
  failureDelayMs: 1_000,
};

export class AuthGuard {
  readonly #failures = new Map<string, number[]>();

  constructor(readonly opts: AuthGuardOptions, readonly now: () => number = Date.now) {}

  /** Whether this address may try AUTH now. */
  allowed(address: string): boolean {
    return this.#recent(address).length < this.opts.maxFailures;
  }

  /** Records a failure; resolves after the answer delay. */
  async failed(address: string): Promise<void> {
    const list = this.#recent(address);
    list.push(this.now());
    this.#failures.set(address, list);
    if (this.#failures.size > 100_000) this.#prune();
    if (this.opts.failureDelayMs > 0) {
      await new Promise((r) => setTimeout(r, this.opts.failureDelayMs));
    }
  }

  #recent(address: string): number[] {
    const since = this.now() - this.opts.windowMs;
    return (this.#failures.get(address) ?? []).filter((t) => t > since);
  }

  #prune() {
    for (const key of [...this.#failures.keys()]) {
      const left = this.#recent(key);
      if (left.length) this.#failures.set(key, left);
      else this.#failures.delete(key);
    }
  }
}
