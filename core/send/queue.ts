// The durable send queue: expand (audience → rows, in SQL), claim (batches under a lease),
// record (outcomes in batches), and the controls (pause, resume, cancel, progress).
//
// Everything proportional to an audience is one set-based statement; TypeScript only loops over
// bounded batches (ARCHITECTURE.md, "Data rules").
import { type Kysely, sql, type SqlBool, type Transaction } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import type { DB, SendKind } from "../db/schema.ts";
import { isUuid, uuidv7, uuidv7Block } from "../db/ids.ts";
import { jsonb } from "../db/json.ts";
import { AppError } from "../errors.ts";
import { audit } from "../tenants/audit.ts";
import { normalizeAddress } from "../people/address.ts";
import { candidatesSql, collectRules, selectedSql } from "./expansion.ts";
import { nextAttempt } from "./retry_schedule.ts";
import { groupBy } from "../collections.ts";
import { unsubscribedAddresses, unsubscribedPredicate } from "../feedback/unsubscribe.ts";
import { emitMailEvents, type EventDeps, hasEventListeners } from "../feedback/mail_events.ts";
import { outcomeEvents } from "../feedback/outcomes.ts";
import { blockedAddresses } from "../feedback/blocked.ts";

type Deps = Pick<AppDeps, "db" | "clock">;
type Db = Kysely<DB> | Transaction<DB>;

/** Lower goes first: a password reset never waits behind a newsletter. */
export const PRIORITY: Record<SendKind, number> = { transactional: 0, single: 1, mass: 2 };

export const Audience = z.object({
  segments: z.array(z.uuid()).max(50).default([]),
  lists: z.array(z.uuid()).max(50).default([]),
  persons: z.array(z.uuid()).max(1000).default([]),
  /** Raw addresses, not (necessarily) persons: staff writing to someone outside the CRM. */
  addresses: z.array(z.string().max(320)).max(1000).default([]),
  exclude_segments: z.array(z.uuid()).max(50).default([]),
  /** Options for plugins' expansion rules, per plugin name (core/send/expansion.ts). */
  plugins: z.record(z.string().max(40), z.unknown()).optional(),
});
export type Audience = z.output<typeof Audience>;

/** What is sent, frozen at queue time. Handlebars in subject, html and text. */
export const SendContent = z.object({
  from: z.object({ name: z.string().max(200).default(""), address: z.string().max(320) }),
  reply_to: z.string().max(320).optional(),
  subject: z.string().min(1).max(998),
  html: z.string().max(5_000_000).optional(),
  text: z.string().max(5_000_000).optional(),
  headers: z.record(z.string(), z.string().max(2000)).optional(),
  /** Open and click tracking for transactional mail (mass and single mail are always tracked). */
  tracking: z.boolean().optional(),
  /** References to mailing_attachments rows (not bytes): loaded once per send by the worker. */
  attachments: z.array(z.object({
    id: z.uuid(),
    filename: z.string().max(255),
    content_type: z.string().max(255),
  })).max(50).optional(),
  /**
   * Send-wide merge data from plugins' sendData hooks, under each plugin's name, computed once
   * when the content was frozen (core/mailings/send_data.ts); the same for every recipient.
   */
  data: z.record(z.string(), z.unknown()).optional(),
});
export type SendContent = z.output<typeof SendContent>;

export const EXCLUSION_REASONS = [
  "inactive",
  "excluded_segment",
  "no_address",
  "undeliverable",
  "invalid_address",
  "unsubscribed",
] as const;
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number];

const SEND_COLUMNS = [
  "id",
  "kind",
  "status",
  "content",
  "audience",
  "total",
  "sent",
  "failed",
  "deferred",
  "excluded",
  "error",
  "created_by",
  "created_at",
  "updated_at",
  "started_at",
  "finished_at",
] as const;

export async function createSend(
  deps: Deps,
  tenantId: string,
  input: {
    kind: SendKind;
    content: z.input<typeof SendContent>;
    audience: z.input<typeof Audience>;
    /** The mailing it comes from; a test send is kept out of statistics. */
    mailingId?: string;
    isTest?: boolean;
  },
  actor: string,
) {
  const content = SendContent.parse(input.content);
  const audience = Audience.parse(input.audience);
  const now = deps.clock();
  const id = uuidv7();
  await deps.db.insertInto("sends").values({
    tenant_id: tenantId,
    id,
    kind: input.kind,
    content: jsonb(content),
    audience: jsonb(audience),
    excluded: jsonb({}),
    mailing_id: input.mailingId ?? null,
    is_test: input.isTest ?? false,
    created_by: actor,
    created_at: now,
    updated_at: now,
  }).execute();
  return await getSend(deps, tenantId, id);
}

