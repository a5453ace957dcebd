// Queues transactional messages: one send_queue row per envelope recipient on the tenant's
// stream, committed before the caller is told anything. The REST API and the SMTP relay both
// come through here, so both get the same durability, suppression and priority.
import { sql } from "kysely";
import type { AppDeps } from "../../core/deps.ts";
import { uuidv7 } from "../../core/db/ids.ts";
import { jsonb } from "../../core/db/json.ts";
import { AppError, type FieldIssue } from "../../core/errors.ts";
import { normalizeAddress } from "../../core/people/address.ts";
import { PRIORITY } from "../../core/send/queue.ts";
import { notifyWorkers } from "../../core/send/worker.ts";
import { fromDomainOf, headerValue } from "../../core/send/raw_message.ts";
import {
  type ContentMessageData,
  DEFAULT_STREAM,
  type RawMessageData,
  STREAM_NAME,
  type StreamMessageData,
} from "../../core/send/stream_message.ts";

type Deps = Pick<AppDeps, "db" | "clock" | "log">;

/** What the last reply of a row that was never sent says: the address is undeliverable. */
export const SUPPRESSED_REPLY = "suppressed: address is undeliverable";

export interface RawInput {
  mailFrom: string;
  rcptTo: string[];
  raw: string;
  stream?: string;
  tags?: string[];
  metadata?: Record<string, string>;
  tracking?: boolean;
}

/** One envelope recipient of a content message, as queued. */
export interface QueuedRecipient {
  id: string;
  address: string;
  /** queued, or suppressed when the address is known to be undeliverable. */
  status: "queued" | "suppressed";
}

/** A content message ready to queue: validated, its design already applied to the html. */
export interface ContentInput {
  data: ContentMessageData;
  /** Envelope recipients: to, cc and bcc together. */
  recipients: string[];
  /** Its stream, when not the call's (opts.stream) or the default. */
  stream?: string;
}

/**
 * Queues a message submitted whole (SMTP relay): one row per RCPT TO, all in one transaction,
 * committed before this returns; throws on a database failure (the client must keep the
 * message). Ids come back in the order of `rcptTo`.
 */
export async function enqueueRaw(
  deps: Deps,
  tenantId: string,
  msg: RawInput,
): Promise<{ ids: string[] }> {
  const [one] = await enqueueRawMany(deps, tenantId, [msg]);
  return one!;
}

/**
 * Several submitted messages (group commit) in one statement, committed before this returns;
 * all or none. Results in order, each with its ids in the order of its `rcptTo`.
 */
export async function enqueueRawMany(
  deps: Deps,
  tenantId: string,
  msgs: RawInput[],
): Promise<{ ids: string[] }[]> {
  const items = msgs.map((msg, i) => {
    const path = msgs.length === 1 ? "" : `[${i}].`;
    return {
      stream: streamName(msg.stream, `${path}stream`),
      addresses: validRecipients(msg.rcptTo, `${path}rcptTo`),
      data: rawMessageData(msg) as StreamMessageData,
    };
  });
  const queued = await queueMessages(deps, tenantId, items);
  return queued.map((list) => ({ ids: list.map((r) => r.id) }));
}

function rawMessageData(msg: RawInput): RawMessageData {
  const envelopeDomain = msg.mailFrom.includes("@")
    ? msg.mailFrom.slice(msg.mailFrom.lastIndexOf("@") + 1).toLowerCase()
    : "";
  return {
    kind: "raw",
    mail_from: msg.mailFrom,
    raw: msg.raw,
    from_domain: fromDomainOf(msg.raw) ?? envelopeDomain,
    subject: headerValue(msg.raw, "subject")?.slice(0, 998),
    ...(msg.tracking ? { tracking: true } : {}),
    ...(msg.tags?.length ? { tags: msg.tags } : {}),
    ...(msg.metadata && Object.keys(msg.metadata).length ? { metadata: msg.metadata } : {}),
  };
}

