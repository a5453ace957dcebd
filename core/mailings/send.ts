// A mailing leaves the editor: preview as a recipient, test send to staff, and the real send —
// content frozen (design + sanitised body + subject/preheader/from) into a send of the queue.
import { mailingSendKind } from "../send/expansion.ts";
import { convert } from "html-to-text";
import { sql, type SqlBool } from "kysely";
import type { AppDeps } from "../deps.ts";
import { isUuid } from "../db/ids.ts";
import { AppError, type FieldIssue } from "../errors.ts";
import { type Locale, t } from "../i18n/mod.ts";
import { normalizeAddress } from "../people/address.ts";
import { audit } from "../tenants/audit.ts";
import {
  cancelSend,
  createSend,
  expandSend,
  getSend,
  type SendContent,
  sendProgress,
} from "../send/queue.ts";
import { compileContent, mergeContext, type Recipient } from "../send/render.ts";
import { LINKS_VAR, PIXEL_VAR } from "../feedback/tracking.ts";
import { listAttachments } from "./attachments.ts";
import { expandFallbacks, findMergeFields } from "./merge_fields.ts";
import { renderDesign } from "./design.ts";
import {
  assertStatus,
  findSenderIdentity,
  getMailing,
  lockMailing,
  type Mailing,
} from "./mailings.ts";
import { sanitizeHtmlBody } from "./sanitize.ts";
import { transformTemplate } from "./template_hooks.ts";
import { collectSendData } from "./send_data.ts";

export const MAX_TEST_RECIPIENTS = 10;

/**
 * Checks what a send needs, and that the sender is one of the tenant's verified identities
 * (chosen by id, or named by address); answers the sender as it is now.
 */
async function requireSendable(deps: AppDeps, tenantId: string, m: Mailing) {
  const issues: FieldIssue[] = [];
  let from = { name: m.from_name, address: m.from_address };
  if (m.from_identity_id) {
    const s = await findSenderIdentity(deps.db, tenantId, m.from_identity_id);
    if (s) from = { name: s.name, address: s.address };
    else issues.push({ path: "from_identity_id", code: "unknown_sender", message: "" });
  } else if (!m.from_address) {
    issues.push({ path: "from_address", code: "required", message: "" });
  } else {
    const verified = await deps.db.selectFrom("sender_identities").select("id")
      .where("tenant_id", "=", tenantId).where("verified_at", "is not", null)
      .where(sql<SqlBool>`lower(address) = lower(${m.from_address})`).executeTakeFirst();
    if (!verified) issues.push({ path: "from_address", code: "unknown_sender", message: "" });
  }
  if (!m.subject.trim()) issues.push({ path: "subject", code: "required", message: "" });
  if (!m.body_html.trim()) issues.push({ path: "body_html", code: "required", message: "" });
  if (issues.length) throw new AppError("validation", {}, issues);
  return from;
}

/**
 * What the send core receives: the design around the sanitised body, fallbacks rewritten to
 * plain Handlebars (so any render environment merges them), a plain-text part, attachment
 * references. Also the design version used, which the mailing keeps.
 */
