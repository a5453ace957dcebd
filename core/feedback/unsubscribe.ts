// Unsubscribes: from one subscription type or from all mass mail, by person or raw address,
// honoured at once (the rest of a running mailing is cancelled in the same transaction, and
// expansion leaves them out); staff may re-subscribe with a note, recipients never can.
import { countCancelled } from "../send/queue.ts";
import { type Expression, type Kysely, sql, type SqlBool, type Transaction } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import type { DB, UnsubscribeSource } from "../db/schema.ts";
import { isUuid, uuidv7 } from "../db/ids.ts";
import { AppError } from "../errors.ts";
import { audit } from "../tenants/audit.ts";
import { normalizeAddress } from "../people/address.ts";
import { applyNoteEvents } from "./notes.ts";
import { emitMailEvents, type EventDeps } from "./mail_events.ts";

/** With a registry and log (the app's deps), unsubscribes from a message reach afterEvents. */
type Deps = Pick<AppDeps, "db" | "clock"> & Partial<EventDeps>;
type Db = Kysely<DB> | Transaction<DB>;

export type UnsubscribeScope = { kind: "all" } | { kind: "type"; subscriptionTypeId: string };

const NOTE = z.string().trim().min(1).max(2000);

/** Runs fn in a transaction, or in the caller's when it already has one. */
function inTransaction<T>(db: Db, fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db as Transaction<DB>) : db.transaction().execute(fn);
}

function addressKey(address: string): string {
  const a = normalizeAddress(address);
  return a.ok ? a.key : address.trim().toLowerCase();
}

/**
 * Records an unsubscribe and applies it at once. Idempotent: when an active unsubscribe already
 * covers the scope (all covers every type), nothing changes and created is false. With a queueId
 * the person and address come from that message, and its contact note is stamped.
 */
export async function unsubscribe(
  deps: Deps,
  input: {
    tenantId: string;
    queueId?: string;
    personId?: string;
    address?: string;
    scope: UnsubscribeScope;
    source: UnsubscribeSource;
  },
): Promise<{ created: boolean }> {
  const { tenantId, scope } = input;
  const now = deps.clock();
  return await inTransaction(deps.db, async (trx) => {
    let personId = input.personId ?? null;
    let address = input.address ? addressKey(input.address) : null;
    let message: { sendId: string; recipient: string } | null = null;
    if (input.queueId) {
      if (!isUuid(input.queueId)) throw new AppError("not_found");
      const q = await trx.selectFrom("send_queue").select(["person_id", "address", "send_id"])
        .where("tenant_id", "=", tenantId).where("id", "=", input.queueId).executeTakeFirst();
      if (!q) throw new AppError("not_found");
      personId ??= q.person_id;
      address ??= addressKey(q.address);
      message = { sendId: q.send_id, recipient: q.address };
    }
    if (personId) {
      if (!isUuid(personId)) throw new AppError("not_found");
      const p = await trx.selectFrom("persons").select("id")
        .where("tenant_id", "=", tenantId).where("id", "=", personId).executeTakeFirst();
      if (!p) throw new AppError("not_found");
    }
    if (!personId && !address) {
      throw new AppError("validation", {}, [{ path: "address", code: "required", message: "" }]);
    }
    const typeId = scope.kind === "type" ? scope.subscriptionTypeId : null;
    if (typeId) {
      const st = isUuid(typeId) && await trx.selectFrom("subscription_types").select("id")
        .where("tenant_id", "=", tenantId).where("id", "=", typeId).executeTakeFirst();
      if (!st) throw new AppError("not_found");
    }

    const covered = await trx.selectFrom("unsubscribes").select("id")
      .where("tenant_id", "=", tenantId).where("resubscribed_at", "is", null)
      .where((eb) =>
        personId
          ? eb("person_id", "=", personId)
          : eb.and([eb("address", "=", address!), eb("person_id", "is", null)])
      )
      .where((eb) =>
        typeId
          ? eb.or([eb("subscription_type_id", "is", null), eb("subscription_type_id", "=", typeId)])
          : eb("subscription_type_id", "is", null)
      )
      .limit(1).executeTakeFirst();
    if (covered) return { created: false };
    const inserted = await trx.insertInto("unsubscribes").values({
      tenant_id: tenantId,
      id: uuidv7(),
      person_id: personId,
      address,
      subscription_type_id: typeId,
      source: input.source,
      send_id: message?.sendId ?? null,
      queue_id: input.queueId ?? null,
      created_at: now,
    }).onConflict((oc) => oc.doNothing()).returning("id").executeTakeFirst();
    if (!inserted) return { created: false };

    // An expansion running now cannot see this row. Wait for it (its sends row is locked until
    // it commits) and hold back those about to start, so its queue rows are cancelled below and
    // later ones leave the recipient out.
    await sql`select id from sends where tenant_id = ${tenantId} and kind = 'mass'
      and status in ('draft', 'expanding') for share`.execute(trx);
    await cancelPending(trx, tenantId, { personId, address, typeId, now });
    if (input.queueId && message) {
      await applyNoteEvents(trx, tenantId, [{
        queueId: input.queueId,
        event: "unsubscribed",
        at: now,
      }]);
      // In this transaction (the caller's, when it has one): plugins' writes (a webhook outbox)
      // commit with the unsubscribe, or roll back with it.
      await emitMailEvents(trx, deps, [{
        tenantId,
        type: "unsubscribed",
        at: now,
        sendId: message.sendId,
        queueId: input.queueId,
        recipient: message.recipient,
        details: {
          scope: scope.kind,
          subscription_type_id: typeId,
          source: input.source,
        },
      }]);
    }
    return { created: true };
  });
}

