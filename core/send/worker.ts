// The send worker: claim a batch → render → deliver → record, in a loop. Idle workers sleep on
// LISTEN/NOTIFY (with a timeout for retries coming due and expired leases), never busy-poll.
import { sql } from "kysely";
import type { AppDeps } from "../deps.ts";
import { uuidv7 } from "../db/ids.ts";
import {
  claimBatch,
  type Claimed,
  dropLeasedRows,
  extendLeases,
  type Outcome,
  recordOutcomes,
  recoverExpiredLeases,
} from "./queue.ts";
import type { SendContent } from "./queue.ts";
import {
  compileContent,
  type CompiledContent,
  messageOf,
  type Recipient,
  renderMessage,
  trackingSettings,
} from "./render.ts";
import type { SendKind } from "../db/schema.ts";
import type { DkimKey, RenderItem, RenderPool, RenderResult } from "./render_pool.ts";
import type { DeliveryResult, OutgoingMessage, Transport } from "./transport.ts";
import { OutcomeRecorder } from "./outcome_recorder.ts";
import { groupBy } from "../collections.ts";
import type { Attachment } from "./mime.ts";
import { loadAttachmentData } from "../mailings/attachments.ts";
import { unsubscribedQueueRows } from "../feedback/unsubscribe.ts";
import { DkimSignerCache } from "./dkim.ts";
import { batchSigningKeys } from "./dkim_keys.ts";
import { setRsaFfiFallbackReporter } from "./rsa_ffi.ts";
import { streamFromDomain, StreamMessageData } from "./stream_message.ts";
import { renderStreamMessage } from "./stream_render.ts";

export const SEND_CHANNEL = "skicka_send";

/** Wakes idle workers after new rows were queued. Call after the queuing transaction commits. */
export async function notifyWorkers(deps: Pick<AppDeps, "db">): Promise<void> {
  await sql`select pg_notify(${SEND_CHANNEL}, '')`.execute(deps.db);
}

/** What one claim takes: how many rows, of which priority tiers (all when omitted). */
export interface Lane {
  size: number;
  tiers?: readonly number[];
}

/** The express lane claims transactional rows only (PRIORITY.transactional). */
const EXPRESS_TIERS = [0] as const;

export interface WorkerOptions {
  batchSize?: number;
  leaseMs?: number;
  /** Longest idle sleep: retries coming due and expired leases are noticed within this. */
  idleWaitMs?: number;
  workerId?: string;
  /**
   * Batches in progress at once. While one batch waits on SMTP or the database another renders,
   * so neither the CPU nor the connections sit idle between batches.
   */
  pipelines?: number;
  /**
   * The express lane: one more loop that claims only transactional rows (priority 0), this many
   * at a time, woken by NOTIFY while the pipelines are busy with a mailing's batches. Without
   * it a password reset would wait for a pipeline to finish a batch of mass mail. 0 turns it
   * off.
   */
  expressBatch?: number;
  /** DKIM on this thread: signs each rendered message (see dkim.ts createDkimSigner). */
  sign?: (raw: string) => string;
  /** Render and sign in these Web Workers instead of on this thread. */
  renderPool?: RenderPool;
  /** DKIM key for the render pool's workers. */
  dkim?: DkimKey;
  /**
   * Outcomes are written once this many are waiting, or after maxDelay: the smaller, the fewer
   * messages a crashed worker sends twice, at the cost of more (small) writes.
   */
  recordEvery?: number;
  recordDelayMs?: number;
  /** Hear every recorded group of outcomes (bounce handling, contact notes, plugin hooks). */
  onOutcomes?: ((outcomes: Outcome[]) => Promise<void>)[];
}

