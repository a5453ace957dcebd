// Mailings: drafts staff compose (create, autosave with a version check, copy, delete), listed
// with filters, and the state machine draft → (scheduled) → sending → sent | cancelled.
import { type Kysely, sql, type Transaction } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import type { DB, MailingStatus } from "../db/schema.ts";
import { isUuid, uuidv7 } from "../db/ids.ts";
import { jsonb } from "../db/json.ts";
import { AppError, type FieldIssue } from "../errors.ts";
import { type Page, pageQuery, type PageRequest } from "../http/pagination.ts";
import { audit } from "../tenants/audit.ts";
import { normalizeAddress } from "../people/address.ts";
import { escapeLike } from "../people/persons.ts";
import { Audience } from "../send/queue.ts";
import { sanitizeHtmlBody } from "./sanitize.ts";
import { getSender } from "./senders.ts";

type Deps = Pick<AppDeps, "db" | "clock">;
type Db = Kysely<DB> | Transaction<DB>;

export const MAILING_STATUSES = ["draft", "scheduled", "sending", "sent", "cancelled"] as const;

/** Header values: CR/LF become spaces where they are assigned, so no header can be injected. */
const headerText = (max: number) =>
  z.string().max(max).transform((s) => s.replace(/[\r\n]+/g, " ").trim());

export const MailingFields = z.object({
  /** A verified sender identity; its name and address are copied into the mailing. */
  from_identity_id: z.uuid().nullable().optional(),
  from_name: headerText(200).optional(),
  from_address: z.string().max(320).optional(),
  reply_to: z.string().max(320).nullable().optional(),
  subject: headerText(998).optional(),
  preheader: headerText(500).optional(),
  /** Sanitised on save: what is stored is what will be sent. */
  body_html: z.string().max(2_000_000).optional(),
  design_template_version_id: z.uuid().nullable().optional(),
  recipients: Audience.optional(),
  subscription_type_id: z.uuid().nullable().optional(),
  content_template_id: z.uuid().nullable().optional(),
}).strict();
export type MailingFields = z.input<typeof MailingFields>;

export const MailingCreate = MailingFields;
export type MailingCreate = z.input<typeof MailingCreate>;

/** An autosave: the fields that changed and the version the editor last saw. */
export const MailingPatch = MailingFields.extend({ version: z.number().int().min(1) }).strict();
export type MailingPatch = z.input<typeof MailingPatch>;

export const MailingQuery = z.object({
  status: z.enum(MAILING_STATUSES).optional(),
  q: z.string().max(200).optional(),
});

/** The columns of a mailing in lists (no body). */
export const SUMMARY_COLUMNS = [
  "id",
  "status",
  "version",
  "from_name",
  "from_address",
  "subject",
  "send_id",
  "copied_from",
  "created_by",
  "updated_by",
  "created_at",
  "updated_at",
  "sent_at",
] as const;

const COLUMNS = [
  ...SUMMARY_COLUMNS,
  "from_identity_id",
  "reply_to",
  "preheader",
  "body_html",
  "design_template_version_id",
  "recipients",
  "content_template_id",
  "subscription_type_id",
] as const;

export async function getMailing(deps: Pick<AppDeps, "db">, tenantId: string, id: string) {
  if (!isUuid(id)) throw new AppError("not_found");
  await syncSendingStatus(deps.db, tenantId, id);
  const row = await deps.db.selectFrom("mailings").select(COLUMNS)
    .where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst();
  if (!row) throw new AppError("not_found");
  return { ...row, recipients: Audience.parse(row.recipients ?? {}) };
}
export type Mailing = Awaited<ReturnType<typeof getMailing>>;
export type MailingSummary = Pick<Mailing, (typeof SUMMARY_COLUMNS)[number]>;

/**
 * A mailing whose send finished becomes `sent` (or `cancelled`, when its send was). Done on
 * read in one statement, so no background job is needed to keep the two in step.
 */
export async function syncSendingStatus(db: Db, tenantId: string, id?: string): Promise<void> {
  await sql`update mailings m
    set status = case when s.status = 'cancelled' then 'cancelled' else 'sent' end,
      sent_at = coalesce(s.finished_at, s.updated_at), updated_at = s.updated_at
    from sends s
    where m.tenant_id = ${tenantId} and m.status = 'sending' and s.tenant_id = m.tenant_id
      and s.id = m.send_id and s.status in ('done', 'cancelled', 'failed')
      ${id ? sql`and m.id = ${id}` : sql``}`.execute(db);
}