/**
 * What one-click and the mailto variant do: leave the message's list — its mailing's
 * subscription type, or all mass mail when it has none. For the inbound role and /u/<token>.
 */
export async function unsubscribeFromMessage(
  deps: Deps,
  ref: { tenantId: string; queueId: string },
  source: "one_click" | "mailto" | "link",
): Promise<{ created: boolean; scope: UnsubscribeScope }> {
  if (!isUuid(ref.queueId)) throw new AppError("not_found");
  const r = await sql<{ subscription_type_id: string | null }>`
    select m.subscription_type_id from send_queue q
    join sends s on s.tenant_id = q.tenant_id and s.id = q.send_id
    left join mailings m on m.tenant_id = s.tenant_id and m.id = s.mailing_id
    where q.tenant_id = ${ref.tenantId} and q.id = ${ref.queueId}`.execute(deps.db);
  if (!r.rows[0]) throw new AppError("not_found");
  const typeId = r.rows[0].subscription_type_id;
  const scope: UnsubscribeScope = typeId
    ? { kind: "type", subscriptionTypeId: typeId }
    : { kind: "all" };
  const { created } = await unsubscribe(deps, { ...ref, scope, source });
  return { created, scope };
}

/**
 * The rest of running mass sends for this recipient (of the type, or all) is cancelled, set-based
 * through the pending-rows indexes; sends left with nothing to do are finished.
 */
async function cancelPending(
  trx: Transaction<DB>,
  tenantId: string,
  o: { personId: string | null; address: string | null; typeId: string | null; now: Date },
) {
  const ofType = o.typeId
    ? sql`and s.mailing_id in (select m.id from mailings m
        where m.tenant_id = ${tenantId} and m.subscription_type_id = ${o.typeId})`
    : sql``;
  const who = [
    o.personId ? sql`q.person_id = ${o.personId}` : null,
    o.address ? sql`q.person_id is null and lower(q.address) = ${o.address}` : null,
  ].filter((x) => x !== null);
  const cancelled = new Map<string, number>();
  for (const w of who) {
    const r = await sql<{ send_id: string }>`
      update send_queue q set status = 'cancelled', last_reply = 'unsubscribed'
      from sends s
      where q.tenant_id = ${tenantId} and q.status in ('queued', 'held') and ${w}
        and s.tenant_id = ${tenantId} and s.id = q.send_id and s.kind = 'mass' ${ofType}
      returning q.send_id`.execute(trx);
    for (const row of r.rows) cancelled.set(row.send_id, (cancelled.get(row.send_id) ?? 0) + 1);
  }
  for (const [sendId, n] of cancelled) {
    await countCancelled(trx, tenantId, sendId, n, "unsubscribed", o.now);
  }
}

/** The subscription type of a send's mailing (null: none, or no mailing). */
function sendTypeSql(tenantId: string, sendId: string) {
  return sql`(select m.subscription_type_id from sends s
    join mailings m on m.tenant_id = s.tenant_id and m.id = s.mailing_id
    where s.tenant_id = ${tenantId} and s.id = ${sendId})`;
}

