// Renders one message of a transactional stream from its queue row's data: content messages
// through the same compile cache and MIME builder as every send, raw messages kept as
// submitted with only what the platform must add.
import { Buffer } from "node:buffer";
import {
  compileContent,
  type MessageMeta,
  type Recipient,
  type Rendered,
  renderMessage,
  signerFor,
  type TrackingSettings,
  verpAddress,
} from "./render.ts";
import type { Attachment } from "./mime.ts";
import { amendHeader, headerValue } from "./raw_message.ts";
import { rawTrackedLinks, trackRaw } from "./raw_tracking.ts";
import { trackedUrls } from "../feedback/tracking.ts";
import type { SendContent } from "./queue.ts";
import { StreamMessageData } from "./stream_message.ts";

/**
 * The tracked links of a stream message, by position, derived as its render did: what a click
 * on it may redirect to. Null when the row holds no valid message.
 */
export function streamMessageLinks(data: unknown): string[] | null {
  const parsed = StreamMessageData.safeParse(data);
  if (!parsed.success) return null;
  const m = parsed.data;
  if (m.kind === "content") return compileContent(m.content as SendContent).links;
  return m.tracking ? rawTrackedLinks(amendHeader(m.raw, [])) : [];
}

/**
 * Header fields of a submitted message that we drop: Return-Path is the receiving server's to
 * write, and Bcc must never reach any recipient (RFC 5322 3.6.3).
 */
const DROPPED_RAW = ["return-path", "bcc"];

export function renderStreamMessage(
  data: StreamMessageData,
  recipient: Recipient,
  opts: { messageId: string; tracking: TrackingSettings; message: MessageMeta; date?: Date },
): Rendered {
  if (data.kind === "raw") return renderRaw(data.raw, data.tracking === true, opts);
  // Attachments are bytes in the row (decoded per message: transactional mail is one recipient
  // or a few, so there is nothing to share).
  const attachments: Attachment[] = (data.attachments ?? []).map((a) => ({
    filename: a.filename,
    contentType: a.content_type,
    content: new Uint8Array(Buffer.from(a.content_base64, "base64")),
  }));
  return renderMessage(compileContent(data.content as SendContent), {
    ...recipient,
    data: data.merge,
  }, {
    messageId: opts.messageId,
    tracking: opts.tracking,
    message: opts.message,
    attachments,
    to: data.to,
    cc: data.cc,
    date: opts.date,
  });
}

/**
 * A submitted message goes out as written: Message-ID and Date added only when missing (RFC
 * 6409 8.2, 8.3: the submission server completes them), Return-Path and Bcc removed, the VERP
 * address as MAIL FROM. The body is not changed.
 */
function renderRaw(
  raw: string,
  tracked: boolean,
  opts: { messageId: string; tracking: TrackingSettings; message: MessageMeta; date?: Date },
): Rendered {
  const add: [string, string][] = [];
  const existing = headerValue(raw, "message-id");
  const messageId = existing ?? opts.messageId;
  if (!existing) add.push(["Message-ID", opts.messageId]);
  if (!headerValue(raw, "date")) add.push(["Date", (opts.date ?? new Date()).toUTCString()]);
  let out = amendHeader(raw, add, DROPPED_RAW);
  if (tracked) {
    // Asked for by the sender (X-Skicka-Track): the one case where the body is rewritten.
    const ts = opts.tracking;
    const ref = { tenantId: opts.message.tenantId, queueId: opts.message.queueId };
    out = trackRaw(out, (n) => trackedUrls(signerFor(ts.secret), ts.baseUrl, ref, n));
  }
  return {
    raw: out,
    messageId,
    subject: headerValue(raw, "subject") ?? "",
    mailFrom: verpAddress(opts.tracking, opts.message),
  };
}