/**
 * Queues content messages (REST): every message's rows in one transaction, committed before
 * this returns (all or none: a failure leaves nothing queued). Results are per input, in order.
 */
export async function enqueueMessages(
  deps: Deps,
  tenantId: string,
  inputs: ContentInput[],
  opts: { stream?: string } = {},
): Promise<{ recipients: QueuedRecipient[] }[]> {
  const items = inputs.map((m, i) => ({
    stream: streamName(m.stream ?? opts.stream, `messages[${i}].stream`),
    data: m.data as StreamMessageData,
    addresses: validRecipients(m.recipients, `messages[${i}].recipients`),
  }));
  const queued = await queueMessages(deps, tenantId, items);
  return queued.map((recipients) => ({ recipients }));
}

function streamName(input: string | undefined, path: string): string {
  const s = input ?? DEFAULT_STREAM;
  if (!STREAM_NAME.test(s)) {
    throw new AppError("validation", {}, [{ path, code: "invalid", message: STREAM_NAME.source }]);
  }
  return s;
}

function validRecipients(list: string[], path: string): { address: string; key: string }[] {
  const issues: FieldIssue[] = [];
  const out = list.flatMap((input, i) => {
    const a = normalizeAddress(input);
    if (a.ok) return [{ address: a.address, key: a.key }];
    issues.push({ path: `${path}[${i}]`, code: a.reason, message: "" });
    return [];
  });
  if (!list.length) issues.push({ path, code: "empty", message: "" });
  if (issues.length) throw new AppError("validation", {}, issues);
  return out;
}

// A stream's send id never changes once created: remembered per process.
const streamIds = new Map<string, string>();

/**
 * The tenant's long-lived send for a stream, created on first use. Concurrent first uses race
 * on the unique index (tenant_id, stream): the loser's insert does nothing and it reads the
 * winner's row. Committed on its own: an empty stream send is harmless.
 */
export async function streamSendId(
  deps: Pick<AppDeps, "db" | "clock">,
  tenantId: string,
  stream: string,
): Promise<string> {
  const key = `${tenantId}/${stream}`;
  const hit = streamIds.get(key);
  if (hit) return hit;
  const now = deps.clock();
  await deps.db.insertInto("sends").values({
    tenant_id: tenantId,
    id: uuidv7(),
    kind: "transactional",
    status: "sending",
    stream,
    // Each message carries its own content; this only names the stream in lists of sends.
    content: jsonb({ from: { name: "", address: "" }, subject: `stream: ${stream}` }),
    audience: jsonb({}),
    excluded: jsonb({}),
    created_by: "transactional",
    created_at: now,
    updated_at: now,
    started_at: now,
  }).onConflict((oc) => oc.columns(["tenant_id", "stream"]).doNothing()).execute();
  const row = await deps.db.selectFrom("sends").select("id").where("tenant_id", "=", tenantId)
    .where("stream", "=", stream).executeTakeFirstOrThrow();
  if (streamIds.size > 10_000) streamIds.clear();
  streamIds.set(key, row.id);
  return row.id;
}

/**
 * One statement (atomic on its own, one round trip): the rows from arrays, each joined with
 * the address's person (suppression, person_id for merge fields and history) and its stream's
 * status (a paused stream holds new messages). A stream cancelled through the sends API
 * reopens in the same statement: integrators cannot be expected to know about it.
 */
