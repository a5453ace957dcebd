// Turns one POST /messages body into a message ready to queue, or into field-level errors:
// addresses, header safety (no CR/LF, no structural fields), attachments (base64, total size),
// tags and metadata, the sender, and the design template.
import { Buffer } from "node:buffer";
import { convert } from "html-to-text";
import type { AppDeps } from "../../core/deps.ts";
import type { FieldIssue } from "../../core/errors.ts";
import { isUuid } from "../../core/db/ids.ts";
import { zodIssues } from "../../core/http/errors.ts";
import { type Locale, t } from "../../core/i18n/mod.ts";
import { normalizeAddress } from "../../core/people/address.ts";
import { renderDesign } from "../../core/mailings/design.ts";
import { verifiedSenders } from "../../core/mailings/senders.ts";
import {
  type ContentMessageData,
  DEFAULT_STREAM,
  STREAM_NAME,
} from "../../core/send/stream_message.ts";
import type { ContentInput } from "./enqueue.ts";
import { type MailboxInput, MessageCreate } from "./schemas.ts";

/**
 * Fields the platform writes or that give a message its structure: a caller setting them could
 * forge the sender, hide recipients or break the MIME tree.
 */
const RESERVED_HEADERS = new Set([
  "from",
  "sender",
  "to",
  "cc",
  "bcc",
  "reply-to",
  "subject",
  "date",
  "message-id",
  "mime-version",
  "return-path",
  "received",
  "dkim-signature",
  "arc-seal",
  "arc-message-signature",
  "arc-authentication-results",
  "authentication-results",
  "list-unsubscribe",
  "list-unsubscribe-post",
  "feedback-id",
]);
/** RFC 5322 field-name: printable ASCII except the colon. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]{1,76}$/;
// deno-lint-ignore no-control-regex -- control characters are what is refused
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const CONTENT_TYPE = /^[a-z0-9!#$&^_.+-]{1,127}\/[a-z0-9!#$&^_.+-]{1,127}$/i;
const TAG = /^[\p{L}\p{N}_.:\/-]{1,64}$/u;
const META_KEY = /^[A-Za-z0-9_.-]{1,40}$/;
const MAX_META = 20;
const MAX_HEADERS = 50;
const MAX_HEADER_VALUE = 2000;

export type Prepared =
  | { ok: true; stream: string; message: ContentInput }
  | { ok: false; errors: FieldIssue[] };

/** Per request: template look-ups shared by the messages of one batch. */
export interface PrepareContext {
  deps: Pick<AppDeps, "db" | "config">;
  tenantId: string;
  locale: Locale;
  templates?: Map<string, Promise<{ html: string; versionId: string | null } | null>>;
}

export function prepareMessage(ctx: PrepareContext, body: unknown): Promise<Prepared> {
  const parsed = MessageCreate.safeParse(body);
  if (!parsed.success) {
    return Promise.resolve({ ok: false, errors: zodIssues(parsed.error, ctx.locale) });
  }
  return prepareParsed(ctx, parsed.data);
}

