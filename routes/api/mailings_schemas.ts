// OpenAPI schemas of the mailings API (routes/api/mailings.ts, mailings_send.ts).
import { z } from "@hono/zod-openapi";
import { MAILING_STATUSES } from "../../core/mailings/mailings.ts";
import { EXCLUSION_REASONS } from "../../core/send/queue.ts";
import { errorsWithConflict } from "./schemas.ts";

export const tags = ["Mailings"];

export const errors = errorsWithConflict(
  "The mailing is not in a state for this (details name its status), or it was saved by " +
    "someone else since the given version",
);

export const AudienceSchema = z.object({
  segments: z.array(z.string()),
  lists: z.array(z.string()),
  persons: z.array(z.string()),
  addresses: z.array(z.string()),
  exclude_segments: z.array(z.string()),
}).openapi("MailingRecipients");

export const MailingSummarySchema = z.object({
  id: z.string(),
  status: z.enum(MAILING_STATUSES),
  version: z.number().int().openapi({ description: "Give it back in PATCH (autosave)" }),
  from_name: z.string(),
  from_address: z.string(),
  subject: z.string(),
  send_id: z.string().nullable(),
  copied_from: z.string().nullable(),
  created_by: z.string().nullable(),
  updated_by: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  sent_at: z.string().nullable(),
}).openapi("MailingSummary");

export const MailingSchema = MailingSummarySchema.extend({
  from_identity_id: z.string().nullable(),
  reply_to: z.string().nullable(),
  preheader: z.string(),
  body_html: z.string().openapi({ description: "Sanitised HTML with merge fields" }),
  design_template_version_id: z.string().nullable(),
  recipients: AudienceSchema,
  content_template_id: z.string().nullable(),
  subscription_type_id: z.string().nullable(),
}).openapi("Mailing");

export const CountSchema = z.object({
  total: z.number().int().openapi({ description: "Messages that will be sent" }),
  persons: z.number().int(),
  addresses: z.number().int().openapi({ description: "Raw addresses that will be sent to" }),
  excluded: z.partialRecord(z.enum(EXCLUSION_REASONS), z.number().int()),
}).openapi("MailingRecipientCount");

export const MergeReportSchema = z.object({
  recipients: z.number().int(),
  raw_addresses: z.object({
    total: z.number().int(),
    without_person: z.number().int().openapi({
      description: "Raw addresses that match no person at all",
    }),
  }),
  fields: z.array(z.object({
    name: z.string(),
    kind: z.enum(["system", "person", "custom"]),
    has_default: z.boolean().openapi({ description: 'Every use has a default="…" fallback' }),
    missing: z.number().int().openapi({ description: "Recipients with no value for it" }),
    unknown: z.boolean().openapi({ description: "A custom field the organisation lacks" }),
  })),
}).openapi("MergeFieldReport");

export const PreviewAsSchema = z.union([
  z.object({ person_id: z.uuid() }).strict(),
  z.object({ address: z.string().max(320) }).strict(),
]).openapi("PreviewAs");

export const PreviewSchema = z.object({
  subject: z.string(),
  html: z.string(),
  text: z.string(),
  recipient: z.object({ address: z.string(), name: z.string() }),
}).openapi("MailingPreview");

export const TestSendBody = z.object({
  to: z.array(z.string().max(320)).min(1).max(10).optional().openapi({
    description: "Default: the signed-in staff user's own address",
  }),
  as: PreviewAsSchema.optional().openapi({
    description: "Merge as this recipient; default: the first test address, without data",
  }),
}).strict();

export const TestSendSchema = z.object({
  id: z.string(),
  status: z.string(),
  total: z.number().int(),
  sent: z.number().int(),
  created_at: z.string(),
}).openapi("MailingTestSend");

export const SendBody = z.object({
  version: z.number().int().min(1).optional().openapi({
    description: "Send only if the mailing is still at this version",
  }),
}).strict();

export const SendResultSchema = z.object({
  send_id: z.string(),
  total: z.number().int(),
  excluded: z.partialRecord(z.enum(EXCLUSION_REASONS), z.number().int()),
}).openapi("MailingSendResult");

export const ProgressSchema = z.object({
  mailing_id: z.string(),
  status: z.enum(MAILING_STATUSES),
  send: z.object({
    id: z.string(),
    status: z.string(),
    total: z.number().int(),
    sent: z.number().int(),
    failed: z.number().int(),
    queued: z.number().int(),
    held: z.number().int(),
    cancelled: z.number().int(),
    excluded: z.record(z.string(), z.number()),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  }).nullable(),
  rate_per_minute: z.number().int(),
  eta_seconds: z.number().int().nullable(),
}).openapi("MailingProgress");

export const AttachmentSchema = z.object({
  id: z.string(),
  mailing_id: z.string(),
  filename: z.string(),
  content_type: z.string().openapi({ description: "Sniffed from the file's bytes" }),
  size: z.number().int(),
  sha256: z.string(),
  created_at: z.string(),
}).openapi("MailingAttachment");

export const AttachmentParams = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" } }),
  attachmentId: z.string().openapi({ param: { name: "attachmentId", in: "path" } }),
});