export async function getSend(deps: Pick<AppDeps, "db">, tenantId: string, id: string) {
  if (!isUuid(id)) throw new AppError("not_found");
  const row = await deps.db.selectFrom("sends").select(SEND_COLUMNS)
    .where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst();
  if (!row) throw new AppError("not_found");
  return { ...row, content: row.content as SendContent, audience: row.audience as Audience };
}
export type SendRow = Awaited<ReturnType<typeof getSend>>;

/** Ids for the rows of one INSERT … SELECT: a UUIDv7 block numbered by `row_number()`. */
function blockIds() {
  const { prefix, base } = uuidv7Block();
  return sql<string>`(${prefix}::text || lpad(to_hex(${base}::bigint + row_number() over ()), 12,
    '0'))::uuid`;
}

/**
 * Expands a draft's audience into queue rows in one transaction and starts the send.
 * One INSERT … SELECT: persons reached through several segments or lists appear once; those
 * excluded are counted by reason, never loaded.
 */
export async function expandSend(
  deps: Deps & { registry?: AppDeps["registry"] },
  tenantId: string,
  sendId: string,
  actor: string,
  /** readyAt: the queued messages wait until then (a run expanded ahead of its time). */
  opts: { readyAt?: Date } = {},
): Promise<{ total: number; excluded: Partial<Record<ExclusionReason, number>> }> {
  const now = deps.clock();
  const readyAt = opts.readyAt && opts.readyAt > now ? opts.readyAt : now;
  // Plugins' rules are asked for before the transaction: a hook may read the database, and on
  // PGlite (one connection) a read outside the open transaction would wait for it forever.
  const draft = await deps.db.selectFrom("sends").select(["kind", "audience", "mailing_id"])
    .where("tenant_id", "=", tenantId).where("id", "=", sendId).executeTakeFirst();
  const rules = draft
    ? await collectRules(
      { db: deps.db, registry: deps.registry },
      { tenantId, kind: draft.kind, mailingId: draft.mailing_id, sendId, at: now },
      Audience.parse(draft.audience),
    )
    : [];
  return await deps.db.transaction().execute(async (trx) => {
    const claimed = await trx.updateTable("sends").set({ status: "expanding", updated_at: now })
      .where("tenant_id", "=", tenantId).where("id", "=", sendId).where("status", "=", "draft")
      .returning(["kind", "audience"]).executeTakeFirst();
    if (!claimed) {
      await getSend({ db: trx }, tenantId, sendId); // not_found if it does not exist
      throw new AppError("conflict", {}, [{ path: "status", code: "not_draft", message: "" }]);
    }
    const audience = Audience.parse(claimed.audience);
    const priority = PRIORITY[claimed.kind];
    const excluded: Partial<Record<ExclusionReason, number>> = {};
    let total = 0;

    // Unsubscribes bind mass mail only: transactional and one-to-one mail still go out.
    const unsubscribed = claimed.kind === "mass"
      ? unsubscribedPredicate(tenantId, { sendId }, {
        personId: sql.ref("p.id"),
        addressKey: sql.ref("a.address_key"),
      })
      : sql<SqlBool>`false`;
    const cand = await candidatesSql(trx, tenantId, audience, { unsubscribed, rules });
    if (cand) {
      const selected = selectedSql(rules);
      // The planner's estimate for this statement triggers JIT, whose compiling cost ~1.2 s per
      // million rows and saved less (bench/expand.ts); the setting ends with the transaction.
      await sql`set local jit = off`.execute(trx);
      const rows = await sql<{ reason: string | null; n: number }>`
        with cand as (${cand}),
        ins as (
          insert into send_queue (tenant_id, send_id, id, priority, person_id, address, domain,
            ready_at, created_at)
          select ${tenantId}, ${sendId}, ${blockIds()}, ${priority}, person_id, address,
            lower(split_part(address, '@', 2)), ${readyAt}, ${now}
          from (${selected.sql}) s
          returning 1
        )
        select reason, count(*)::int as n from cand where reason is not null group by reason
        union all
        select null, count(*)::int from ins
        ${
        selected.sampleReason
          ? sql`union all select '', count(*)::int from cand where reason is null`
          : sql``
      }`.execute(trx);
      let eligible = 0;
      for (const r of rows.rows) {
        if (r.reason === null) total += Number(r.n);
        else if (r.reason === "") eligible = Number(r.n);
        else excluded[r.reason as ExclusionReason] = Number(r.n);
      }
      if (selected.sampleReason && eligible > total) {
        excluded[selected.sampleReason as ExclusionReason] = eligible - total;
      }
    }

    // Raw addresses: validated here; an address that is also a queued person's is sent once.
    const seen = new Set<string>();
    const raw = audience.addresses.flatMap((input) => {
      const a = normalizeAddress(input);
      if (!a.ok) {
        excluded.invalid_address = (excluded.invalid_address ?? 0) + 1;
        return [];
      }
      if (seen.has(a.key)) return [];
      seen.add(a.key);
      return [a];
    });
    if (raw.length) {
      const already = new Set(
        (await trx.selectFrom("send_queue").select(sql<string>`lower(address)`.as("k"))
          .where("tenant_id", "=", tenantId).where("send_id", "=", sendId)
          .where(sql`lower(address)`, "in", raw.map((a) => a.key)).execute()).map((r) => r.k),
      );
      const blocked = await blockedAddresses(trx, tenantId, raw.map((a) => a.key));
      const unsubscribed = claimed.kind === "mass"
        ? await unsubscribedAddresses(trx, tenantId, { sendId }, raw.map((a) => a.key))
        : new Set<string>();
      const fresh = raw.filter((a) =>
        !already.has(a.key) && !blocked.has(a.key) && !unsubscribed.has(a.key)
      );
      if (blocked.size) excluded.undeliverable = (excluded.undeliverable ?? 0) + blocked.size;
      const unsubCount = [...unsubscribed].filter((k) => !blocked.has(k)).length;
      if (unsubCount) excluded.unsubscribed = (excluded.unsubscribed ?? 0) + unsubCount;
      if (fresh.length) {
        await trx.insertInto("send_queue").values(fresh.map((a) => ({
          tenant_id: tenantId,
          send_id: sendId,
          id: uuidv7(),
          priority,
          person_id: null,
          address: a.address,
          domain: a.address.slice(a.address.lastIndexOf("@") + 1).toLowerCase(),
          ready_at: readyAt,
          created_at: now,
        }))).execute();
        total += fresh.length;
      }
    }

    await trx.updateTable("sends").set({
      status: total > 0 ? "sending" : "done",
      total,
      excluded: jsonb(excluded),
      started_at: now,
      finished_at: total > 0 ? null : now,
      updated_at: now,
    }).where("tenant_id", "=", tenantId).where("id", "=", sendId).execute();
    await audit(trx, {
      tenantId,
      actor,
      action: "send.start",
      target: sendId,
      details: { total, excluded },
      at: now,
    });
    return { total, excluded };
  });
}