/** A body the route has already parsed with {@link MessageCreate}: the checks beyond its shape. */
export async function prepareParsed(
  ctx: PrepareContext,
  m: MessageCreate,
): Promise<Prepared> {
  const issues: FieldIssue[] = [];
  const say = (path: string, code: string, params?: Record<string, string | number>) =>
    issues.push({ path, code, message: t(ctx.locale, `transactional.issue.${code}`, params) });
  const addressIssue = (path: string, reason: string) =>
    issues.push({ path, code: reason, message: t(ctx.locale, `issue.${reason}`) });

  const mailbox = (input: MailboxInput, path: string) => {
    const box = typeof input === "string" ? { name: "", address: input } : input;
    const a = normalizeAddress(box.address);
    if (!a.ok) {
      addressIssue(typeof input === "string" ? path : `${path}.address`, a.reason);
      return null;
    }
    if (box.name && CONTROL.test(box.name)) say(`${path}.name`, "control_characters");
    return { name: box.name ?? "", address: a.address, key: a.key };
  };
  const list = (input: MailboxInput[] | undefined, path: string) =>
    (input ?? []).map((x, i) => mailbox(x, `${path}.${i}`));

  const from = mailbox(m.from, "from");
  const toInput = Array.isArray(m.to) ? m.to : [m.to];
  const to = list(toInput, Array.isArray(m.to) ? "to" : "to");
  const cc = list(m.cc, "cc");
  const bcc = list(m.bcc, "bcc");
  if (to.length + cc.length + bcc.length > 50) say("to", "too_many_recipients", { n: 50 });
  let replyTo: string | undefined;
  if (m.reply_to !== undefined) {
    const a = normalizeAddress(m.reply_to);
    if (a.ok) replyTo = a.address;
    else addressIssue("reply_to", a.reason);
  }
  if (CONTROL.test(m.subject.replace(/\t/g, " "))) say("subject", "control_characters");
  if (m.html === undefined && m.text === undefined) say("html", "content_required");
  if (m.template_id !== undefined && m.html === undefined) say("html", "template_needs_html");

  const stream = m.stream ?? DEFAULT_STREAM;
  if (!STREAM_NAME.test(stream)) say("stream", "invalid_stream");

  const headers: Record<string, string> = {};
  const headerEntries = Object.entries(m.headers ?? {});
  if (headerEntries.length > MAX_HEADERS) say("headers", "too_many", { n: MAX_HEADERS });
  for (const [name, value] of headerEntries) {
    const path = `headers.${name}`;
    if (!FIELD_NAME.test(name)) say(path, "invalid_header_name");
    else if (/[\r\n]/.test(value)) say(path, "header_injection");
    else if (CONTROL.test(value)) say(path, "control_characters");
    else if (value.length > MAX_HEADER_VALUE) say(path, "too_long", { n: MAX_HEADER_VALUE });
    else if (RESERVED_HEADERS.has(name.toLowerCase()) || /^content-/i.test(name)) {
      say(path, "reserved_header");
    } else headers[name] = value;
  }

  const tags = m.tags ?? [];
  tags.forEach((tag, i) => {
    if (!TAG.test(tag)) say(`tags.${i}`, "invalid_tag");
  });
  const meta = Object.entries(m.metadata ?? {});
  if (meta.length > MAX_META) say("metadata", "too_many", { n: MAX_META });
  for (const [k, v] of meta) {
    if (!META_KEY.test(k)) say(`metadata.${k}`, "invalid_metadata_key");
    else if (CONTROL.test(v)) say(`metadata.${k}`, "control_characters");
  }

  const attachments: NonNullable<ContentMessageData["attachments"]> = [];
  let bytes = 0;
  (m.attachments ?? []).forEach((a, i) => {
    const path = `attachments.${i}`;
    if (CONTROL.test(a.filename) || /[\\/]/.test(a.filename)) {
      say(`${path}.filename`, "invalid_filename");
    }
    const type = a.content_type ?? "application/octet-stream";
    if (!CONTENT_TYPE.test(type)) say(`${path}.content_type`, "invalid_content_type");
    const b64 = a.content.replace(/\s+/g, "");
    if (b64.length % 4 !== 0 || !BASE64.test(b64)) {
      say(`${path}.content`, "invalid_base64");
      return;
    }
    bytes += Buffer.byteLength(b64, "base64");
    attachments.push({ filename: a.filename, content_type: type, content_base64: b64 });
  });
  const maxBytes = ctx.deps.config.attachmentsMaxBytes;
  if (bytes > maxBytes) {
    say("attachments", "attachments_too_large", { mb: Math.floor(maxBytes / 1024 / 1024) });
  }

  if (from && !(await senderAllowed(ctx, from.key))) say("from", "sender_unverified");

  let html = m.html;
  let versionId: string | null | undefined;
  if (m.template_id !== undefined && m.html !== undefined) {
    const design = await designFor(ctx, m.template_id);
    if (!design) say("template_id", "template_not_found");
    else {
      const filled = await renderDesign(ctx.deps, ctx.tenantId, design.versionId, {
        content: m.html,
      });
      html = filled.html;
      versionId = filled.versionId;
    }
  }

  if (issues.length || !from) return { ok: false, errors: issues };
  const ok = <T>(xs: (T | null)[]) => xs.filter((x): x is T => x !== null);
  const data: ContentMessageData = {
    kind: "content",
    content: {
      from: { name: from.name, address: from.address },
      ...(replyTo ? { reply_to: replyTo } : {}),
      subject: m.subject,
      ...(html !== undefined ? { html } : {}),
      // A plain-text part for HTML-only messages: spam filters and text-only readers want one.
      ...(m.text !== undefined
        ? { text: m.text }
        : html !== undefined
        ? { text: plainText(m.html ?? html) }
        : {}),
      ...(Object.keys(headers).length ? { headers } : {}),
      ...(m.tracking ? { tracking: true } : {}),
    },
    to: ok(to).map(({ name, address }) => ({ name, address })),
    ...(cc.length ? { cc: ok(cc).map(({ name, address }) => ({ name, address })) } : {}),
    ...(m.data ? { merge: m.data } : {}),
    ...(attachments.length ? { attachments } : {}),
    ...(versionId !== undefined ? { design_version_id: versionId } : {}),
    ...(tags.length ? { tags } : {}),
    ...(meta.length ? { metadata: Object.fromEntries(meta) } : {}),
  };
  const recipients = [...ok(to), ...ok(cc), ...ok(bcc)].map((r) => r.address);
  return { ok: true, stream, message: { data, recipients } };
}

// Integrators send the same template with different data: its text is made once (html-to-text
// costs milliseconds per call, more than the rest of the validation).
const texts = new Map<string, string>();
function plainText(html: string): string {
  const hit = texts.get(html);
  if (hit !== undefined) return hit;
  const text: string = convert(html, { wordwrap: false });
  if (texts.size >= 200) texts.delete(texts.keys().next().value!);
  texts.set(html, text);
  return text;
}

/**
 * A verified sender identity's address, or any address at the domain of one: the organisation
 * proved the domain is theirs. Anything else would let an API key forge other domains' mail.
 */
async function senderAllowed(ctx: PrepareContext, key: string): Promise<boolean> {
  const s = await verifiedSenders(ctx.deps, ctx.tenantId);
  return s.addresses.has(key) || s.domains.has(key.slice(key.lastIndexOf("@") + 1));
}

/** The design template's current version, looked up once per request. */
function designFor(ctx: PrepareContext, id: string) {
  ctx.templates ??= new Map();
  let hit = ctx.templates.get(id);
  if (!hit) {
    hit = (async () => {
      if (!isUuid(id)) return null;
      const row = await ctx.deps.db.selectFrom("design_templates")
        .select("current_version_id").where("tenant_id", "=", ctx.tenantId)
        .where("id", "=", id).where("archived_at", "is", null).executeTakeFirst();
      return row?.current_version_id ? { html: "", versionId: row.current_version_id } : null;
    })();
    ctx.templates.set(id, hit);
  }
  return hit;
}
