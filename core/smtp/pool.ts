// Connection pool for one SMTP destination: reuse, a concurrency cap, connect backoff, draining.
import {
  type OutboundMessage,
  type RecipientResult,
  SmtpConnection,
  type SmtpConnectionOptions,
} from "./client.ts";
import { SmtpError } from "./errors.ts";

export interface BackoffOptions {
  /** Wait after the first failed connect (default 1 s). */
  initialMs?: number;
  /** Longest wait, however many connects failed in a row (default 60 s). */
  maxMs?: number;
  /** Growth per further failure (default 2). */
  factor?: number;
}

export interface SmtpPoolOptions extends SmtpConnectionOptions {
  /** Most connections open at once, idle or busy (default 5). */
  maxConnections?: number;
  /** Transactions per connection before it is replaced (default 1000). */
  maxMessagesPerConnection?: number;
  /** An idle connection is closed after this long (default 30 s; servers often cut at 60 s+). */
  idleTimeoutMs?: number;
  /** How long send() waits for a free connection (default 30 s). */
  acquireTimeoutMs?: number;
  connectBackoff?: BackoffOptions;
  /** Milliseconds, monotonic; defaults to performance.now. */
  now?: () => number;
}

export interface PoolStats {
  open: number;
  idle: number;
  waiting: number;
  /** Milliseconds left before connects are tried again; 0 when not backing off. */
  backoffMs: number;
}

interface Entry {
  conn: SmtpConnection;
  uses: number;
  idleSince: number;
}

interface Waiter {
  /** An idle connection handed over, or null: a slot is free, open a connection. */
  resolve(entry: Entry | null): void;
  reject(err: Error): void;
}

/** Pooled sends to one host. Each send gets a connection of its own for its duration. */
/** How one send queues for a connection. */
export interface SendOptions {
  /** Served before the sends already waiting (transactional mail ahead of mass mail). */
  urgent?: boolean;
}

export class SmtpPool {
  readonly key: string;
  #o: SmtpPoolOptions;
  #max: number;
  #maxUses: number;
  #idleMs: number;
  #acquireMs: number;
  #backoff: Required<BackoffOptions>;
  #now: () => number;
  /** Most recently used last, so hot connections are reused and cold ones time out. */
  #idle: Entry[] = [];
  /** Connections open or being opened. */
  #open = 0;
  #waiters: Waiter[] = [];
  #failures = 0;
  #backoffUntil = 0;
  #lastConnectError?: SmtpError;
  #inFlight = 0;
  #closing = false;
  #drained?: () => void;
  #closed?: Promise<void>;
  #quitting = new Set<Promise<void>>();
  #sweepTimer?: ReturnType<typeof setTimeout>;

  constructor(options: SmtpPoolOptions) {
    this.#o = options;
    this.key = `${options.host}:${options.port ?? (options.tls === "implicit" ? 465 : 25)}`;
    this.#max = Math.max(1, options.maxConnections ?? 5);
    this.#maxUses = Math.max(1, options.maxMessagesPerConnection ?? 1000);
    this.#idleMs = options.idleTimeoutMs ?? 30_000;
    this.#acquireMs = options.acquireTimeoutMs ?? 30_000;
    this.#backoff = { initialMs: 1_000, maxMs: 60_000, factor: 2, ...options.connectBackoff };
    this.#now = options.now ?? (() => performance.now());
  }

