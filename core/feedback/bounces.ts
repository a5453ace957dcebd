// Bounce and complaint recording: rows in `bounces`, the tenant's policy applied to the address
// (one hard bounce, or N soft ones within a window, makes it undeliverable; policy blocks never
// do), per-send counters and contact-note stamps, all in one transaction per batch. An address
// of no person (a transactional message to a shop customer) is blocked in suppressed_addresses.
import { groupBy } from "../collections.ts";
import { type Kysely, type RawBuilder, sql, type Transaction } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import type { BounceKind, DB } from "../db/schema.ts";
import { isUuid, uuidv7 } from "../db/ids.ts";
import { normalizeAddress } from "../people/address.ts";
import { audit } from "../tenants/audit.ts";
import { classify } from "./classify.ts";
import { applyNoteEvents } from "./notes.ts";
import { emitMailEvents, type EventDeps } from "./mail_events.ts";
import type { MailEvent } from "../plugin.ts";

/** With a registry and log (the app's deps), recorded bounces reach plugins' afterEvents. */
type Deps = Pick<AppDeps, "db" | "clock"> & Partial<EventDeps>;
type Db = Kysely<DB> | Transaction<DB>;

export type BounceSource = "async_dsn" | "sync" | "arf";

export interface BounceInput {
  tenantId: string;
  /** The send_queue row the report is about; its address and person win over `address`. */
  queueId?: string | null;
  address: string;
  kind: BounceKind;
  /** Enhanced status code, e.g. 5.1.1. */
  status?: string | null;
  reason: string;
  diagnostic?: string | null;
  source: BounceSource;
  reporter?: string | null;
}

export interface RecordResult {
  /** Bounce rows written (repeats of the same kind for the same message are skipped). */
  recorded: number;
  /** Address keys this batch made undeliverable. */
  undeliverable: string[];
}

export const BouncePolicy = z.object({
  soft_threshold: z.number().int().min(1).max(100),
  soft_window_days: z.number().int().min(1).max(365),
});
export type BouncePolicy = z.output<typeof BouncePolicy>;
export const DEFAULT_POLICY: BouncePolicy = { soft_threshold: 3, soft_window_days: 30 };

export async function getBouncePolicy(deps: Pick<AppDeps, "db">, tenantId: string) {
  const row = await deps.db.selectFrom("bounce_policies")
    .select(["soft_threshold", "soft_window_days"])
    .where("tenant_id", "=", tenantId).executeTakeFirst();
  return row ?? DEFAULT_POLICY;
}

/** Changes the tenant's soft-bounce threshold and window (admins; checked by the caller). */
export async function setBouncePolicy(
  deps: Deps,
  tenantId: string,
  input: z.input<typeof BouncePolicy>,
  actor: string,
): Promise<BouncePolicy> {
  const v = BouncePolicy.parse(input);
  const now = deps.clock();
  await deps.db.transaction().execute(async (trx) => {
    await trx.insertInto("bounce_policies")
      .values({ tenant_id: tenantId, ...v, updated_at: now, updated_by: actor })
      .onConflict((oc) =>
        oc.column("tenant_id").doUpdateSet({ ...v, updated_at: now, updated_by: actor })
      ).execute();
    await audit(trx, { tenantId, actor, action: "bounce_policy.update", details: v, at: now });
  });
  return v;
}

function keyOf(address: string): string {
  const a = normalizeAddress(address);
  return a.ok ? a.key : address.trim().toLowerCase();
}

const clean = (s: string | null | undefined, max: number) =>
  s ? s.replace(/[\p{Cc}\p{Cf}]+/gu, " ").replace(/\s+/g, " ").trim().slice(0, max) : null;

interface Inserted {
  queue_id: string | null;
  send_id: string | null;
  address: string;
  address_key: string;
  kind: BounceKind;
  status: string | null;
  reason: string;
  diagnostic: string;
}

/** Records a batch of bounces and complaints and applies each tenant's policy. */
export async function recordBounces(deps: Deps, bounces: BounceInput[]): Promise<RecordResult> {
  const result: RecordResult = { recorded: 0, undeliverable: [] };
  if (!bounces.length) return result;
  const byTenant = groupBy(bounces, (b) => b.tenantId);
  const now = deps.clock();
  const events: MailEvent[] = [];
  await deps.db.transaction().execute(async (trx) => {
    for (const [tenantId, list] of byTenant) {
      const rows = await insertBounces(trx, tenantId, list, now);
      result.recorded += rows.length;
      if (!rows.length) continue;
      for (const r of rows) {
        if (!r.queue_id || !r.send_id) continue;
        events.push({
          tenantId,
          type: r.kind === "complaint" ? "complained" : "bounced",
          at: now,
          sendId: r.send_id,
          queueId: r.queue_id,
          recipient: r.address,
          details: { kind: r.kind, reason: r.reason, status: r.status },
        });
      }
      result.undeliverable.push(...await applyPolicy(trx, tenantId, rows, now));
      await countPerSend(trx, tenantId, rows, now);
      await applyNoteEvents(
        trx,
        tenantId,
        rows.filter((r) => r.queue_id).map((r) => ({
          queueId: r.queue_id!,
          event: r.kind === "complaint" ? "complained" as const : "bounced" as const,
          at: now,
          detail: r.kind === "complaint"
            ? r.reason
            : [r.kind, r.reason, r.status].filter(Boolean).join(" "),
        })),
      );
    }
    // Plugins' writes (a webhook outbox) commit with the bounces or not at all.
    await emitMailEvents(trx, deps, events);
  });
  return result;
}

