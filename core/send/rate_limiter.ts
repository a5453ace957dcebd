// Send-rate control for the route stage: token buckets per key and a concurrency cap.

export interface BucketLimit {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** Most tokens a bucket holds: how many can go at once after a quiet spell. */
  burst: number;
}

export interface RateLimiterOptions {
  /** Limit for keys without one of their own. */
  defaultLimit: BucketLimit;
  /** Limits per key, e.g. per destination domain; setLimit() changes them later. */
  limits?: Readonly<Record<string, BucketLimit>>;
  /** Milliseconds, monotonic; defaults to performance.now. */
  now?: () => number;
  /** Idle buckets are swept once this many exist, so a mailing to many domains stays small. */
  maxIdleKeys?: number;
}

interface Bucket {
  tokens: number;
  updated: number;
  limit: BucketLimit;
}

function checkLimit(limit: BucketLimit): BucketLimit {
  if (!(limit.ratePerSecond > 0) || !(limit.burst >= 1)) {
    throw new RangeError(
      `Rate limit needs ratePerSecond > 0 and burst >= 1, got ${JSON.stringify(limit)}`,
    );
  }
  return limit;
}

/** "200/400" → 200 per second, burst 400; "50" → 50 per second, burst 50. */
export function parseLimit(text: string): BucketLimit {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(\d+))?\s*$/.exec(text);
  if (!m) throw new RangeError(`"${text}" is not a rate such as 200/400 (per second/burst)`);
  const ratePerSecond = Number(m[1]);
  return checkLimit({ ratePerSecond, burst: m[2] ? Number(m[2]) : Math.max(1, ratePerSecond) });
}

/** "gmail.com=50/100, outlook.com=20" → limits per domain (lower-cased). */
export function parseDomainLimits(text: string): Record<string, BucketLimit> {
  const out: Record<string, BucketLimit> = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    const domain = part.slice(0, eq).trim().toLowerCase();
    if (eq < 1 || !/^[a-z0-9.-]+$/.test(domain)) {
      throw new RangeError(`"${part}" is not domain=rate/burst`);
    }
    out[domain] = parseLimit(part.slice(eq + 1));
  }
  return out;
}

/** Token buckets by key. Buckets start full and refill continuously. */
export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #limits = new Map<string, BucketLimit>();
  readonly #default: BucketLimit;
  readonly #now: () => number;
  readonly #maxIdleKeys: number;

  constructor(options: RateLimiterOptions) {
    this.#default = checkLimit(options.defaultLimit);
    for (const [key, limit] of Object.entries(options.limits ?? {})) {
      this.#limits.set(key, checkLimit(limit));
    }
    this.#now = options.now ?? (() => performance.now());
    this.#maxIdleKeys = options.maxIdleKeys ?? 10_000;
  }

  /**
   * Takes `n` tokens if the bucket has them and returns 0; otherwise takes nothing and returns
   * the milliseconds until it will have them, so a caller that defers or requeues the work
   * does not pay for it twice.
   */
  take(key: string, n = 1): number {
    const bucket = this.#refill(key);
    if (n > bucket.limit.burst) {
      throw new RangeError(
        `Cannot take ${n} tokens from "${key}": its burst is ${bucket.limit.burst}`,
      );
    }
    if (bucket.tokens >= n) {
      bucket.tokens -= n;
      return 0;
    }
    return Math.ceil(((n - bucket.tokens) / bucket.limit.ratePerSecond) * 1000);
  }

  /**
   * Takes `n` tokens now even when the bucket lacks them, going into debt (at most one burst):
   * urgent work (transactional mail) goes at once, and the debt holds back what follows, so the
   * key's average rate still keeps to its limit.
   */
  force(key: string, n = 1): void {
    const bucket = this.#refill(key);
    bucket.tokens = Math.max(-bucket.limit.burst, bucket.tokens - n);
  }

  /** Puts back tokens taken for work that did not go after all (never above the burst). */
  give(key: string, n = 1): void {
    const bucket = this.#refill(key);
    bucket.tokens = Math.min(bucket.limit.burst, bucket.tokens + n);
  }

  /** Changes a key's limit, e.g. to slow down after a 421 from that domain. */
  setLimit(key: string, limit: BucketLimit): void {
    this.#limits.set(key, checkLimit(limit));
    const bucket = this.#buckets.get(key);
    if (bucket) {
      this.#refill(key);
      bucket.limit = limit;
      bucket.tokens = Math.min(bucket.tokens, limit.burst);
    }
  }

  /** Number of buckets held in memory. */
  get size(): number {
    return this.#buckets.size;
  }

  #refill(key: string): Bucket {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= this.#maxIdleKeys) this.#sweep(now);
      const limit = this.#limits.get(key) ?? this.#default;
      bucket = { tokens: limit.burst, updated: now, limit };
      this.#buckets.set(key, bucket);
      return bucket;
    }
    const elapsed = now - bucket.updated;
    if (elapsed > 0) {
      const { burst, ratePerSecond } = bucket.limit;
      bucket.tokens = Math.min(burst, bucket.tokens + (elapsed * ratePerSecond) / 1000);
      bucket.updated = now;
    }
    return bucket;
  }

  /** A full bucket is the same as no bucket, so it can go. */
  #sweep(now: number): void {
    for (const [key, b] of this.#buckets) {
      if (b.tokens + ((now - b.updated) * b.limit.ratePerSecond) / 1000 >= b.limit.burst) {
        this.#buckets.delete(key);
      }
    }
  }
}