export class SendWorker {
  readonly id: string;
  readonly #deps: AppDeps;
  readonly #transport: Transport;
  readonly #batch: number;
  readonly #lease: number;
  readonly #idle: number;
  readonly #sign?: (raw: string) => string;
  readonly #pool?: RenderPool;
  readonly #dkim?: DkimKey;
  /** Signer sets of tenants' own keys (dkim_keys), for rendering on this thread. */
  readonly #tenantSigners = new DkimSignerCache();
  readonly #contents = new Map<
    string,
    { compiled: CompiledContent; fromDomain: string; kind: SendKind; attachments: Attachment[] }
  >();
  /**
   * Sends that are transactional streams (sends.stream): each of their rows carries its own
   * message (stream_message.ts), rendered per row rather than from the send's content.
   */
  readonly #streams = new Set<string>();
  /** Signs tracking links, List-Unsubscribe and the VERP return path (render.ts). */
  readonly #tracking;
  #stopping = false;
  #loop: Promise<void> | null = null;
  readonly #pipelines: number;
  readonly #expressBatch: number;
  readonly #waiting = new Set<() => void>();
  /** NOTIFYs heard so far: a loop that was busy when one came knows it missed it. */
  #wakes = 0;
  #unlisten: (() => Promise<void>) | null = null;
  #lastRecovery = 0;
  readonly #recordEvery: number;
  readonly #recordDelayMs: number;
  readonly #listeners: ((outcomes: Outcome[]) => Promise<void>)[];

  constructor(deps: AppDeps, transport: Transport, opts: WorkerOptions = {}) {
    this.#deps = deps;
    this.#tracking = trackingSettings(deps);
    this.#transport = transport;
    this.#batch = opts.batchSize ?? 500;
    this.#lease = opts.leaseMs ?? 120_000;
    this.#idle = opts.idleWaitMs ?? 5_000;
    this.#sign = opts.sign;
    this.#pool = opts.renderPool;
    this.#dkim = opts.dkim;
    setRsaFfiFallbackReporter((reason) => deps.log.debug("DKIM RSA uses node:crypto", { reason }));
    this.#pipelines = opts.pipelines ?? 3;
    this.#expressBatch = opts.expressBatch ?? 50;
    this.#recordEvery = opts.recordEvery ?? 64;
    this.#recordDelayMs = opts.recordDelayMs ?? 50;
    this.#listeners = opts.onOutcomes ?? [];
    this.id = opts.workerId ?? `${Deno.hostname()}:${Deno.pid}:${uuidv7().slice(-8)}`;
  }

