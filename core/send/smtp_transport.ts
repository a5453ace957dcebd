// The deliver and route stages over SMTP: a relay (smtp://user:pass@host:port) or direct MX.
// Per destination domain a token bucket; a cap on messages in flight; results per message.
import { MxError, MxResolver, PoolManager, SmtpError, SmtpPool } from "../smtp/mod.ts";
import type { RecipientResult, SmtpPoolOptions } from "../smtp/mod.ts";
import { type BucketLimit, RateLimiter } from "./rate_limiter.ts";
import type { DeliveryResult, OutgoingMessage, Transport } from "./transport.ts";

export interface SmtpTransportOptions {
  /** Messages on the wire at once, across all destinations. */
  concurrency?: number;
  /** Per recipient domain; `limits` override it for named domains (e.g. a strict provider). */
  domainLimit?: BucketLimit;
  domainLimits?: Record<string, BucketLimit>;
  /** Over all domains (per process); none when omitted. */
  globalLimit?: BucketLimit;
  /** A throttled message waits in the batch up to this long; longer, it goes back to the queue. */
  maxWaitMs?: number;
  /** The EHLO name. */
  heloName?: string;
  /** Pool options (connections per destination, timeouts, TLS). */
  pool?: Omit<SmtpPoolOptions, "host">;
  now?: () => number;
}

const encoder = new TextEncoder();

function toResult(key: string, r: RecipientResult | undefined): DeliveryResult {
  if (!r) return { key, status: "deferred", reply: "no reply for the recipient" };
  const text = `${r.code}${r.enhanced ? ` ${r.enhanced}` : ""} ${r.message}`.trim();
  return { key, status: r.status, reply: text };
}

/** A breakdown (timeout, lost connection, 421) is tried again later; a 5xx one is final. */
function fromError(key: string, e: unknown): DeliveryResult {
  if (e instanceof MxError) {
    return { key, status: e.temporary ? "deferred" : "failed", reply: `dns: ${e.reason}` };
  }
  if (e instanceof SmtpError) {
    // maybeDelivered: the message was written but no final reply came. Retrying may duplicate
    // it; not retrying may lose it. We retry (the documented duplicate window).
    const status = e.temporary || e.maybeDelivered ? "deferred" : "failed";
    return { key, status, reply: `${e.phase}: ${e.message}`.slice(0, 500) };
  }
  return { key, status: "deferred", reply: String(e).slice(0, 500) };
}

abstract class SmtpDelivery implements Transport {
  abstract readonly name: string;
  readonly #limiter: RateLimiter;
  readonly #global?: RateLimiter;
  readonly #concurrency: number;
  readonly #maxWait: number;

  constructor(opts: SmtpTransportOptions) {
    this.#limiter = new RateLimiter({
      defaultLimit: opts.domainLimit ?? { ratePerSecond: 200, burst: 400 },
      limits: opts.domainLimits,
      now: opts.now,
    });
    if (opts.globalLimit) {
      this.#global = new RateLimiter({ defaultLimit: opts.globalLimit, now: opts.now });
    }
    this.#concurrency = opts.concurrency ?? 64;
    this.#maxWait = opts.maxWaitMs ?? 2_000;
  }

  /**
   * Waits until the domain's bucket and then the global one give a token, and answers 0; or,
   * when that would take longer than maxWait, answers the wait and takes nothing more (the
   * message goes back to the queue). A token taken is never taken twice.
   */
  async #admit(domain: string, urgent = false): Promise<number> {
    if (urgent) {
      this.#limiter.force(domain);
      this.#global?.force("*");
      return 0;
    }
    let waited = 0;
    let domainOk = false;
    for (;;) {
      const wait = domainOk ? 0 : this.#limiter.take(domain);
      if (wait === 0) domainOk = true;
      const need = wait || (this.#global ? this.#global.take("*") : 0);
      if (need === 0) return 0;
      if (waited + need > this.#maxWait) {
        // Going back to the queue: the domain's token was not used.
        if (domainOk) this.#limiter.give(domain);
        return need;
      }
      await new Promise((r) => setTimeout(r, need));
      waited += need;
    }
  }

  protected abstract sendOne(m: OutgoingMessage, raw: Uint8Array): Promise<RecipientResult[]>;
  abstract close(): Promise<void>;

  async deliver(
    batch: OutgoingMessage[],
    onResult?: (r: DeliveryResult) => void,
  ): Promise<DeliveryResult[]> {
    const results: DeliveryResult[] = new Array(batch.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < batch.length; i = next++) {
        const m = batch[i]!;
        const domain = m.to.slice(m.to.lastIndexOf("@") + 1).toLowerCase();
        const wait = await this.#admit(domain, m.urgent);
        if (wait > 0) {
          results[i] = {
            key: m.key,
            status: "throttled",
            reply: "rate limited",
            retryAfterMs: wait,
          };
          onResult?.(results[i]!);
          continue;
        }
        try {
          const replies = await this.sendOne(m, encoder.encode(m.raw));
          results[i] = toResult(m.key, replies[0]);
        } catch (e) {
          results[i] = fromError(m.key, e);
        }
        onResult?.(results[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, batch.length) }, worker));
    return results;
  }
}

/** All mail through one relay (a smart host), e.g. smtp://user:pass@relay.example:587. */
export class RelayTransport extends SmtpDelivery {
  readonly name = "relay";
  readonly #pool: SmtpPool;

  constructor(url: string, opts: SmtpTransportOptions = {}) {
    super(opts);
    const u = new URL(url);
    const implicit = u.protocol === "smtps:";
    this.#pool = new SmtpPool({
      maxConnections: 8,
      ...opts.pool,
      host: u.hostname,
      port: Number(u.port) || (implicit ? 465 : 587),
      name: opts.heloName,
      tls: implicit ? "implicit" : opts.pool?.tls,
      auth: u.username
        ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) }
        : undefined,
    });
  }

  protected sendOne(m: OutgoingMessage, raw: Uint8Array) {
    return this.#pool.send({ from: m.from, to: [m.to], raw }, { urgent: m.urgent });
  }

  async close() {
    await this.#pool.close();
  }
}

/** Direct delivery: each recipient domain's MX hosts in preference order, pooled per host. */
export class MxTransport extends SmtpDelivery {
  readonly name = "mx";
  readonly #pools: PoolManager;
  readonly #mx: MxResolver;

  constructor(opts: SmtpTransportOptions & { resolver?: MxResolver; port?: number } = {}) {
    super(opts);
    this.#mx = opts.resolver ?? new MxResolver();
    this.#pools = new PoolManager({
      pool: { maxConnections: 4, ...opts.pool, name: opts.heloName },
      port: opts.port,
    });
  }

  protected async sendOne(m: OutgoingMessage, raw: Uint8Array) {
    const domain = m.to.slice(m.to.lastIndexOf("@") + 1);
    const mx = await this.#mx.resolve(domain);
    return await this.#pools.sendVia(mx.hosts.map((h) => h.host), {
      from: m.from,
      to: [m.to],
      raw,
    }, { urgent: m.urgent });
  }

  async close() {
    await this.#pools.close();
  }
}