export interface Claimed {
  tenant_id: string;
  send_id: string;
  id: string;
  person_id: string | null;
  address: string;
  domain: string;
  data: unknown;
  attempts: number;
  ready_at: Date;
  created_at: Date;
}

/**
 * Claims up to `size` ready rows for this worker under a lease. Transactional sends first; the
 * rest is shared evenly between the active sends, so one huge mailing cannot starve another
 * tenant's. Rows another worker holds are skipped (SKIP LOCKED), never waited for.
 */
export async function claimBatch(
  deps: Deps,
  workerId: string,
  opts: {
    size: number;
    leaseMs: number;
    /** Only these priority tiers (the worker's express lane claims [0] alone). */
    tiers?: readonly number[];
  },
): Promise<Claimed[]> {
  const now = deps.clock();
  const tiers = opts.tiers ?? [0, 1, 2];
  const out: Claimed[] = [];
  const leaseUntil = new Date(now.getTime() + opts.leaseMs);
  // Transactional rows, oldest first across all tenants and streams in one statement: a
  // tenant's stream is one long-lived send, and asking each of them in turn would cost one
  // query per tenant on every claim.
  if (tiers.includes(0)) {
    out.push(...await claimPriorityZero(deps.db, workerId, opts.size, now, leaseUntil));
  }
  // A batch with transactional rows holds nothing else: they must not wait for a mailing's
  // 500 messages to be rendered and delivered beside them.
  if (out.length) return out;
  const rest = tiers.filter((t) => t !== 0);
  if (!rest.length) return out;
  const active = await deps.db.selectFrom("sends").select(["tenant_id", "id", "kind"])
    .where("status", "=", "sending").where("kind", "<>", "transactional").execute();
  if (!active.length) return out;
  // Priority tiers in order; within a tier, an equal share per send, leftovers to the next.
  for (const tier of rest) {
    let sends = active.filter((s) => PRIORITY[s.kind] === tier);
    while (sends.length && out.length < opts.size) {
      const share = Math.max(1, Math.floor((opts.size - out.length) / sends.length));
      const still: typeof sends = [];
      for (const s of sends) {
        const want = Math.min(share, opts.size - out.length);
        if (want <= 0) break;
        const got = await claimFrom(deps.db, s.tenant_id, s.id, workerId, want, now, leaseUntil);
        out.push(...got);
        if (got.length === want) still.push(s);
      }
      sends = still;
    }
  }
  return out;
}