async function queueMessages(
  deps: Deps,
  tenantId: string,
  items: {
    stream: string;
    data: StreamMessageData;
    addresses: { address: string; key: string }[];
  }[],
): Promise<QueuedRecipient[][]> {
  const sendIds = new Map<string, string>();
  for (const m of items) {
    if (!sendIds.has(m.stream)) sendIds.set(m.stream, await streamSendId(deps, tenantId, m.stream));
  }
  const now = deps.clock();
  const ids: string[] = [];
  const sends: string[] = [];
  const addresses: string[] = [];
  const keys: string[] = [];
  const domains: string[] = [];
  // Each message's data once, as one JSON array (PostgreSQL parses it in C; a text[] of the
  // same bytes was escaped character by character here), rows pointing at theirs by index.
  const datas: StreamMessageData[] = [];
  const messageOf: number[] = [];
  const out: { id: string; address: string }[][] = [];
  for (const m of items) {
    const index = datas.push(m.data) - 1;
    const sendId = sendIds.get(m.stream)!;
    out.push(m.addresses.map((a) => {
      const id = uuidv7();
      ids.push(id);
      sends.push(sendId);
      addresses.push(a.address);
      keys.push(a.key);
      domains.push(a.address.slice(a.address.lastIndexOf("@") + 1).toLowerCase());
      messageOf.push(index);
      return { id, address: a.address };
    }));
  }
  const streams = [...sendIds.values()];
  const r = await sql<{ id: string; status: string }>`
    with reopen as (
      update sends set status = 'sending', finished_at = null, updated_at = ${now}
      where tenant_id = ${tenantId} and id = any(${streams}::uuid[])
        and status not in ('sending', 'paused')
      returning id
    ),
    s as (select id, status from sends
      where tenant_id = ${tenantId} and id = any(${streams}::uuid[])),
    d as (select i::int - 1 as m, x as data
      from jsonb_array_elements(${jsonb(datas)}) with ordinality as e(x, i)),
    v as (select * from unnest(${ids}::uuid[], ${sends}::uuid[], ${addresses}::text[],
      ${keys}::text[], ${domains}::text[], ${messageOf}::int[])
      as v(id, send_id, address, akey, domain, m))
    insert into send_queue (tenant_id, send_id, id, priority, person_id, address, domain, data,
      status, last_reply, ready_at, created_at)
    select ${tenantId}, v.send_id, v.id, ${PRIORITY.transactional}::smallint, pa.person_id,
      v.address, v.domain, d.data,
      case when pa.undeliverable_at is not null or sa.suppressed_at is not null then 'cancelled'
        when s.status = 'paused' then 'held' else 'queued' end,
      case when pa.undeliverable_at is not null or sa.suppressed_at is not null
        then ${SUPPRESSED_REPLY} end,
      ${now}, ${now}
    from v join s on s.id = v.send_id join d on d.m = v.m
    left join person_addresses pa on pa.tenant_id = ${tenantId} and pa.address_key = v.akey
    left join suppressed_addresses sa on sa.tenant_id = ${tenantId} and sa.address_key = v.akey
    returning id, status`.execute(deps.db);
  if (r.rows.length !== ids.length) {
    // Cannot happen while the stream sends exist; never report ids that were not queued.
    throw new Error(`queued ${r.rows.length} of ${ids.length} transactional rows`);
  }
  const suppressed = new Set(r.rows.filter((x) => x.status === "cancelled").map((x) => x.id));
  wakeWorkers(deps);
  return out.map((list) =>
    list.map((x) => ({ ...x, status: suppressed.has(x.id) ? "suppressed" : "queued" }))
  );
}

const waking = new WeakMap<object, { again: boolean }>();

/**
 * Committed: wakes the workers without holding the caller's answer for it. Under load one
 * NOTIFY is in flight at a time and those asked for meanwhile become one more after it, not
 * one per request; a row committed before that last one is sent is seen by the woken worker.
 */
function wakeWorkers(deps: Deps): void {
  const pending = waking.get(deps.db);
  if (pending) {
    pending.again = true;
    return;
  }
  const state = { again: false };
  waking.set(deps.db, state);
  (async () => {
    do {
      state.again = false;
      try {
        await notifyWorkers(deps);
      } catch (e) {
        // The workers' idle timeout finds the rows anyway; the caller must not resend.
        deps.log.warn("notify after transactional enqueue failed", { error: String(e) });
      }
    } while (state.again);
    waking.delete(deps.db);
  })();
}