async function insertBounces(
  trx: Db,
  tenantId: string,
  list: BounceInput[],
  now: Date,
): Promise<Inserted[]> {
  const col = <T>(f: (b: BounceInput) => T) => list.map(f);
  const r = await sql<Inserted>`
    with v as (
      select * from unnest(
        ${col(() => uuidv7())}::uuid[],
        ${col((b) => (b.queueId && isUuid(b.queueId) ? b.queueId : null))}::uuid[],
        ${col((b) => clean(b.address, 320) ?? "")}::text[],
        ${col((b) => keyOf(b.address))}::text[],
        ${col((b) => b.kind)}::text[],
        ${
    col((b) => (b.status && /^[245]\.\d{1,3}\.\d{1,3}$/.test(b.status) ? b.status : null))
  }::text[],
        ${col((b) => clean(b.reason, 60) ?? "unknown")}::text[],
        ${col((b) => clean(b.diagnostic, 1000) ?? "")}::text[],
        ${col((b) => b.source)}::text[],
        ${col((b) => clean(b.reporter, 255))}::text[]
      ) as v(id, queue_id, address, address_key, kind, status, reason, diagnostic, source, reporter)
    ),
    m as (
      select v.*, q.id as q_id, q.send_id, q.person_id as q_person,
        coalesce(q.address, v.address) as addr,
        coalesce(lower(q.address), v.address_key) as akey
      from v left join send_queue q on q.tenant_id = ${tenantId} and q.id = v.queue_id
    )
    insert into bounces (tenant_id, id, queue_id, send_id, person_id, address, address_key, kind,
      status, reason, diagnostic, source, reporter, created_at)
    select ${tenantId}, m.id, m.q_id, m.send_id,
      coalesce(m.q_person, (select pa.person_id from person_addresses pa
        where pa.tenant_id = ${tenantId} and pa.address_key = m.akey)),
      m.addr, m.akey, m.kind, m.status, m.reason, m.diagnostic, m.source, m.reporter, ${now}
    from m where m.addr <> ''
    on conflict (tenant_id, queue_id, kind) where queue_id is not null do nothing
    returning queue_id, send_id, address, address_key, kind, status, reason, diagnostic`
    .execute(trx);
  return r.rows;
}

/** Soft bounces of an address key since the window's start or its last clearing, if later. */
const softBounces = (
  tenantId: string,
  key: RawBuilder<unknown>,
  clearedAt: RawBuilder<unknown>,
  since: Date,
) =>
  sql`(select count(*) from bounces b where b.tenant_id = ${tenantId}
    and b.address_key = ${key} and b.kind = 'soft'
    and b.created_at > greatest(${since}::timestamptz,
      coalesce(${clearedAt}, '-infinity'::timestamptz)))`;

/** Hard: undeliverable at once. Soft: when the window holds the threshold (since any clearing). */
async function applyPolicy(
  trx: Db,
  tenantId: string,
  rows: Inserted[],
  now: Date,
): Promise<string[]> {
  const marked: string[] = [];
  const hard = rows.filter((r) => r.kind === "hard");
  marked.push(...await suppress(trx, tenantId, hard, now));
  if (hard.length) {
    const r = await sql<{ address_key: string }>`
      update person_addresses pa set undeliverable_at = ${now}, undeliverable_reason = v.reason
      from unnest(${hard.map((h) => h.address_key)}::text[],
        ${hard.map((h) => describe(h))}::text[]) as v(key, reason)
      where pa.tenant_id = ${tenantId} and pa.address_key = v.key and pa.undeliverable_at is null
      returning pa.address_key`.execute(trx);
    marked.push(...r.rows.map((x) => x.address_key));
  }
  const soft = rows.filter((r) => r.kind === "soft");
  if (soft.length) {
    const policy = await getBouncePolicy({ db: trx }, tenantId);
    const since = new Date(now.getTime() - policy.soft_window_days * 86_400_000);
    const last = new Map(soft.map((s) => [s.address_key, describe(s)]));
    const suffix = `; ${policy.soft_threshold}+ soft bounces in ${policy.soft_window_days} days`;
    marked.push(...await suppress(trx, tenantId, soft, now, { policy, since, suffix }));
    const r = await sql<{ address_key: string }>`
      update person_addresses pa set undeliverable_at = ${now},
        undeliverable_reason = v.reason || ${suffix}
      from unnest(${[...last.keys()]}::text[], ${[...last.values()]}::text[]) as v(key, reason)
      where pa.tenant_id = ${tenantId} and pa.address_key = v.key and pa.undeliverable_at is null
        and ${
      softBounces(tenantId, sql.ref("pa.address_key"), sql.ref("pa.cleared_at"), since)
    } >= ${policy.soft_threshold}
      returning pa.address_key`.execute(trx);
    marked.push(...r.rows.map((x) => x.address_key));
  }
  return marked;
}