  async start(): Promise<void> {
    this.#unlisten = await this.#deps.database.listen(SEND_CHANNEL, () => this.#wakeAll());
    const loops = Array.from({ length: this.#pipelines }, () => this.#run());
    if (this.#expressBatch > 0) {
      loops.push(this.#run({ size: this.#expressBatch, tiers: EXPRESS_TIERS }));
    }
    this.#loop = Promise.all(loops)
      .then(() => {});
  }

  /** Stops claiming, finishes the batch in hand, closes the transport. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wakeAll();
    await this.#loop;
    await this.#unlisten?.();
    await this.#transport.close();
  }

  async #run(lane?: Lane): Promise<void> {
    while (!this.#stopping) {
      let n = 0;
      const wakes = this.#wakes;
      try {
        n = await this.runOnce(lane);
      } catch (e) {
        this.#deps.log.error("send batch failed", { worker: this.id, error: String(e) });
      }
      // A NOTIFY that came while this claim was in flight (its rows committed too late for the
      // claim to see them) found nobody waiting: claim again rather than sleep through it.
      if (n === 0 && !this.#stopping && wakes === this.#wakes) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, this.#idle);
          const waiting = this.#waiting;
          function done() {
            clearTimeout(timer);
            waiting.delete(done);
            resolve();
          }
          waiting.add(done);
        });
      }
    }
  }

  #wakeAll() {
    this.#wakes++;
    for (const w of [...this.#waiting]) w();
  }

  /** One claim-render-deliver-record round; returns how many messages it handled. */
  async runOnce(lane?: Lane): Promise<number> {
    const now = Date.now();
    if (now - this.#lastRecovery > 5_000) {
      this.#lastRecovery = now;
      const n = await recoverExpiredLeases(this.#deps);
      if (n) this.#deps.log.warn("expired leases returned to the queue", { rows: n });
    }
    const t0 = performance.now();
    const rows = await claimBatch(this.#deps, this.id, {
      size: lane?.size ?? this.#batch,
      leaseMs: this.#lease,
      tiers: lane?.tiers,
    });
    if (!rows.length) return 0;
    const t1 = performance.now();
    // Outcomes are written as deliveries complete (in small groups), not once per batch: a
    // worker killed mid-batch has recorded all but the last few, so few are sent twice.
    const recorder = new OutcomeRecorder<Outcome>((b) => this.#record(b), this.#deps.log, {
      maxPending: this.#recordEvery,
      maxDelayMs: this.#recordDelayMs,
    });
    // The lease is renewed while the batch is in hand, at a third of its length.
    const heartbeat = setInterval(() => {
      extendLeases(this.#deps, this.id, rows, this.#lease).catch((e) =>
        this.#deps.log.warn("lease renewal failed", { error: String(e) })
      );
    }, Math.max(250, this.#lease / 3));
    let t2: number;
    try {
      await this.#process(rows, (o) => recorder.push(o));
      t2 = performance.now();
      await recorder.close();
    } finally {
      clearInterval(heartbeat);
    }
    // Where a batch's time goes; the benchmark profile starts here (LOG_LEVEL=debug).
    this.#deps.log.debug("send batch", {
      rows: rows.length,
      claim_ms: Math.round(t1 - t0),
      render_deliver_ms: Math.round(t2 - t1),
      record_tail_ms: Math.round(performance.now() - t2),
      record_writes: recorder.writes,
    });
    return rows.length;
  }

  async #record(outcomes: Outcome[]): Promise<void> {
    await recordOutcomes(this.#deps, outcomes);
    for (const listen of this.#listeners) {
      try {
        await listen(outcomes);
      } catch (e) {
        // Recorded already: a failing listener (bounces, contact notes) must not resend mail.
        this.#deps.log.error("outcome listener failed", { error: String(e) });
      }
    }
  }

  async #process(rows: Claimed[], sink: (o: Outcome) => void): Promise<void> {
    const started = performance.now();
    await this.#loadContents(rows);
    rows = await this.#dropUnsubscribed(rows);
    const people = await this.#loadPersons(rows);
    const stream = this.#streamMessages(rows);
    // Each tenant's own DKIM keys for its From domains: material once per batch, ids per message.
    const dkim = await batchSigningKeys(
      this.#deps,
      rows.flatMap((r) => {
        const fromDomain = this.#contents.get(r.send_id)?.fromDomain ??
          stream.get(r.id)?.fromDomain;
        return fromDomain ? [{ tenantId: r.tenant_id, fromDomain }] : [];
      }),
    );
    const outgoing: OutgoingMessage[] = [];
    const byKey = new Map(rows.map((r) => [r.id, r]));
    const done = new Set<string>();
    // Message-IDs that are not `<queue id@from domain>`: a submitted message keeps its own.
    const messageIds = new Map<string, string>();
    const emit = (r: DeliveryResult) => {
      const row = byKey.get(r.key);
      if (!row || done.has(r.key)) return;
      done.add(r.key);
      sink({
        tenant_id: row.tenant_id,
        send_id: row.send_id,
        id: row.id,
        status: r.status,
        reply: r.reply,
        retryAfterMs: r.retryAfterMs,
        message_id: messageIds.get(row.id) ??
          `<${row.id}@${
            this.#contents.get(row.send_id)?.fromDomain ?? stream.get(row.id)?.fromDomain ??
              "skicka"
          }>`,
        attempts: row.attempts,
        created_at: row.created_at,
        address: row.address,
      });
    };
    const items: RenderItem[] = [];
    for (const row of rows) {
      if (this.#streams.has(row.send_id)) {
        const m = stream.get(row.id);
        if (!m) {
          emit({ key: row.id, status: "failed", reply: "message data invalid" });
          continue;
        }
        const keyError = dkim.failed(row.tenant_id, m.fromDomain);
        if (keyError) {
          emit({ key: row.id, status: "deferred", reply: keyError });
          continue;
        }
        const person = row.person_id ? people.get(row.person_id) : undefined;
        const r = this.#renderStream(
          row,
          m,
          person,
          dkim.idsFor(row.tenant_id, m.fromDomain),
          dkim.keys,
        );
        if ("error" in r) {
          emit({ key: row.id, status: "failed", reply: r.error });
          continue;
        }
        messageIds.set(row.id, r.messageId);
        outgoing.push(r.out);
        continue;
      }
      const c = this.#contents.get(row.send_id);
      if (!c) {
        emit({ key: row.id, status: "failed", reply: "send content missing" });
        continue;
      }
      const keyError = dkim.failed(row.tenant_id, c.fromDomain);
      if (keyError) {
        emit({ key: row.id, status: "deferred", reply: keyError });
        continue;
      }
      const person = row.person_id ? people.get(row.person_id) : undefined;
      items.push({
        key: row.id,
        sendId: row.send_id,
        recipient: {
          address: row.address,
          ...person,
          data: (row.data ?? undefined) as Record<string, unknown> | undefined,
        },
        // The queue id makes the Message-ID unique and lets replies and bounces find the row.
        messageId: `<${row.id}@${c.fromDomain}>`,
        dkimKeys: dkim.idsFor(row.tenant_id, c.fromDomain),
        tenantId: row.tenant_id,
        kind: c.kind,
      });
    }
    for (const r of await this.#render(items, dkim.keys)) {
      const row = byKey.get(r.key)!;
      if (r.error !== undefined) {
        emit({ key: r.key, status: "failed", reply: r.error });
        continue;
      }
      outgoing.push({
        key: r.key,
        tenantId: row.tenant_id,
        sendId: row.send_id,
        // MAIL FROM is the VERP address: bounces name their message (feedback/tokens.ts).
        from: r.mailFrom ?? this.#contents.get(row.send_id)!.compiled.content.from.address,
        to: row.address,
        raw: r.raw,
        subject: r.subject,
      });
    }
    const rendered = performance.now();
    // A transport that does not report as it goes still answers for every message at the end.
    for (const r of await this.#transport.deliver(outgoing, emit)) emit(r);
    for (const row of rows) {
      emit({ key: row.id, status: "deferred", reply: "no result from transport" });
    }
    this.#deps.log.debug("send deliver", {
      rows: rows.length,
      render_ms: Math.round(rendered - started),
      deliver_ms: Math.round(performance.now() - rendered),
    });
  }

  /** The stream rows' messages, parsed once per batch; an invalid one is left out (fails). */
  #streamMessages(rows: Claimed[]) {
    const out = new Map<string, { data: StreamMessageData; fromDomain: string }>();
    for (const row of rows) {
      if (!this.#streams.has(row.send_id)) continue;
      const parsed = StreamMessageData.safeParse(row.data);
      if (parsed.success) {
        out.set(row.id, { data: parsed.data, fromDomain: streamFromDomain(parsed.data) });
      }
    }
    return out;
  }

  /**
   * One stream message, rendered and signed on this thread: transactional mail comes a few at a
   * time and must not wait for a render worker busy with a mailing's slice.
   */
  #renderStream(
    row: Claimed,
    m: { data: StreamMessageData; fromDomain: string },
    person: Omit<Recipient, "address"> | undefined,
    dkimKeys: string[] | undefined,
    keys: Record<string, DkimKey>,
  ): { out: OutgoingMessage; messageId: string } | { error: string } {
    try {
      const message = {
        tenantId: row.tenant_id,
        queueId: row.id,
        sendId: row.send_id,
        kind: "transactional" as const,
      };
      const r = renderStreamMessage(m.data, { address: row.address, ...person }, {
        messageId: `<${row.id}@${m.fromDomain}>`,
        tracking: this.#tracking,
        message,
      });
      const sign = dkimKeys?.length ? this.#tenantSigners.get(dkimKeys, keys) : this.#sign;
      return {
        messageId: r.messageId,
        out: {
          key: row.id,
          tenantId: row.tenant_id,
          sendId: row.send_id,
          from: r.mailFrom ??
            (m.data.kind === "raw" ? m.data.mail_from : m.data.content.from.address),
          to: row.address,
          raw: sign ? sign(r.raw) : r.raw,
          subject: r.subject,
          urgent: true,
        },
      };
    } catch (e) {
      return { error: `render: ${String(e)}` };
    }
  }

  /** Renders (and signs) in the worker pool when there is one, else on this thread. */
  async #render(
    items: RenderItem[],
    keys: Record<string, DkimKey>,
  ): Promise<RenderResult[]> {
    if (this.#pool) {
      const contents = [...new Set(items.map((i) => i.sendId))].map((sendId) => ({
        sendId,
        content: this.#contents.get(sendId)!.compiled.content,
        attachments: this.#contents.get(sendId)!.attachments,
      }));
      return await this.#pool.render(contents, items, this.#dkim, this.#tracking, keys);
    }
    return items.map((item) => {
      try {
        const c = this.#contents.get(item.sendId)!;
        const r = renderMessage(c.compiled, item.recipient, {
          messageId: item.messageId,
          tracking: this.#tracking,
          message: messageOf(item),
          attachments: c.attachments,
        });
        const sign = item.dkimKeys?.length
          ? this.#tenantSigners.get(item.dkimKeys, keys)
          : this.#sign;
        const raw = sign ? sign(r.raw) : r.raw;
        return { key: item.key, raw, subject: r.subject, mailFrom: r.mailFrom };
      } catch (e) {
        return { key: item.key, error: `render: ${String(e)}` };
      }
    });
  }

  /** Send content is frozen, so it is cached for the worker's life (bounded), with its files. */
  async #loadContents(rows: Claimed[]) {
    const missing = rows.filter((r) =>
      !this.#contents.has(r.send_id) && !this.#streams.has(r.send_id)
    );
    if (!missing.length) return;
    for (const [tenantId, list] of groupBy(missing, (r) => r.tenant_id)) {
      const ids = [...new Set(list.map((r) => r.send_id))];
      const found = await this.#deps.db.selectFrom("sends")
        .select(["id", "content", "kind", "stream"])
        .where("tenant_id", "=", tenantId).where("id", "in", ids).execute();
      for (const s of found) {
        if (s.stream !== null) {
          if (this.#streams.size > 10_000) this.#streams.clear();
          this.#streams.add(s.id);
          continue;
        }
        const content = s.content as SendContent;
        const refs = content.attachments ?? [];
        const data = await loadAttachmentData(this.#deps, tenantId, refs.map((a) => a.id));
        if (this.#contents.size > 500) this.#contents.delete(this.#contents.keys().next().value!);
        this.#contents.set(s.id, {
          compiled: compileContent(content),
          fromDomain: content.from.address.slice(content.from.address.lastIndexOf("@") + 1),
          kind: s.kind,
          // A file deleted after the send was frozen is left out rather than failing the send.
          attachments: refs.flatMap((a) => {
            const d = data.get(a.id);
            return d
              ? [{ filename: a.filename, contentType: a.content_type, content: d.data }]
              : [];
          }),
        });
      }
    }
  }

  /** Mass-mail rows whose recipient unsubscribed after expansion are cancelled, not sent. */
  async #dropUnsubscribed(rows: Claimed[]): Promise<Claimed[]> {
    const mass = rows.filter((r) => this.#contents.get(r.send_id)?.kind === "mass");
    const dropped = new Set<string>();
    for (const [sendId, list] of groupBy(mass, (r) => r.send_id)) {
      const tenantId = list[0]!.tenant_id;
      const ids = await unsubscribedQueueRows(
        this.#deps.db,
        tenantId,
        sendId,
        list.map((r) => r.id),
      );
      await dropLeasedRows(this.#deps, this.id, tenantId, sendId, ids, "unsubscribed");
      for (const id of ids) dropped.add(id);
    }
    return dropped.size ? rows.filter((r) => !dropped.has(r.id)) : rows;
  }

  async #loadPersons(rows: Claimed[]) {
    const out = new Map<string, Omit<Recipient, "address">>();
    const withPerson = rows.filter((r) => r.person_id);
    for (const [tenantId, list] of groupBy(withPerson, (r) => r.tenant_id)) {
      const ids = list.map((r) => r.person_id!);
      const found = await this.#deps.db.selectFrom("persons")
        .select(["id", "first_name", "last_name", "organisation", "title", "language", "custom"])
        .where("tenant_id", "=", tenantId).where("id", "in", ids).execute();
      for (const p of found) out.set(p.id, p);
    }
    return out;
  }
}