/** Thrown when a permit is not free within the acquire timeout; callers defer the work. */
export class SemaphoreTimeoutError extends Error {
  override name = "SemaphoreTimeoutError";
}

export interface AcquireOptions {
  /** Milliseconds to wait for a permit; defaults to the semaphore's timeout. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (error: unknown) => void;
  done: boolean;
}

/** Caps concurrent work (e.g. connections per MX); waiters are served first come, first served. */
export class Semaphore {
  readonly #permits: number;
  readonly #timeoutMs: number;
  readonly #name: string;
  #inUse = 0;
  #waiting = 0;
  #queue: Waiter[] = [];
  #head = 0;

  constructor(permits: number, options: { timeoutMs?: number; name?: string } = {}) {
    if (!Number.isInteger(permits) || permits < 1) {
      throw new RangeError(`Semaphore needs at least one permit, got ${permits}`);
    }
    this.#permits = permits;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#name = options.name ?? "Semaphore";
  }

  get inUse(): number {
    return this.#inUse;
  }

  get waiting(): number {
    return this.#waiting;
  }

  /** A release function if a permit is free now, else null. Never jumps the queue. */
  tryAcquire(): (() => void) | null {
    if (this.#inUse >= this.#permits || this.#waiting > 0) return null;
    this.#inUse++;
    return this.#releaser();
  }

  /** Resolves with a release function; rejects with SemaphoreTimeoutError after the timeout. */
  acquire(options: AcquireOptions = {}): Promise<() => void> {
    const now = this.tryAcquire();
    if (now) return Promise.resolve(now);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    return new Promise((resolve, reject) => {
      const settle = () => {
        waiter.done = true;
        this.#waiting--;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        done: false,
        resolve: (release) => {
          settle();
          resolve(release);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      const onAbort = () => waiter.reject(signal?.reason);
      const timer = setTimeout(() => {
        const message = `${this.#name}: no permit free within ${timeoutMs} ms ` +
          `(${this.#inUse} of ${this.#permits} in use, ${this.#waiting} waiting)`;
        waiter.reject(new SemaphoreTimeoutError(message));
      }, timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      // Timed-out waiters stay queued until passed over; sweep them if they pile up.
      if (this.#queue.length - this.#head > 2 * this.#waiting + 1024) {
        this.#queue = this.#queue.slice(this.#head).filter((w) => !w.done);
        this.#head = 0;
      }
      this.#queue.push(waiter);
      this.#waiting++;
    });
  }

  /** Runs `fn` holding a permit, releasing it however `fn` ends. */
  async use<T>(fn: () => Promise<T> | T, options?: AcquireOptions): Promise<T> {
    const release = await this.acquire(options);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      // Releasing twice would hand out a permit that does not exist.
      if (released) return;
      released = true;
      this.#inUse--;
      this.#next();
    };
  }

  #next(): void {
    while (this.#head < this.#queue.length && this.#inUse < this.#permits) {
      const waiter = this.#queue[this.#head++]!;
      if (waiter.done) continue;
      this.#inUse++;
      waiter.resolve(this.#releaser());
    }
    // Drop the served prefix now and then instead of shifting on every release.
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