/** Validates and normalises fields for storage; issues name each field. */
async function toColumns(db: Db, tenantId: string, input: z.output<typeof MailingFields>) {
  const issues: FieldIssue[] = [];
  const out: Record<string, unknown> = {};
  for (const key of ["from_name", "subject", "preheader"] as const) {
    if (input[key] !== undefined) out[key] = input[key];
  }
  for (const key of ["from_address", "reply_to"] as const) {
    const v = input[key];
    if (v === undefined) continue;
    if (v === null || v.trim() === "") {
      out[key] = key === "reply_to" ? null : "";
      continue;
    }
    const a = normalizeAddress(v);
    if (a.ok) out[key] = a.address;
    else issues.push({ path: key, code: a.reason, message: "" });
  }
  if (input.from_identity_id !== undefined) {
    out.from_identity_id = input.from_identity_id;
    if (input.from_identity_id) {
      const sender = await findSenderIdentity(db, tenantId, input.from_identity_id);
      if (!sender) issues.push({ path: "from_identity_id", code: "unknown_sender", message: "" });
      else Object.assign(out, { from_name: sender.name, from_address: sender.address });
    }
  }
  if (input.body_html !== undefined) out.body_html = sanitizeHtmlBody(input.body_html);
  if (input.recipients !== undefined) out.recipients = jsonb(input.recipients);
  for (const key of ["design_template_version_id", "content_template_id"] as const) {
    if (input[key] !== undefined) out[key] = input[key];
  }
  // Another tenant's (or a made-up) design version would fail only at send time: refuse it now.
  if (input.design_template_version_id) {
    const found = await db.selectFrom("design_template_versions").select("id")
      .where("tenant_id", "=", tenantId).where("id", "=", input.design_template_version_id)
      .executeTakeFirst();
    if (!found) {
      issues.push({ path: "design_template_version_id", code: "not_found", message: "" });
    }
  }
  if (input.subscription_type_id !== undefined) {
    out.subscription_type_id = input.subscription_type_id;
    if (input.subscription_type_id) {
      const found = await db.selectFrom("subscription_types").select("id")
        .where("tenant_id", "=", tenantId).where("id", "=", input.subscription_type_id)
        .executeTakeFirst();
      if (!found) {
        issues.push({ path: "subscription_type_id", code: "not_found", message: "" });
      }
    }
  }
  if (issues.length) throw new AppError("validation", {}, issues);
  return out;
}

/** A verified sender identity of the tenant (core/mailings/senders.ts), or null. */
export async function findSenderIdentity(db: Db, tenantId: string, id: string) {
  try {
    const s = await getSender({ db }, tenantId, id);
    return s.verified_at ? s : null;
  } catch (e) {
    if (e instanceof AppError && e.code === "not_found") return null;
    throw e;
  }
}

export async function createMailing(
  deps: Deps,
  tenantId: string,
  input: MailingCreate,
  actor: string,
  opts: { copiedFrom?: string } = {},
): Promise<Mailing> {
  const fields = MailingCreate.parse(input);
  const now = deps.clock();
  const id = uuidv7();
  await deps.db.transaction().execute(async (trx) => {
    const cols = await toColumns(trx, tenantId, fields);
    await trx.insertInto("mailings").values({
      tenant_id: tenantId,
      id,
      recipients: jsonb(Audience.parse({})),
      ...cols,
      copied_from: opts.copiedFrom ?? null,
      created_by: actor,
      updated_by: actor,
      created_at: now,
      updated_at: now,
    }).execute();
    await audit(trx, { tenantId, actor, action: "mailing.create", target: id, at: now });
  });
  return await getMailing(deps, tenantId, id);
}

/** Throws a conflict naming the current status when a mailing is not in one of `allowed`. */
export function assertStatus(m: { status: MailingStatus }, allowed: MailingStatus[]): void {
  if (!allowed.includes(m.status)) {
    throw new AppError("conflict", {}, [{
      path: "status",
      code: `mailing_${m.status}`,
      message: "",
    }]);
  }
}

/**
 * Autosave: applies the changed fields to a draft if nobody saved since `version`; otherwise a
 * conflict carrying the current version and who saved it, so the editor can offer to reload.
 */
