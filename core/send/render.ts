// Render stage: compiled templates (cached by content hash) + per-recipient merge → MIME.
import Handlebars from "handlebars";
import { createHash } from "node:crypto";
import { buildMessage } from "./mime.ts";
import type { SendContent } from "./queue.ts";

/** A template compiled once per content, reused for every recipient. */
export interface CompiledContent {
  subject: HandlebarsTemplateDelegate;
  html?: HandlebarsTemplateDelegate;
  text?: HandlebarsTemplateDelegate;
  content: SendContent;
}

const MAX_CACHED = 200;
const cache = new Map<string, CompiledContent>();

function hashOf(content: SendContent): string {
  return createHash("sha256").update(JSON.stringify(content)).digest("base64url");
}

// One isolated Handlebars environment: plugins or other code cannot register helpers into it.
const hb = Handlebars.create();

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
  const compiled: CompiledContent = {
    // Subject and text are not HTML: no HTML escaping there.
    subject: hb.compile(content.subject, { ...opts, noEscape: true }),
    html: content.html !== undefined ? hb.compile(content.html, opts) : undefined,
    text: content.text !== undefined
      ? hb.compile(content.text, { ...opts, noEscape: true })
      : undefined,
    content,
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

export function mergeContext(r: Recipient): Record<string, unknown> {
  const first = r.first_name ?? "";
  const last = r.last_name ?? "";
  return {
    ...(r.custom ?? {}),
    ...(r.data ?? {}),
    email: r.address,
    firstname: first,
    first_name: first,
    lastname: last,
    last_name: last,
    name: `${first} ${last}`.trim(),
    organisation: r.organisation ?? "",
    title: r.title ?? "",
    language: r.language ?? "",
  };
}

export interface Rendered {
  raw: string;
  messageId: string;
  subject: string;
}

/** Renders one recipient's message. Headers come from the send plus per-message extras. */
export function renderMessage(
  c: CompiledContent,
  r: Recipient,
  extra: { messageId?: string; headers?: Record<string, string>; date?: Date } = {},
): Rendered {
  const ctx = mergeContext(r);
  const subject = c.subject(ctx);
  const msg = buildMessage({
    from: { name: c.content.from.name || undefined, address: c.content.from.address },
    to: { name: (ctx.name as string) || undefined, address: r.address },
    replyTo: c.content.reply_to ? { address: c.content.reply_to } : undefined,
    subject,
    html: c.html?.(ctx),
    text: c.text?.(ctx),
    headers: { ...c.content.headers, ...extra.headers },
    messageId: extra.messageId,
    date: extra.date,
    bodyEncoding: "base64",
  });
  return { raw: msg.raw, messageId: msg.messageId, subject };
}