  stats(): PoolStats {
    return {
      open: this.#open,
      idle: this.#idle.length,
      waiting: this.#waiters.length,
      backoffMs: Math.max(0, this.#backoffUntil - this.#now()),
    };
  }

  /** No send in progress or waiting. */
  get busy(): boolean {
    return this.#inFlight > 0;
  }

  /**
   * Sends one message over a pooled connection. Throws SmtpError when no session could be had
   * (connect failure, backoff, acquire timeout) or the session broke; rejections are results.
   */
  async send(
    message: OutboundMessage,
    opts: SendOptions = {},
  ): Promise<RecipientResult[]> {
    if (this.#closing) throw new SmtpError(`Pool for ${this.key} is closed`, { phase: "connect" });
    this.#inFlight++;
    try {
      for (let attempt = 0;; attempt++) {
        const entry = await this.#acquire(opts.urgent === true);
        const reused = entry.uses > 0;
        entry.uses++;
        try {
          const results = await entry.conn.send(message);
          this.#release(entry);
          return results;
        } catch (err) {
          this.#release(entry);
          // A server may close a connection while it sits idle (timeout, restart, 421): that
          // shows only on reuse, and nothing was delivered, so one fresh attempt is safe.
          const stale = err instanceof SmtpError && err.temporary && !err.maybeDelivered &&
            reused && entry.conn.closed;
          if (!stale || attempt > 0) throw err;
          // Connections idle longer than this one were likely closed the same way.
          this.#closeIdle(entry.idleSince);
        }
      }
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) this.#drained?.();
    }
  }

  /** Lets queued and running sends finish, then says QUIT on every connection. */
  close(): Promise<void> {
    this.#closing = true;
    return this.#closed ??= (async () => {
      if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
      this.#closeIdle(Infinity);
      clearTimeout(this.#sweepTimer);
      this.#sweepTimer = undefined;
      await Promise.all(this.#quitting);
    })();
  }

  async #acquire(urgent: boolean): Promise<Entry> {
    const idle = this.#idle.pop();
    if (idle) return idle;
    if (this.#open < this.#max) return await this.#connect();
    const handed = await new Promise<Entry | null>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (entry) => {
          clearTimeout(timer);
          resolve(entry);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(
          new SmtpError(`No connection to ${this.key} became free within ${this.#acquireMs} ms`, {
            phase: "timeout",
            during: "connect",
          }),
        );
      }, this.#acquireMs);
      // An urgent send (transactional mail) takes the next free connection before the mass
      // mail queued for one: else it would wait for all of a busy campaign's backlog.
      if (urgent) this.#waiters.unshift(waiter);
      else this.#waiters.push(waiter);
    });
    return handed ?? await this.#connect();
  }

  async #connect(): Promise<Entry> {
    const wait = this.#backoffUntil - this.#now();
    if (wait > 0) throw this.#backoffError(wait);
    this.#open++;
    try {
      const conn = await SmtpConnection.connect(this.#o);
      this.#failures = 0;
      this.#backoffUntil = 0;
      return { conn, uses: 0, idleSince: 0 };
    } catch (err) {
      this.#open--;
      const error = err instanceof SmtpError
        ? err
        : new SmtpError(`Connecting to ${this.key} failed: ${err}`, {
          phase: "connect",
          cause: err,
        });
      this.#failures++;
      const { initialMs, maxMs, factor } = this.#backoff;
      const delay = Math.min(maxMs, initialMs * factor ** (this.#failures - 1));
      this.#backoffUntil = this.#now() + delay;
      this.#lastConnectError = error;
      // Queued sends would only fail the same way: tell them now rather than at their timeout.
      for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#backoffError(delay));
      throw error;
    }
  }

  #backoffError(waitMs: number): SmtpError {
    const last = this.#lastConnectError;
    return new SmtpError(
      `Not connecting to ${this.key} for another ${Math.ceil(waitMs)} ms after ` +
        `${this.#failures} failed attempt(s): ${last?.message ?? "unknown error"}`,
      {
        phase: "connect",
        code: last?.code,
        enhanced: last?.enhanced,
        temporary: true,
        cause: last,
      },
    );
  }

  /** Returns a connection after a send: to a waiting send, to the idle list, or closed. */
  #release(entry: Entry): void {
    if (entry.conn.closed || entry.uses >= this.#maxUses) {
      this.#retire(entry);
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) return waiter.resolve(entry);
    if (this.#closing) return this.#retire(entry);
    entry.idleSince = this.#now();
    this.#idle.push(entry);
    this.#scheduleSweep(this.#idleMs);
  }

  #retire(entry: Entry): void {
    this.#open--;
    const quit = entry.conn.quit();
    this.#quitting.add(quit);
    void quit.finally(() => this.#quitting.delete(quit));
    this.#waiters.shift()?.resolve(null);
  }

  /** Closes idle connections that have been idle since `since` or longer. */
  #closeIdle(since: number): void {
    const keep: Entry[] = [];
    const old: Entry[] = [];
    for (const entry of this.#idle) (entry.idleSince <= since ? old : keep).push(entry);
    this.#idle = keep;
    for (const entry of old) this.#retire(entry);
  }

  #scheduleSweep(inMs: number): void {
    if (this.#sweepTimer !== undefined) return;
    this.#sweepTimer = setTimeout(() => {
      this.#sweepTimer = undefined;
      this.#closeIdle(this.#now() - this.#idleMs);
      const oldest = this.#idle[0];
      if (oldest) this.#scheduleSweep(oldest.idleSince + this.#idleMs - this.#now());
    }, Math.max(0, inMs));
  }
}

