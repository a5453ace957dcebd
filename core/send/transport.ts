// Delivery targets. A transport takes a batch of built messages and answers per message.
import type { AppDeps } from "../deps.ts";
import { uuidv7 } from "../db/ids.ts";

export interface OutgoingMessage {
  /** The queue row id; results are matched back by it. */
  key: string;
  tenantId: string;
  sendId: string;
  /** Envelope sender (MAIL FROM). */
  from: string;
  /** Envelope recipient (RCPT TO). */
  to: string;
  raw: string;
  subject: string;
  /**
   * Transactional mail: never waits for a rate limit behind mass mail (the tokens it takes are
   * paid back by the mass mail after it; see RateLimiter.force).
   */
  urgent?: boolean;
}

export interface DeliveryResult {
  key: string;
  /** throttled: not attempted (a rate limit); back to the queue without counting an attempt. */
  status: "sent" | "deferred" | "failed" | "throttled";
  /** The remote reply (or a description of the local failure). */
  reply: string;
  retryAfterMs?: number;
}

export interface Transport {
  readonly name: string;
  /**
   * Delivers a batch and answers per message. `onResult` hears each result as soon as it is
   * known, so the worker can record it before the rest of the batch is done: a crash then
   * resends only what was on the wire, not the whole batch.
   */
  deliver(
    batch: OutgoingMessage[],
    onResult?: (r: DeliveryResult) => void,
  ): Promise<DeliveryResult[]>;
  close(): Promise<void>;
}

/**
 * `capture`: mail is stored in the database and shown in the staff UI's mailbox; nothing leaves
 * the machine. One multi-row insert per batch.
 */
export function captureTransport(deps: Pick<AppDeps, "db" | "clock">): Transport {
  return {
    name: "capture",
    async deliver(batch, onResult) {
      if (!batch.length) return [];
      const now = deps.clock();
      await deps.db.insertInto("captured_mail").values(batch.map((m) => ({
        tenant_id: m.tenantId,
        id: uuidv7(),
        send_id: m.sendId,
        queue_id: m.key,
        mail_from: m.from,
        rcpt_to: m.to,
        subject: m.subject.slice(0, 998),
        raw: m.raw,
        created_at: now,
      }))).execute();
      const results = batch.map((m) => ({
        key: m.key,
        status: "sent" as const,
        reply: "250 captured",
      }));
      // One insert stores the whole batch, so the results are known together.
      for (const r of results) onResult?.(r);
      return results;
    },
    async close() {},
  };
}

/** The transport the configuration names: capture, smtp(s)://… (relay) or mx (direct). */
export async function transportFor(deps: AppDeps): Promise<Transport> {
  const target = deps.config.delivery;
  if (target === "capture") return captureTransport(deps);
  // Loaded only when used: capture deployments never open sockets.
  const { MxTransport, RelayTransport } = await import("./smtp_transport.ts");
  const heloName = new URL(deps.config.baseUrl).hostname;
  const opts = {
    heloName,
    concurrency: deps.config.sendConcurrency,
    domainLimit: deps.config.sendDomainLimit,
    domainLimits: deps.config.sendDomainLimits,
    globalLimit: deps.config.sendRate ?? undefined,
  };
  return target === "mx" ? new MxTransport(opts) : new RelayTransport(target, opts);
}