export async function freezeContent(
  deps: AppDeps,
  tenantId: string,
  m: Mailing,
  opts: { preview?: boolean; test?: boolean } = {},
): Promise<{
  content: SendContent;
  designVersionId: string | null;
  /** A plugin's veto (sendData hook): sendMailing then sends nothing. */
  skip?: { plugin: string; reason: string };
}> {
  // A preview shows a draft as it stands: no sender, subject or recipients needed yet.
  const from = opts.preview
    ? { name: m.from_name ?? "", address: m.from_address ?? "" }
    : await requireSendable(deps, tenantId, m);
  const body = sanitizeHtmlBody(m.body_html);
  findMergeFields([
    { path: "subject", source: m.subject },
    { path: "preheader", source: m.preheader },
    { path: "body_html", source: body },
  ]);
  const bodyHtml = expandFallbacks(body, "html");
  // The design escapes the preheader (plain text) itself.
  const preheader = m.preheader ? expandFallbacks(m.preheader, "text") : undefined;
  const design = await renderDesign(deps, tenantId, m.design_template_version_id, {
    content: bodyHtml,
    preheader,
  });
  const attachments = await listAttachments(deps, tenantId, m.id);
  const content: SendContent = {
    from,
    ...(m.reply_to ? { reply_to: m.reply_to } : {}),
    subject: expandFallbacks(m.subject, "text"),
    // Plugins rewrite the HTML here, once per send: the content is frozen right after.
    html: await transformTemplate(deps, { tenantId, templateId: m.id }, design.html),
    // Not wrapped: a wrap computed on the template would fall mid-line once merged.
    text: convert(bodyHtml, { wordwrap: false }),
    ...(attachments.length
      ? {
        attachments: attachments.map((a) => ({
          id: a.id,
          filename: a.filename,
          content_type: a.content_type,
        })),
      }
      : {}),
  };
  // Plugins' send-wide merge data (feeds and the like): once per send, never per recipient.
  const extra = await collectSendData(deps, {
    tenantId,
    mailingId: m.id,
    content: { subject: content.subject, html: content.html, text: content.text },
    preview: Boolean(opts.preview || opts.test),
  });
  if (Object.keys(extra.data).length) content.data = extra.data;
  return { content, designVersionId: design.versionId, skip: extra.skip };
}

export type PreviewAs = { person_id: string } | { address: string };

/** The recipient as the worker would merge it: a person's fields, or a bare address. */
async function recipientFor(deps: AppDeps, tenantId: string, as: PreviewAs): Promise<Recipient> {
  if ("person_id" in as) {
    if (!isUuid(as.person_id)) throw new AppError("not_found");
    const p = await deps.db.selectFrom("persons as p")
      .select([
        "p.first_name",
        "p.last_name",
        "p.organisation",
        "p.title",
        "p.language",
        "p.custom",
        (eb) =>
          eb.selectFrom("person_addresses as a").select("a.address")
            .whereRef("a.tenant_id", "=", "p.tenant_id").whereRef("a.person_id", "=", "p.id")
            .where("a.is_primary", "=", true).as("address"),
      ])
      .where("p.tenant_id", "=", tenantId).where("p.id", "=", as.person_id).executeTakeFirst();
    if (!p) throw new AppError("not_found");
    return { ...p, address: p.address ?? "" };
  }
  const a = normalizeAddress(as.address);
  if (!a.ok) {
    throw new AppError("validation", {}, [{ path: "address", code: a.reason, message: "" }]);
  }
  // Raw addresses are sent without person data (send/queue.ts), so they are previewed so too.
  return { address: a.address };
}

export interface Preview {
  subject: string;
  html: string;
  text: string;
  recipient: { address: string; name: string };
}

/** The mailing as one recipient will get it, merge applied; system links point nowhere yet. */
export async function previewMailing(
  deps: AppDeps,
  tenantId: string,
  mailingId: string,
  as: PreviewAs,
): Promise<Preview> {
  const m = await getMailing(deps, tenantId, mailingId);
  const { content } = await freezeContent(deps, tenantId, m, { preview: true });
  return renderFor(content, await recipientFor(deps, tenantId, as));
}

function renderFor(content: SendContent, r: Recipient): Preview {
  const compiled = compileContent(content);
  const ctx = mergeContext({
    ...r,
    data: { unsubscribe_url: "#unsubscribe", view_in_browser_url: "#view-in-browser", ...r.data },
  }, content.data);
  // Links as written (not tracked) and no pixel: a preview must not count as an open or click.
  ctx[LINKS_VAR] = compiled.rawLinks;
  ctx[PIXEL_VAR] = "";
  return {
    subject: compiled.subject(ctx),
    html: compiled.html?.(ctx) ?? "",
    text: compiled.text?.(ctx) ?? "",
    recipient: { address: r.address, name: String(ctx.name ?? "") },
  };
}

/**
 * A test send: the mailing merged for one recipient (a chosen person, else the first address),
 * subject marked, to at most ten staff addresses. It is a send of its own with is_test set, so
 * it never counts in the mailing's statistics, and the mailing stays a draft.
 */
