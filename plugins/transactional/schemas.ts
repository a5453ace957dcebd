// The request and response shapes of /api/v1/messages (zod, also the OpenAPI document). What a
// schema cannot say — addresses, header safety, base64, sizes — validate.ts checks after it.
import { z } from "@hono/zod-openapi";

const Mailbox = z.union([
  z.string().max(320),
  z.object({ name: z.string().max(200).optional(), address: z.string().max(320) }),
]).openapi("Mailbox", {
  description: 'An address, or { "name", "address" } for a display name',
  example: { name: "Kim Berg", address: "kim@example.com" },
});
export type MailboxInput = z.infer<typeof Mailbox>;

export const MAX_RECIPIENTS = 50;
export const MAX_BATCH = 500;

export const MessageCreate = z.object({
  from: Mailbox.describe("A verified sender of your organisation, or an address at its domain"),
  to: z.union([Mailbox, z.array(Mailbox).min(1).max(MAX_RECIPIENTS)]),
  cc: z.array(Mailbox).max(MAX_RECIPIENTS).optional(),
  bcc: z.array(Mailbox).max(MAX_RECIPIENTS).optional(),
  reply_to: z.string().max(320).optional(),
  subject: z.string().min(1).max(998).describe("Handlebars merge fields from `data` allowed"),
  html: z.string().max(5_000_000).optional(),
  text: z.string().max(5_000_000).optional(),
  template_id: z.string().max(64).optional().describe(
    "A design template: the html is placed in its content slot (its current version)",
  ),
  data: z.record(z.string(), z.unknown()).optional().describe(
    "Merge values for {{fields}} in subject, html and text",
  ),
  attachments: z.array(z.object({
    filename: z.string().min(1).max(255),
    content_type: z.string().max(255).optional(),
    content: z.string().describe("The file, base64-encoded"),
  })).max(20).optional(),
  headers: z.record(z.string(), z.string()).optional().describe(
    "Extra header fields (X-…, In-Reply-To, References…); not structural ones such as From",
  ),
  tags: z.array(z.string()).max(10).optional(),
  metadata: z.record(z.string(), z.string().max(1000)).optional(),
  tracking: z.boolean().optional().describe("Open and click tracking (off unless true)"),
  stream: z.string().max(63).optional().describe('Stream name, default "transactional"'),
}).strict().openapi("MessageCreate");
export type MessageCreate = z.infer<typeof MessageCreate>;

const Recipient = z.object({
  id: z.string().describe("The message id for this recipient (GET /messages/{id})"),
  address: z.string(),
  status: z.enum(["queued", "suppressed"]).describe(
    "suppressed: the address is known to be undeliverable; nothing is sent",
  ),
});

export const MessageAccepted = z.object({
  id: z.string().describe("The first recipient's message id"),
  recipients: z.array(Recipient),
}).openapi("MessageAccepted");

export const BatchCreate = z.object({
  messages: z.array(z.unknown()).min(1).max(MAX_BATCH).describe(
    `Up to ${MAX_BATCH} messages as for POST /messages, each validated on its own`,
  ),
}).strict().openapi("MessageBatchCreate");

const FieldIssue = z.object({ path: z.string(), code: z.string(), message: z.string() });

export const BatchAccepted = z.object({
  accepted: z.number().int(),
  rejected: z.number().int(),
  results: z.array(z.union([
    z.object({ index: z.number().int(), id: z.string(), recipients: z.array(Recipient) }),
    z.object({ index: z.number().int(), errors: z.array(FieldIssue) }),
  ])),
}).openapi("MessageBatchAccepted");

export const MessageEvent = z.object({
  type: z.enum([
    "queued",
    "sent",
    "deferred",
    "delivered",
    "failed",
    "bounced",
    "suppressed",
    "opened",
    "clicked",
    "complained",
  ]),
  at: z.string().nullable().describe("Null where no time is kept (a deferral: see detail)"),
  detail: z.record(z.string(), z.unknown()).optional(),
});

export const MessageStatus = z.object({
  id: z.string(),
  stream: z.string(),
  to: z.string(),
  from: z.string(),
  subject: z.string(),
  status: z.enum([
    "queued",
    "sending",
    "deferred",
    "sent",
    "delivered",
    "bounced",
    "failed",
    "suppressed",
    "cancelled",
  ]),
  attempts: z.number().int(),
  message_id: z.string().nullable(),
  last_reply: z.string().nullable(),
  tags: z.array(z.string()),
  metadata: z.record(z.string(), z.string()),
  tracking: z.boolean(),
  created_at: z.string(),
  sent_at: z.string().nullable(),
  events: z.array(MessageEvent),
}).openapi("MessageStatus");