/**
 * Ready rows of priority 0, oldest first (index send_queue_express, migration 0012). Only a
 * running send has queued rows (paused ones are held, cancelled ones cancelled), so the send
 * need not be looked at.
 */
async function claimPriorityZero(
  db: Db,
  workerId: string,
  n: number,
  now: Date,
  leaseUntil: Date,
): Promise<Claimed[]> {
  const r = await sql<Claimed>`
    with c as materialized (
      select tenant_id, id from send_queue
      where status = 'queued' and priority = 0 and ready_at <= ${now}
      order by ready_at limit ${n}
      for update skip locked
    )
    update send_queue q set status = 'leased', lease_until = ${leaseUntil},
      leased_by = ${workerId}, attempts = q.attempts + 1
    from c
    where q.tenant_id = c.tenant_id and q.id = c.id
    returning q.tenant_id, q.send_id, q.id, q.person_id, q.address, q.domain, q.data,
      q.attempts, q.ready_at, q.created_at`.execute(db);
  return r.rows;
}

async function claimFrom(
  db: Db,
  tenantId: string,
  sendId: string,
  workerId: string,
  n: number,
  now: Date,
  leaseUntil: Date,
): Promise<Claimed[]> {
  // The CTE is materialized on purpose: a LIMIT … SKIP LOCKED subquery inlined into the UPDATE
  // may be evaluated more than once and then claim more than n rows.
  const r = await sql<Claimed>`
    with c as materialized (
      select id from send_queue
      where tenant_id = ${tenantId} and send_id = ${sendId} and status = 'queued'
        and ready_at <= ${now}
      order by ready_at limit ${n}
      for update skip locked
    )
    update send_queue q set status = 'leased', lease_until = ${leaseUntil},
      leased_by = ${workerId}, attempts = q.attempts + 1
    from c
    where q.tenant_id = ${tenantId} and q.id = c.id
    returning q.tenant_id, q.send_id, q.id, q.person_id, q.address, q.domain, q.data,
      q.attempts, q.ready_at, q.created_at`.execute(db);
  return r.rows;
}

