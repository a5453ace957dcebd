// A per-process memory of recent look-ups for the hot request path (API keys, a tenant's
// verified senders): an answer younger than its maximum age is reused instead of read again.
// What changes in this process forgets its entries at once; a change made by another process
// is seen when the entry ages out. Concurrent misses for one key share one load.

export class Recent<V> {
  readonly #entries = new Map<string, { at: number; value: Promise<V> }>();

  constructor(readonly maxAgeMs: number, readonly maxEntries = 10_000) {}

  /** The remembered value of `key`, or `load()`'s (remembered unless it fails). */
  get(key: string, load: () => Promise<V>): Promise<V> {
    const now = Date.now();
    const hit = this.#entries.get(key);
    if (hit && now - hit.at < this.maxAgeMs) return hit.value;
    if (this.#entries.size >= this.maxEntries) this.#entries.clear();
    const value = load();
    const entry = { at: now, value };
    this.#entries.set(key, entry);
    value.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    return value;
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }

  /** Forgets every entry whose key `matches` (all of them without a test). */
  forgetWhere(matches?: (key: string) => boolean): void {
    if (!matches) return this.#entries.clear();
    for (const key of [...this.#entries.keys()]) if (matches(key)) this.#entries.delete(key);
  }
}