export interface PoolManagerOptions {
  /** Settings for every pool; host and port come from the destination. */
  pool?: Omit<SmtpPoolOptions, "host" | "port">;
  /** Port when a destination names none (default 25). */
  port?: number;
  /** A pool without sends for this long is closed and forgotten (default 5 min). */
  idlePoolMs?: number;
  now?: () => number;
}

/** Setup failures and broken sessions that delivered nothing: another MX host may do better. */
function worthNextHost(err: unknown): boolean {
  return err instanceof SmtpError && err.temporary && !err.maybeDelivered;
}

/** One SmtpPool per destination (relay or MX host), created on first use, closed when idle. */
export class PoolManager {
  #o: PoolManagerOptions;
  #now: () => number;
  #idlePoolMs: number;
  #pools = new Map<string, { pool: SmtpPool; lastUsed: number }>();
  #sweepTimer?: ReturnType<typeof setTimeout>;
  #closing = false;

  constructor(options: PoolManagerOptions = {}) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.#idlePoolMs = options.idlePoolMs ?? 300_000;
  }

  get size(): number {
    return this.#pools.size;
  }

  pool(host: string, port = this.#o.port ?? 25): SmtpPool {
    if (this.#closing) throw new SmtpError("PoolManager is closed", { phase: "connect" });
    const key = `${host.toLowerCase()}:${port}`;
    let slot = this.#pools.get(key);
    if (!slot) {
      const pool = new SmtpPool({ now: this.#now, ...this.#o.pool, host, port });
      slot = { pool, lastUsed: this.#now() };
      this.#pools.set(key, slot);
      this.#scheduleSweep();
    }
    slot.lastUsed = this.#now();
    return slot.pool;
  }

  send(
    host: string,
    message: OutboundMessage,
    port?: number,
    opts?: SendOptions,
  ): Promise<RecipientResult[]> {
    return this.pool(host, port).send(message, opts);
  }

  /**
   * Tries hosts in order (MX preference, RFC 5321 §5.1), moving on while a host cannot take
   * the message; server replies, even 4xx, are results and end the search.
   */
  async sendVia(
    hosts: readonly string[],
    message: OutboundMessage,
    opts?: SendOptions,
  ): Promise<RecipientResult[]> {
    let lastError: unknown = new SmtpError("No host to deliver to", { phase: "connect" });
    for (const host of hosts) {
      try {
        return await this.send(host, message, undefined, opts);
      } catch (err) {
        if (!worthNextHost(err)) throw err;
        lastError = err;
      }
    }
    throw lastError;
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#sweepTimer);
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map(({ pool }) => pool.close()));
  }

  #scheduleSweep(): void {
    if (this.#sweepTimer !== undefined) return;
    this.#sweepTimer = setTimeout(() => {
      this.#sweepTimer = undefined;
      const now = this.#now();
      for (const [key, { pool, lastUsed }] of this.#pools) {
        if (pool.busy || now - lastUsed < this.#idlePoolMs) continue;
        this.#pools.delete(key);
        void pool.close();
      }
      if (this.#pools.size > 0) this.#scheduleSweep();
    }, this.#idlePoolMs);
  }
}
