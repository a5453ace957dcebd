// A transactional stream's queue row carries its whole message in `send_queue.data`: this is the
// shape, shared by whoever queues such rows (a plugin) and the worker that renders them.
import { z } from "zod";
import { SendContent } from "./queue.ts";

/** Message metadata returned in events: short string values only. */
export const Metadata = z.record(z.string().max(100), z.string().max(1000));
export const Tags = z.array(z.string().max(100)).max(20);

const MailboxList = z.array(
  z.object({ name: z.string().max(200).default(""), address: z.string() }),
)
  .max(1000);

/**
 * A message written by the API: content as for any send (Handlebars in subject, html and text),
 * the visible recipients for the To and Cc headers (each row is one envelope recipient; Bcc
 * recipients have rows but appear in no header), the merge values and the files.
 */
export const ContentMessageData = z.object({
  kind: z.literal("content"),
  content: SendContent.omit({ attachments: true }),
  to: MailboxList,
  cc: MailboxList.optional(),
  merge: z.record(z.string(), z.unknown()).optional(),
  attachments: z.array(z.object({
    filename: z.string().max(255),
    content_type: z.string().max(255),
    content_base64: z.string(),
  })).optional(),
  /** The design template version the html was placed in, kept for reports and support. */
  design_version_id: z.string().nullable().optional(),
  tags: Tags.optional(),
  metadata: Metadata.optional(),
});
export type ContentMessageData = z.output<typeof ContentMessageData>;

/**
 * A complete RFC 5322 message as submitted (SMTP relay): kept as it is, except what the platform
 * must add (Message-ID when missing, the VERP return path, DKIM) and, only when tracking was
 * asked for, tracked links in its HTML.
 */
export const RawMessageData = z.object({
  kind: z.literal("raw"),
  /** The envelope sender as submitted; the message leaves with the VERP return path instead. */
  mail_from: z.string(),
  raw: z.string(),
  /** The From header's domain: which of the tenant's DKIM keys signs it. */
  from_domain: z.string(),
  /** The Subject header as written, for listings. */
  subject: z.string().optional(),
  tracking: z.boolean().optional(),
  tags: Tags.optional(),
  metadata: Metadata.optional(),
});
export type RawMessageData = z.output<typeof RawMessageData>;

export const StreamMessageData = z.discriminatedUnion("kind", [
  ContentMessageData,
  RawMessageData,
]);
export type StreamMessageData = z.output<typeof StreamMessageData>;

/** Stream names: what `sends.stream` accepts (migration 0012). */
export const STREAM_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const DEFAULT_STREAM = "transactional";

/** The domain of a stream message's From address (DKIM key choice, Message-ID domain). */
export function streamFromDomain(data: StreamMessageData): string {
  if (data.kind === "raw") return data.from_domain;
  const a = data.content.from.address;
  return a.slice(a.lastIndexOf("@") + 1).toLowerCase();
}