/**
 * The same rule for messages to an address of no person: blocked in suppressed_addresses (a
 * cleared row blocks again). Only bounces matched to a queue row count, so a forged report
 * about a message we never sent blocks nothing. Returns the keys it blocked.
 */
async function suppress(
  trx: Db,
  tenantId: string,
  rows: Inserted[],
  now: Date,
  soft?: { policy: BouncePolicy; since: Date; suffix: string },
): Promise<string[]> {
  // One row per key: an upsert cannot touch the same row twice in one statement.
  const byKey = new Map(rows.filter((r) => r.queue_id).map((r) => [keyOf(r.address), r]));
  if (!byKey.size) return [];
  const list = [...byKey.entries()];
  const r = await sql<{ address_key: string }>`
    insert into suppressed_addresses as sa (tenant_id, address_key, id, address, reason, reply,
      suppressed_at, created_at)
    select ${tenantId}, v.key, v.id, v.address, v.reason, v.reply, ${now}, ${now}
    from unnest(${list.map(([k]) => k)}::text[], ${list.map(([, b]) => b.address_key)}::text[],
      ${list.map(() => uuidv7())}::uuid[], ${list.map(([, b]) => b.address)}::text[],
      ${list.map(([, b]) => (describe(b) + (soft?.suffix ?? "")).slice(0, 500))}::text[],
      ${list.map(([, b]) => b.diagnostic.slice(0, 1000))}::text[])
      as v(key, bkey, id, address, reason, reply)
    left join suppressed_addresses old on old.tenant_id = ${tenantId} and old.address_key = v.key
    where not exists (select 1 from person_addresses pa
        where pa.tenant_id = ${tenantId} and pa.address_key = v.key)
      and old.suppressed_at is null
      and ${
    soft
      ? sql`${
        softBounces(tenantId, sql.ref("v.bkey"), sql.ref("old.cleared_at"), soft.since)
      } >= ${soft.policy.soft_threshold}`
      : sql`true`
  }
    on conflict (tenant_id, address_key) do update set address = excluded.address,
      reason = excluded.reason, reply = excluded.reply, suppressed_at = excluded.suppressed_at
      where sa.suppressed_at is null
    returning sa.address_key`.execute(trx);
  return r.rows.map((x) => x.address_key);
}

function describe(b: { kind: string; reason: string; status: string | null }): string {
  return `${b.kind}: ${b.reason}${b.status ? ` (${b.status})` : ""}`;
}

async function countPerSend(trx: Db, tenantId: string, rows: Inserted[], now: Date) {
  const per = new Map<string, Record<BounceKind, number>>();
  for (const r of rows) {
    if (!r.send_id) continue;
    const c = per.get(r.send_id) ?? { hard: 0, soft: 0, policy: 0, complaint: 0 };
    c[r.kind]++;
    per.set(r.send_id, c);
  }
  if (!per.size) return;
  const ids = [...per.keys()];
  const n = (k: BounceKind) => ids.map((id) => per.get(id)![k]);
  await sql`
    update sends s set bounced_hard = s.bounced_hard + v.h, bounced_soft = s.bounced_soft + v.s,
      bounced_policy = s.bounced_policy + v.p, complaints = s.complaints + v.c, updated_at = ${now}
    from unnest(${ids}::uuid[], ${n("hard")}::int[], ${n("soft")}::int[], ${n("policy")}::int[],
      ${n("complaint")}::int[]) as v(id, h, s, p, c)
    where s.tenant_id = ${tenantId} and s.id = v.id`.execute(trx);
}

/** A failed delivery as the send worker saw it: the queue row and the remote server's reply. */
export interface SyncFailure {
  tenantId: string;
  queueId: string;
  recipient: string;
  /** The SMTP reply, e.g. "550 5.1.1 <a@b>: Recipient address rejected: User unknown". */
  reply: string;
}

/**
 * Synchronous rejections during delivery (status 'failed' outcomes) as bounces, classified like
 * a DSN's Diagnostic-Code. Only real SMTP replies count: a local failure (render error, DNS
 * lookup) says nothing about the mailbox and is skipped. Returns what recordBounces returns.
 */
export async function handleSyncFailures(
  deps: Deps,
  failures: SyncFailure[],
): Promise<RecordResult> {
  const bounces: BounceInput[] = [];
  for (const f of failures) {
    if (!/^\s*[45]\d\d(?=[\s-]|$)/.test(f.reply)) continue;
    const c = classify({ text: f.reply });
    bounces.push({
      tenantId: f.tenantId,
      queueId: f.queueId,
      address: f.recipient,
      kind: c.kind,
      status: c.status,
      reason: c.reason,
      diagnostic: f.reply,
      source: "sync",
    });
  }
  return await recordBounces(deps, bounces);
}