/**
 * True for a recipient unsubscribed from this send (from all mass mail or from its mailing's
 * type), by person or by address key. For expandSend's anti-join: both arms are index lookups
 * (unsubscribes_person_active, unsubscribes_address_active); the type is an init plan, once.
 */
export function unsubscribedPredicate(
  tenantId: string,
  /** The send (its mailing's type is looked up), or the subscription type itself (or none). */
  of: { sendId: string } | { typeId: string | null },
  refs: { personId: Expression<unknown>; addressKey: Expression<unknown> },
) {
  const type = "sendId" in of ? sendTypeSql(tenantId, of.sendId) : sql`${of.typeId}::uuid`;
  return sql<SqlBool>`(exists (select 1 from unsubscribes u
      where u.tenant_id = ${tenantId} and u.resubscribed_at is null and u.person_id is not null
        and u.person_id = ${refs.personId}
        and (u.subscription_type_id is null or u.subscription_type_id = ${type}))
    or exists (select 1 from unsubscribes u
      where u.tenant_id = ${tenantId} and u.resubscribed_at is null and u.address is not null
        and u.address = ${refs.addressKey}
        and (u.subscription_type_id is null or u.subscription_type_id = ${type})))`;
}

/**
 * Of these claimed rows of a mass send, the ones whose recipient unsubscribed after the send was
 * expanded: the worker drops them just before rendering, so an unsubscribe is honoured even for
 * messages already claimed. One indexed query per send and batch.
 */
export async function unsubscribedQueueRows(
  db: Db,
  tenantId: string,
  sendId: string,
  queueIds: string[],
): Promise<string[]> {
  if (!queueIds.length) return [];
  const r = await sql<{ id: string }>`select q.id from send_queue q
    where q.tenant_id = ${tenantId} and q.id = any(${queueIds}::uuid[])
      and ${
    unsubscribedPredicate(tenantId, { sendId }, {
      personId: sql.ref("q.person_id"),
      addressKey: sql`lower(q.address)`,
    })
  }`.execute(db);
  return r.rows.map((x) => x.id);
}

/** Which of these address keys are unsubscribed from this send (raw-address recipients). */
export async function unsubscribedAddresses(
  db: Db,
  tenantId: string,
  of: { sendId: string } | { typeId: string | null },
  keys: string[],
): Promise<Set<string>> {
  if (!keys.length) return new Set();
  const type = "sendId" in of ? sendTypeSql(tenantId, of.sendId) : sql`${of.typeId}::uuid`;
  const r = await sql<{ address: string }>`
    select distinct u.address from unsubscribes u
    where u.tenant_id = ${tenantId} and u.resubscribed_at is null and u.address is not null
      and u.address in (${sql.join(keys)})
      and (u.subscription_type_id is null or u.subscription_type_id = ${type})`
    .execute(db);
  return new Set(r.rows.map((x) => x.address));
}

/** Rows that concern a person: theirs, and those of any of their addresses. */
function ofPerson(tenantId: string, personId: string) {
  return sql<SqlBool>`(u.person_id = ${personId} or u.address in (select a.address_key
    from person_addresses a where a.tenant_id = ${tenantId} and a.person_id = ${personId}))`;
}

/**
 * Staff only: lifts a person's active unsubscribes — all of them for scope all, only that type's
 * otherwise — keeping the rows (stamped with who, when and why) and writing the audit log.
 */