export async function patchMailing(
  deps: Deps,
  tenantId: string,
  id: string,
  input: MailingPatch,
  actor: string,
): Promise<Mailing> {
  const { version, ...fields } = MailingPatch.parse(input);
  const now = deps.clock();
  await deps.db.transaction().execute(async (trx) => {
    const cur = await lockMailing(trx, tenantId, id);
    assertStatus(cur, ["draft"]);
    if (cur.version !== version) {
      throw new AppError("conflict", {}, [{
        path: "version",
        code: "stale_version",
        message: "",
        current_version: cur.version,
        updated_by: cur.updated_by,
        updated_at: cur.updated_at.toISOString(),
      } as FieldIssue]);
    }
    // Plugins' send options are set through the plugins: recipients saved without them (the
    // compose form) keep the ones the mailing has.
    if (fields.recipients && fields.recipients.plugins === undefined) {
      const kept = (cur.recipients as { plugins?: Record<string, unknown> } | null)?.plugins;
      if (kept) fields.recipients = { ...fields.recipients, plugins: kept };
    }
    const cols = await toColumns(trx, tenantId, fields);
    await trx.updateTable("mailings").set({
      ...cols,
      version: version + 1,
      updated_by: actor,
      updated_at: now,
    }).where("tenant_id", "=", tenantId).where("id", "=", id).execute();
  });
  return await getMailing(deps, tenantId, id);
}

/** The row, locked for the rest of the transaction; not_found across tenants. */
export async function lockMailing(trx: Db, tenantId: string, id: string) {
  if (!isUuid(id)) throw new AppError("not_found");
  const row = await trx.selectFrom("mailings").selectAll()
    .where("tenant_id", "=", tenantId).where("id", "=", id).forUpdate().executeTakeFirst();
  if (!row) throw new AppError("not_found");
  return row;
}

/** Only drafts are deleted; sent mailings are history. */
export async function deleteMailing(deps: Deps, tenantId: string, id: string, actor: string) {
  const now = deps.clock();
  await deps.db.transaction().execute(async (trx) => {
    assertStatus(await lockMailing(trx, tenantId, id), ["draft"]);
    await trx.deleteFrom("mailings").where("tenant_id", "=", tenantId).where("id", "=", id)
      .execute();
    await audit(trx, { tenantId, actor, action: "mailing.delete", target: id, at: now });
  });
}

/** Any mailing, in any state, copied into a new draft with its attachments. */
export async function copyMailing(
  deps: Deps,
  tenantId: string,
  id: string,
  actor: string,
): Promise<Mailing> {
  const src = await getMailing(deps, tenantId, id);
  const now = deps.clock();
  const newId = uuidv7();
  await deps.db.transaction().execute(async (trx) => {
    await trx.insertInto("mailings").values({
      tenant_id: tenantId,
      id: newId,
      from_identity_id: src.from_identity_id,
      from_name: src.from_name,
      from_address: src.from_address,
      reply_to: src.reply_to,
      subject: src.subject,
      preheader: src.preheader,
      body_html: src.body_html,
      design_template_version_id: src.design_template_version_id,
      recipients: jsonb(src.recipients),
      content_template_id: src.content_template_id,
      subscription_type_id: src.subscription_type_id,
      copied_from: src.id,
      created_by: actor,
      updated_by: actor,
      created_at: now,
      updated_at: now,
    }).execute();
    await sql`insert into mailing_attachments (tenant_id, id, mailing_id, filename, content_type,
        size, sha256, data, created_at)
      select tenant_id, skicka_uuidv7(), ${newId}, filename, content_type, size, sha256, data,
        ${now}
      from mailing_attachments where tenant_id = ${tenantId} and mailing_id = ${src.id}
      order by id`.execute(trx);
    await audit(trx, {
      tenantId,
      actor,
      action: "mailing.copy",
      target: newId,
      details: { from: src.id },
      at: now,
    });
  });
  return await getMailing(deps, tenantId, newId);
}

/** Newest first, filtered by status and by words in the subject. */
export async function listMailings(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  query: z.input<typeof MailingQuery>,
  page: PageRequest,
): Promise<Page<MailingSummary>> {
  const q = MailingQuery.parse(query);
  await syncSendingStatus(deps.db, tenantId);
  let qb = deps.db.selectFrom("mailings").select(SUMMARY_COLUMNS)
    .where("tenant_id", "=", tenantId);
  if (q.status) qb = qb.where("status", "=", q.status);
  if (q.q?.trim()) qb = qb.where("subject", "ilike", `%${escapeLike(q.q.trim())}%`);
  return await pageQuery(qb, page, { newestFirst: true });
}
