// Render stage: compiled templates (cached by content hash) + per-recipient merge → MIME, with
// tracked links, open pixel, List-Unsubscribe, Feedback-ID and the VERP return path.
import Handlebars from "handlebars";
import { createHash } from "node:crypto";
import { type Address, type Attachment, buildMessage } from "./mime.ts";
import { installMergeHelpers } from "../mailings/merge_fields.ts";
import type { SendContent } from "./queue.ts";
import type { SendKind } from "../db/schema.ts";
import type { AppDeps } from "../deps.ts";
import { TokenSigner } from "../feedback/tokens.ts";
import { LINKS_VAR, PIXEL_VAR, prepareTracking, trackedUrls } from "../feedback/tracking.ts";

/** A template compiled once per content, reused for every recipient. */
export interface CompiledContent {
  subject: HandlebarsTemplateDelegate;
  html?: HandlebarsTemplateDelegate;
  text?: HandlebarsTemplateDelegate;
  content: SendContent;
  /** The tracked links of the HTML, by index (what a click redirects to). */
  links: string[];
  /** The same links as written in the source, put back where mail is not tracked. */
  rawLinks: string[];
  /** The content's own headers, without the ones the render stage writes. */
  headers: Record<string, string>;
}

/** Headers the render stage writes itself; a content's own copies are dropped. */
const OWN_HEADERS = new Set(["list-unsubscribe", "list-unsubscribe-post", "feedback-id"]);

const MAX_CACHED = 200;
const cache = new Map<string, CompiledContent>();

function hashOf(content: SendContent): string {
  return createHash("sha256").update(JSON.stringify(content)).digest("base64url");
}

// One isolated Handlebars environment: plugins or other code cannot register helpers into it.
const hb = Handlebars.create();
// Fallbacks such as {{firstname default="friend"}} (mailings/merge_fields.ts).
installMergeHelpers(hb);

/** Compiles (or returns the cached) templates of a send's content. Bounded, LRU by insertion. */
export function compileContent(content: SendContent): CompiledContent {
  const key = hashOf(content);
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const opts = { strict: false, knownHelpersOnly: false };
  // Links are found once per content, not per message (feedback/tracking.ts).
  const tracked = content.html !== undefined ? prepareTracking(content.html) : undefined;
  const compiled: CompiledContent = {
    // Subject and text are not HTML: no HTML escaping there.
    subject: hb.compile(content.subject, { ...opts, noEscape: true }),
    html: tracked ? hb.compile(tracked.html, opts) : undefined,
    text: content.text !== undefined
      ? hb.compile(content.text, { ...opts, noEscape: true })
      : undefined,
    content,
    links: tracked?.links ?? [],
    rawLinks: tracked?.raw ?? [],
    headers: Object.fromEntries(
      Object.entries(content.headers ?? {}).filter(([k]) => !OWN_HEADERS.has(k.toLowerCase())),
    ),
  };
  cache.set(key, compiled);
  if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value!);
  return compiled;
}

/** The merge fields a template can use: {{firstname}} and {{first_name}} both work. */
export interface Recipient {
  address: string;
  first_name?: string;
  last_name?: string;
  organisation?: string;
  title?: string;
  language?: string | null;
  custom?: Record<string, unknown>;
  /** Transactional mail: values given by the caller. */
  data?: Record<string, unknown>;
}

/**
 * A recipient's merge context. `shared` is the send's plugin data (SendContent.data): it wins
 * over person data of the same name, the core's own fields win over both.
 */
export function mergeContext(
  r: Recipient,
  shared?: Record<string, unknown>,
): Record<string, unknown> {
  const first = r.first_name ?? "";
  const last = r.last_name ?? "";
  return {
    ...(r.custom ?? {}),
    ...(shared ?? {}),
    email: r.address,
    firstname: first,
    first_name: first,
    lastname: last,
    last_name: last,
    name: `${first} ${last}`.trim(),
    organisation: r.organisation ?? "",
    title: r.title ?? "",
    language: r.language ?? "",
    // Values a transactional caller gave for this message say what they mean to print: they
    // win over what the CRM knows (`name` for a recipient who is no person, a corrected one).
    ...(r.data ?? {}),
  };
}

export interface Rendered {
  raw: string;
  messageId: string;
  subject: string;
  /** The VERP return path (MAIL FROM) when the message is known (see MessageMeta). */
  mailFrom?: string;
}

/** What signs a deployment's links: given to render workers with each job. */
export interface TrackingSettings {
  secret: string;
  /** Public base URL, no trailing slash. */
  baseUrl: string;
  bounceDomain: string;
}

export function trackingSettings(deps: Pick<AppDeps, "secret" | "config">): TrackingSettings {
  return {
    secret: deps.secret,
    baseUrl: deps.config.baseUrl,
    bounceDomain: deps.config.bounceDomain,
  };
}

/** Which message is rendered: its tokens name the tenant and queue row. */
export interface MessageMeta {
  tenantId: string;
  queueId: string;
  sendId: string;
  kind: SendKind;
}