export async function resubscribe(
  deps: Deps,
  input: {
    tenantId: string;
    personId: string;
    scope: UnsubscribeScope;
    actor: string;
    note: string;
  },
): Promise<{ resubscribed: number }> {
  const { tenantId, personId, scope, actor } = input;
  const parsed = NOTE.safeParse(input.note ?? "");
  if (!parsed.success) {
    throw new AppError("validation", {}, [{ path: "note", code: "required", message: "" }]);
  }
  const note = parsed.data;
  if (!isUuid(personId)) throw new AppError("not_found");
  const now = deps.clock();
  return await inTransaction(deps.db, async (trx) => {
    const p = await trx.selectFrom("persons").select("id")
      .where("tenant_id", "=", tenantId).where("id", "=", personId).executeTakeFirst();
    if (!p) throw new AppError("not_found");
    const typeId = scope.kind === "type" ? scope.subscriptionTypeId : null;
    const r = await sql<{ id: string }>`
      update unsubscribes u set resubscribed_at = ${now}, resubscribed_by = ${actor},
        note = ${note}
      where u.tenant_id = ${tenantId} and u.resubscribed_at is null
        and ${ofPerson(tenantId, personId)}
        ${typeId ? sql`and u.subscription_type_id = ${typeId}` : sql``}
      returning u.id`.execute(trx);
    if (r.rows.length) {
      await audit(trx, {
        tenantId,
        actor,
        action: "person.resubscribe",
        target: personId,
        details: { scope, note, unsubscribes: r.rows.map((x) => x.id) },
        at: now,
      });
    }
    return { resubscribed: r.rows.length };
  });
}

/** A person's unsubscribes, active and lifted, newest first, with the type's name. */
export async function listUnsubscribes(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  personId: string,
) {
  if (!isUuid(personId)) throw new AppError("not_found");
  const p = await deps.db.selectFrom("persons").select("id")
    .where("tenant_id", "=", tenantId).where("id", "=", personId).executeTakeFirst();
  if (!p) throw new AppError("not_found");
  const r = await sql<{
    id: string;
    address: string | null;
    subscription_type_id: string | null;
    subscription_type_name: string | null;
    source: UnsubscribeSource;
    send_id: string | null;
    created_at: Date;
    resubscribed_at: Date | null;
    resubscribed_by: string | null;
    note: string | null;
  }>`
    select u.id, u.address, u.subscription_type_id, st.name as subscription_type_name, u.source,
      u.send_id, u.created_at, u.resubscribed_at, u.resubscribed_by, u.note
    from unsubscribes u
    left join subscription_types st on st.tenant_id = u.tenant_id
      and st.id = u.subscription_type_id
    where u.tenant_id = ${tenantId} and ${ofPerson(tenantId, personId)}
    order by u.id desc limit 200`.execute(deps.db);
  return r.rows.map((x) => ({
    ...x,
    created_at: new Date(x.created_at),
    resubscribed_at: x.resubscribed_at && new Date(x.resubscribed_at),
  }));
}

/** What the public unsubscribe page needs about one message; null when it does not exist. */
export async function messageForUnsubscribe(
  deps: Pick<AppDeps, "db">,
  ref: { tenantId: string; queueId: string },
) {
  const r = await sql<{
    person_id: string | null;
    address: string;
    kind: string;
    subscription_type_id: string | null;
    subscription_type_name: string | null;
    person_language: string | null;
    tenant_locale: string;
    tenant_name: string;
  }>`
    select q.person_id, q.address, s.kind, m.subscription_type_id,
      st.name as subscription_type_name, p.language as person_language,
      t.locale as tenant_locale, t.name as tenant_name
    from send_queue q
    join sends s on s.tenant_id = q.tenant_id and s.id = q.send_id
    join tenants t on t.id = q.tenant_id
    left join mailings m on m.tenant_id = s.tenant_id and m.id = s.mailing_id
    left join subscription_types st on st.tenant_id = m.tenant_id
      and st.id = m.subscription_type_id
    left join persons p on p.tenant_id = q.tenant_id and p.id = q.person_id
    where q.tenant_id = ${ref.tenantId} and q.id = ${ref.queueId}`.execute(deps.db);
  return r.rows[0] ?? null;
}

/** Whether the recipient of a message is already unsubscribed from all mass mail / its type. */
export async function unsubscribeState(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  m: { person_id: string | null; address: string; subscription_type_id: string | null },
): Promise<{ all: boolean; type: boolean }> {
  const key = addressKey(m.address);
  const rows = await deps.db.selectFrom("unsubscribes").select("subscription_type_id")
    .where("tenant_id", "=", tenantId).where("resubscribed_at", "is", null)
    .where((eb) =>
      m.person_id
        ? eb.or([eb("person_id", "=", m.person_id), eb("address", "=", key)])
        : eb("address", "=", key)
    ).execute();
  const all = rows.some((r) => r.subscription_type_id === null);
  const type = all ||
    (!!m.subscription_type_id &&
      rows.some((r) => r.subscription_type_id === m.subscription_type_id));
  return { all, type };
}