export async function testSendMailing(
  deps: AppDeps,
  tenantId: string,
  mailingId: string,
  input: { to: string[]; as?: PreviewAs; locale?: Locale },
  actor: string,
) {
  const to = [...new Set(input.to.map((s) => s.trim()).filter(Boolean))];
  if (!to.length || to.length > MAX_TEST_RECIPIENTS) {
    throw new AppError("validation", {}, [{ path: "to", code: "test_recipients", message: "" }]);
  }
  const issues = to.flatMap((s, i) => {
    const a = normalizeAddress(s);
    return a.ok ? [] : [{ path: `to.${i}`, code: a.reason, message: "" }];
  });
  if (issues.length) throw new AppError("validation", {}, issues);
  const m = await getMailing(deps, tenantId, mailingId);
  assertStatus(m, ["draft", "scheduled"]);
  const { content } = await freezeContent(deps, tenantId, m, { test: true });
  const merged = renderFor(
    content,
    await recipientFor(deps, tenantId, input.as ?? { address: to[0]! }),
  );
  // The merged text goes through Handlebars once more in the worker: a "{{" that came from
  // person data must not become a merge tag there.
  const inert = (s: string) => s.replace(/\{\{/g, "{ {");
  const prefix = t(input.locale ?? "en", "mailings.test_subject_prefix");
  const frozen: SendContent = {
    ...content,
    subject: inert(`${prefix}${merged.subject}`),
    html: inert(merged.html),
    text: inert(merged.text),
  };
  const send = await deps.db.transaction().execute(async (trx) => {
    const s = await createSend({ db: trx, clock: deps.clock }, tenantId, {
      kind: "single",
      content: frozen,
      audience: { addresses: to },
      mailingId: m.id,
      isTest: true,
    }, actor);
    await audit(trx, {
      tenantId,
      actor,
      action: "mailing.test_send",
      target: m.id,
      // Where the test went and whose data it carried: test addresses are not checked
      // against a list (the tenant has none), so the audit log is the record.
      details: { send: s.id, to, as: input.as ?? { address: to[0] } },
      at: deps.clock(),
    });
    return s;
  });
  const expanded = await expandSend(deps, tenantId, send.id, actor);
  return { send_id: send.id, ...expanded };
}

/**
 * A plugin vetoed a send (e.g. a feed with nothing new): nothing is created and the mailing stays
 * as it was; the audit log keeps why, and the caller gets `send_skipped` with the plugin's reason.
 */
export async function refuseSkipped(
  deps: AppDeps,
  tenantId: string,
  mailingId: string,
  actor: string,
  skip: { plugin: string; reason: string },
): Promise<never> {
  await audit(deps.db, {
    tenantId,
    actor,
    action: "mailing.send_skipped",
    target: mailingId,
    details: skip,
    at: deps.clock(),
  });
  throw new AppError("send_skipped", { reason: skip.reason }, {
    plugin: skip.plugin,
    reason: skip.reason,
  });
}

/**
 * Sends the mailing: freezes its content into a send ('single' for exactly one person or one
 * address, else 'mass'), links it, moves the mailing to `sending` and expands the audience. If
 * expanding fails (a segment was deleted meanwhile), the mailing is a draft again.
 */
export async function sendMailing(
  deps: AppDeps,
  tenantId: string,
  mailingId: string,
  actor: string,
  opts: { version?: number } = {},
) {
  const m = await getMailing(deps, tenantId, mailingId);
  assertStatus(m, ["draft", "scheduled"]);
  const r = m.recipients;
  const sources = r.segments.length + r.lists.length + r.persons.length + r.addresses.length;
  if (!sources) {
    throw new AppError("validation", {}, [{ path: "recipients", code: "required", message: "" }]);
  }
  const { content, designVersionId, skip } = await freezeContent(deps, tenantId, m);
  if (skip) await refuseSkipped(deps, tenantId, mailingId, actor, skip);
  const now = deps.clock();
  const sendId = await deps.db.transaction().execute(async (trx) => {
    const cur = await lockMailing(trx, tenantId, mailingId);
    assertStatus(cur, ["draft", "scheduled"]);
    // What was frozen must be what the editor last saw: a save in between means try again.
    const expected = opts.version ?? m.version;
    if (cur.version !== m.version || cur.version !== expected) {
      throw new AppError("conflict", {}, [{ path: "version", code: "stale_version", message: "" }]);
    }
    const s = await createSend({ db: trx, clock: deps.clock }, tenantId, {
      kind: mailingSendKind(r),
      content,
      audience: r,
      mailingId,
    }, actor);
    await trx.updateTable("mailings").set({
      status: "sending",
      send_id: s.id,
      design_template_version_id: designVersionId ?? cur.design_template_version_id,
      version: cur.version + 1,
      updated_by: actor,
      updated_at: now,
    }).where("tenant_id", "=", tenantId).where("id", "=", mailingId).execute();
    await audit(trx, { tenantId, actor, action: "mailing.send", target: mailingId, at: now });
    return s.id;
  });
  try {
    const expanded = await expandSend(deps, tenantId, sendId, actor);
    return { send_id: sendId, ...expanded, mailing: await getMailing(deps, tenantId, mailingId) };
  } catch (e) {
    await deps.db.transaction().execute(async (trx) => {
      await trx.deleteFrom("sends").where("tenant_id", "=", tenantId).where("id", "=", sendId)
        .where("status", "=", "draft").execute();
      await trx.updateTable("mailings").set({ status: "draft", send_id: null })
        .where("tenant_id", "=", tenantId).where("id", "=", mailingId).execute();
    });
    throw e;
  }
}

/** Cancels a draft or scheduled mailing, or stops a sending one (what is sent stays sent). */
export async function cancelMailing(
  deps: AppDeps,
  tenantId: string,
  mailingId: string,
  actor: string,
) {
  const m = await getMailing(deps, tenantId, mailingId);
  assertStatus(m, ["draft", "scheduled", "sending"]);
  if (m.status === "sending" && m.send_id) {
    const s = await getSend(deps, tenantId, m.send_id);
    if (["draft", "sending", "paused"].includes(s.status)) {
      await cancelSend(deps, tenantId, m.send_id, actor);
    }
  }
  const now = deps.clock();
  await deps.db.transaction().execute(async (trx) => {
    await trx.updateTable("mailings").set({
      status: "cancelled",
      updated_by: actor,
      updated_at: now,
    })
      .where("tenant_id", "=", tenantId).where("id", "=", mailingId)
      .where("status", "in", ["draft", "scheduled", "sending"]).execute();
    await audit(trx, { tenantId, actor, action: "mailing.cancel", target: mailingId, at: now });
  });
  return await getMailing(deps, tenantId, mailingId);
}

/** Progress of the mailing's send, with the rate so far and an estimate of the time left. */
export async function mailingProgress(deps: AppDeps, tenantId: string, mailingId: string) {
  const m = await getMailing(deps, tenantId, mailingId);
  if (!m.send_id) {
    return {
      mailing_id: m.id,
      status: m.status,
      send: null,
      rate_per_minute: 0,
      eta_seconds: null,
    };
  }
  const p = await sendProgress(deps, tenantId, m.send_id);
  const elapsed = p.started_at
    ? ((p.finished_at ?? deps.clock()).getTime() - p.started_at.getTime()) / 1000
    : 0;
  const done = p.sent + p.failed;
  const rate = elapsed > 0 ? done / elapsed : 0;
  const left = p.queued + p.held;
  return {
    mailing_id: m.id,
    status: m.status,
    send: p,
    rate_per_minute: Math.round(rate * 60),
    eta_seconds: left === 0 ? 0 : rate > 0 ? Math.ceil(left / rate) : null,
  };
}

/** Test sends of a mailing, newest first (never part of its statistics). */
export async function listTestSends(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  mailingId: string,
) {
  return await deps.db.selectFrom("sends").select(["id", "status", "total", "sent", "created_at"])
    .where("tenant_id", "=", tenantId).where("mailing_id", "=", mailingId)
    .where("is_test", "=", true).orderBy("id", "desc").limit(50).execute();
}