/** Rows whose worker died (lease expired) become ready again. Returns how many. */
export async function recoverExpiredLeases(deps: Deps): Promise<number> {
  const r = await deps.db.updateTable("send_queue")
    .set({ status: "queued", lease_until: null, leased_by: null })
    .where("status", "=", "leased").where("lease_until", "<", deps.clock())
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/**
 * Keeps a worker's lease on the rows it still holds: a slow batch (a loaded machine, a slow
 * remote server) must not have its rows handed to another worker and sent twice.
 */
export async function extendLeases(
  deps: Deps,
  workerId: string,
  rows: { tenant_id: string; id: string }[],
  leaseMs: number,
): Promise<number> {
  const until = new Date(deps.clock().getTime() + leaseMs);
  let n = 0;
  for (const [tenantId, list] of groupBy(rows, (r) => r.tenant_id)) {
    const ids = list.map((r) => r.id);
    const r = await sql`update send_queue set lease_until = ${until}
      where tenant_id = ${tenantId} and id = any(${ids}::uuid[]) and status = 'leased'
        and leased_by = ${workerId}`.execute(deps.db);
    n += Number(r.numAffectedRows ?? 0);
  }
  return n;
}

/**
 * Queue rows cancelled after expansion because their recipient became excluded (unsubscribed):
 * they move from the send's recipients to its exclusions, so the two never count one person
 * twice, and a send with nothing left is finished.
 */
export async function countCancelled(
  db: Db,
  tenantId: string,
  sendId: string,
  n: number,
  reason: ExclusionReason,
  now: Date,
): Promise<void> {
  if (!n) return;
  await sql`update sends set total = greatest(total - ${n}::int, 0),
      excluded = jsonb_set(excluded, ${`{${reason}}`}::text[],
        to_jsonb(coalesce((excluded ->> ${reason})::int, 0) + ${n}::int)), updated_at = ${now}
    where tenant_id = ${tenantId} and id = ${sendId}`.execute(db);
  await finishIfDone(db, tenantId, sendId, now);
}

/**
 * Rows this worker holds that must not go out after all (the recipient unsubscribed since the
 * send was expanded): cancelled with the reason, and counted among the send's exclusions.
 */
export async function dropLeasedRows(
  deps: Deps,
  workerId: string,
  tenantId: string,
  sendId: string,
  ids: string[],
  reason: ExclusionReason,
): Promise<void> {
  if (!ids.length) return;
  const now = deps.clock();
  await deps.db.transaction().execute(async (trx) => {
    const r = await sql`update send_queue set status = 'cancelled', last_reply = ${reason},
        lease_until = null
      where tenant_id = ${tenantId} and id = any(${ids}::uuid[]) and status = 'leased'
        and leased_by = ${workerId}`.execute(trx);
    await countCancelled(trx, tenantId, sendId, Number(r.numAffectedRows ?? 0), reason, now);
  });
}

export interface Outcome {
  tenant_id: string;
  send_id: string;
  id: string;
  status: "sent" | "deferred" | "failed" | "throttled";
  reply: string;
  retryAfterMs?: number;
  message_id?: string;
  attempts: number;
  created_at: Date;
  /** The recipient, for listeners (bounce handling); not written by recordOutcomes. */
  address?: string;
}

/**
 * Writes a batch of outcomes: one UPDATE per tenant from arrays, counters per send, and sends
 * with nothing left marked done. Deferred rows get their next attempt from the retry schedule,
 * or fail once it gives up. With a registry in deps (the worker's), plugins' afterEvents run in
 * the same transaction, so what they write commits with the outcomes.
 */
export async function recordOutcomes(
  deps: Deps & Partial<EventDeps>,
  outcomes: Outcome[],
): Promise<void> {
  if (!outcomes.length) return;
  const now = deps.clock();
  const byTenant = groupBy(outcomes, (o) => o.tenant_id);
  const counts = new Map<
    string,
    { tenant: string; sent: number; failed: number; deferred: number }
  >();
  await deps.db.transaction().execute(async (trx) => {
    for (const [tenantId, list] of byTenant) {
      const ids: string[] = [];
      const statuses: string[] = [];
      const replies: string[] = [];
      const ready: string[] = [];
      const mids: (string | null)[] = [];
      const unclaim: string[] = [];
      for (const o of list) {
        let status: string = o.status;
        let readyAt = now;
        if (o.status === "throttled") {
          // Not attempted: back in the queue after the wait, the claim's attempt taken back.
          unclaim.push(o.id);
          status = "queued";
          readyAt = new Date(now.getTime() + (o.retryAfterMs ?? 1_000));
        } else if (o.status === "deferred") {
          const next = nextAttempt(o.attempts, now, { firstAttemptAt: o.created_at });
          if (next) {
            status = "queued";
            readyAt = next;
          } else {
            status = "failed";
          }
        }
        ids.push(o.id);
        statuses.push(status);
        replies.push(o.reply.slice(0, 1000));
        ready.push(readyAt.toISOString());
        mids.push(o.message_id ?? null);
        const c = counts.get(o.send_id) ?? { tenant: tenantId, sent: 0, failed: 0, deferred: 0 };
        if (status === "sent") c.sent++;
        else if (status === "failed") c.failed++;
        else if (o.status === "deferred") c.deferred++;
        counts.set(o.send_id, c);
      }
      await sql`
        update send_queue q set status = v.status, last_reply = v.reply, ready_at = v.ready_at,
          message_id = coalesce(v.mid, q.message_id), lease_until = null,
          sent_at = case when v.status = 'sent' then ${now}::timestamptz else q.sent_at end
        from unnest(${ids}::uuid[], ${statuses}::text[], ${replies}::text[],
          ${ready}::timestamptz[], ${mids}::text[]) as v(id, status, reply, ready_at, mid)
        where q.tenant_id = ${tenantId} and q.id = v.id and q.status = 'leased'`.execute(trx);
      if (unclaim.length) {
        await trx.updateTable("send_queue").set((eb) => ({ attempts: eb("attempts", "-", 1) }))
          .where("tenant_id", "=", tenantId).where("id", "in", unclaim).execute();
      }
    }
    // Before the counters: the hooks then run while no sends row is locked yet. Nothing to
    // build on the hot path when no plugin listens.
    if (hasEventListeners(deps)) await emitMailEvents(trx, deps, outcomeEvents(outcomes, now));
    for (const [sendId, c] of counts) {
      await trx.updateTable("sends").set((eb) => ({
        sent: eb("sent", "+", c.sent),
        failed: eb("failed", "+", c.failed),
        deferred: eb("deferred", "+", c.deferred),
        updated_at: now,
      })).where("tenant_id", "=", c.tenant).where("id", "=", sendId).execute();
      await finishIfDone(trx, c.tenant, sendId, now);
    }
  });
}

/** A transactional stream's send (`stream` set) is never done: its messages keep coming. */
async function finishIfDone(db: Db, tenantId: string, sendId: string, now: Date) {
  await sql`update sends set status = 'done', finished_at = ${now}, updated_at = ${now}
    where tenant_id = ${tenantId} and id = ${sendId} and status = 'sending' and stream is null
      and not exists (select 1 from send_queue where tenant_id = ${tenantId}
        and send_id = ${sendId} and status in ('queued', 'leased', 'held'))`.execute(db);
}

/** Pause: queued rows are held; rows already on the wire finish. */
export async function pauseSend(deps: Deps, tenantId: string, sendId: string, actor: string) {
  return await control(
    deps,
    tenantId,
    sendId,
    actor,
    "pause",
    ["sending"],
    "paused",
    "queued",
    "held",
  );
}

export async function resumeSend(deps: Deps, tenantId: string, sendId: string, actor: string) {
  return await control(
    deps,
    tenantId,
    sendId,
    actor,
    "resume",
    ["paused"],
    "sending",
    "held",
    "queued",
  );
}

/** Cancel: everything not yet sent is dropped (counted as cancelled). */
export async function cancelSend(deps: Deps, tenantId: string, sendId: string, actor: string) {
  return await control(
    deps,
    tenantId,
    sendId,
    actor,
    "cancel",
    ["draft", "sending", "paused"],
    "cancelled",
    ["queued", "held"],
    "cancelled",
  );
}

async function control(
  deps: Deps,
  tenantId: string,
  sendId: string,
  actor: string,
  action: string,
  from: string[],
  to: "paused" | "sending" | "cancelled",
  rowsFrom: string | string[],
  rowsTo: string,
) {
  const now = deps.clock();
  await deps.db.transaction().execute(async (trx) => {
    const s = await trx.updateTable("sends").set({
      status: to,
      updated_at: now,
      ...(to === "cancelled" ? { finished_at: now } : {}),
    }).where("tenant_id", "=", tenantId).where("id", "=", sendId)
      .where("status", "in", from as never).returning("id").executeTakeFirst();
    if (!s) {
      const cur = await getSend({ db: trx }, tenantId, sendId);
      throw new AppError("conflict", {}, [{ path: "status", code: cur.status, message: "" }]);
    }
    await sql`update send_queue set status = ${rowsTo}
      where tenant_id = ${tenantId} and send_id = ${sendId}
        and status in (${sql.join([rowsFrom].flat())})`.execute(trx);
    if (to === "sending") await finishIfDone(trx, tenantId, sendId, now);
    await audit(trx, { tenantId, actor, action: `send.${action}`, target: sendId, at: now });
  });
  return await getSend(deps, tenantId, sendId);
}

/** Counts straight from the queue (the send row's counters are the fast path for lists). */
export async function sendProgress(deps: Pick<AppDeps, "db">, tenantId: string, sendId: string) {
  const s = await getSend(deps, tenantId, sendId);
  const rows = await deps.db.selectFrom("send_queue").select([
    "status",
    sql<number>`count(*)::int`.as("n"),
  ])
    .where("tenant_id", "=", tenantId).where("send_id", "=", sendId).groupBy("status").execute();
  const by = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  return {
    id: s.id,
    status: s.status,
    total: s.total,
    sent: by.sent ?? 0,
    failed: by.failed ?? 0,
    queued: (by.queued ?? 0) + (by.leased ?? 0),
    held: by.held ?? 0,
    cancelled: by.cancelled ?? 0,
    excluded: s.excluded,
    started_at: s.started_at,
    finished_at: s.finished_at,
  };
}