/** The meta of a render item, when the worker gave its tenant and kind. */
export function messageOf(
  item: { key: string; sendId: string; tenantId?: string; kind?: SendKind },
): MessageMeta | undefined {
  return item.tenantId && item.kind
    ? { tenantId: item.tenantId, queueId: item.key, sendId: item.sendId, kind: item.kind }
    : undefined;
}

const signers = new Map<string, TokenSigner>();
/** One token signer per secret (its HMAC key is derived once). */
export function signerFor(secret: string): TokenSigner {
  let s = signers.get(secret);
  if (!s) signers.set(secret, s = new TokenSigner(secret));
  return s;
}

/** The VERP return path (MAIL FROM) of a message: its bounces name it (feedback/tokens.ts). */
export function verpAddress(tracking: TrackingSettings, message: MessageMeta): string {
  return signerFor(tracking.secret).bounceAddress(
    { tenantId: message.tenantId, queueId: message.queueId },
    tracking.bounceDomain,
  );
}

/**
 * Tracking is on for mass and single mail, and for transactional mail whose content asks for
 * it (`tracking: true`).
 */
export function isTracked(kind: SendKind, content: SendContent): boolean {
  return kind !== "transactional" || content.tracking === true;
}

/**
 * The HTML of one recipient's message as a web page ("view in browser"): merged like the mail,
 * links tracked as in the mail, no open pixel (reading the page is not an open of the mail).
 */
export function renderPageHtml(
  c: CompiledContent,
  r: Recipient,
  tracking: TrackingSettings,
  message: MessageMeta,
): string | null {
  if (!c.html) return null;
  const ctx = mergeContext(r, c.content.data);
  const signer = signerFor(tracking.secret);
  const ref = { tenantId: message.tenantId, queueId: message.queueId };
  ctx.unsubscribe_url = `${tracking.baseUrl}/u/${signer.message("unsubscribe", ref)}`;
  ctx.view_in_browser_url = `${tracking.baseUrl}/v/${signer.message("view", ref)}`;
  ctx[LINKS_VAR] = isTracked(message.kind, c.content)
    ? trackedUrls(signer, tracking.baseUrl, ref, c.links.length).links
    : c.rawLinks;
  ctx[PIXEL_VAR] = "";
  return c.html(ctx);
}

/** Renders one recipient's message. Headers come from the send plus per-message extras. */
export function renderMessage(
  c: CompiledContent,
  r: Recipient,
  extra: {
    messageId?: string;
    headers?: Record<string, string>;
    date?: Date;
    tracking?: TrackingSettings;
    message?: MessageMeta;
    /** The send's files, loaded once per send by the worker (mailing_attachments). */
    attachments?: readonly Attachment[];
    /**
     * The visible recipients when they are not just this one (a transactional message to
     * several: every envelope recipient sees the same To and Cc).
     */
    to?: readonly Address[];
    cc?: readonly Address[];
  } = {},
): Rendered {
  const ctx = mergeContext(r, c.content.data);
  const own: Record<string, string> = {};
  let mailFrom: string | undefined;
  // Untracked mail gets its links back as written.
  let links = c.rawLinks;
  let pixel = "";
  const { tracking: ts, message: m } = extra;
  if (ts && m) {
    const signer = signerFor(ts.secret);
    const ref = { tenantId: m.tenantId, queueId: m.queueId };
    const unsubscribe = signer.message("unsubscribe", ref);
    const unsubscribeUrl = `${ts.baseUrl}/u/${unsubscribe}`;
    ctx.unsubscribe_url = unsubscribeUrl;
    ctx.view_in_browser_url = `${ts.baseUrl}/v/${signer.message("view", ref)}`;
    if (m.kind === "mass") {
      own["List-Unsubscribe"] = `<${unsubscribeUrl}>, ` +
        `<mailto:unsubscribe+${unsubscribe}@${ts.bounceDomain}>`;
      own["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click";
    }
    own["Feedback-ID"] = `${m.sendId}:${m.tenantId}:${m.kind}:skicka`;
    mailFrom = signer.bounceAddress(ref, ts.bounceDomain);
    if (c.html && isTracked(m.kind, c.content)) {
      ({ links, pixel } = trackedUrls(signer, ts.baseUrl, ref, c.links.length));
    }
  }
  ctx[LINKS_VAR] = links;
  ctx[PIXEL_VAR] = pixel;
  const subject = c.subject(ctx);
  const msg = buildMessage({
    from: { name: c.content.from.name || undefined, address: c.content.from.address },
    to: extra.to?.length
      ? extra.to
      : { name: (ctx.name as string) || undefined, address: r.address },
    cc: extra.cc,
    replyTo: c.content.reply_to ? { address: c.content.reply_to } : undefined,
    subject,
    html: c.html?.(ctx),
    text: c.text?.(ctx),
    headers: { ...c.headers, ...extra.headers, ...own },
    messageId: extra.messageId,
    date: extra.date,
    bodyEncoding: "base64",
    attachments: extra.attachments,
  });
  return { raw: msg.raw, messageId: msg.messageId, subject, mailFrom };
}
