// Mailings API, the way out: recipient count, merge-field report, preview, test send, send,
// cancel, progress, and attachments.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import { AppError } from "../../core/errors.ts";
import { getMailing } from "../../core/mailings/mailings.ts";
import { countRecipients, mergeFieldReport } from "../../core/mailings/recipients.ts";
import {
  addAttachment,
  deleteAttachment,
  limitsOf,
  listAttachments,
} from "../../core/mailings/attachments.ts";
import {
  cancelMailing,
  listTestSends,
  mailingProgress,
  previewMailing,
  sendMailing,
  testSendMailing,
} from "../../core/mailings/send.ts";
import { notifyWorkers } from "../../core/send/worker.ts";
import { bearer, body, IdParam, json } from "./schemas.ts";
import {
  AttachmentParams,
  AttachmentSchema,
  CountSchema,
  errors,
  MailingSchema,
  MergeReportSchema,
  PreviewAsSchema,
  PreviewSchema,
  ProgressSchema,
  SendBody,
  SendResultSchema,
  tags,
  TestSendBody,
  TestSendSchema,
} from "./mailings_schemas.ts";

/** The request body, read up to `limit` bytes; more is refused without reading it all. */
async function readLimited(c: Context, limit: number): Promise<Uint8Array> {
  const stream = c.req.raw.body;
  if (!stream) {
    throw new AppError("validation", {}, [{ path: "file", code: "empty_file", message: "" }]);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new AppError("validation", {}, [{ path: "file", code: "too_large", message: "" }]);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const ch of chunks) {
    out.set(ch, at);
    at += ch.byteLength;
  }
  return out;
}

export function mailingSendRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/mailings/{id}/recipients/count",
      tags,
      security: bearer,
      summary: "How many will get it, after dedupe, with exclusions by reason",
      request: { params: IdParam },
      responses: { 200: json(CountSchema, "The count"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const m = await getMailing(deps, tenant.id, c.req.valid("param").id);
      return c.json(
        await countRecipients(deps, tenant.id, m.recipients, {
          subscriptionTypeId: m.subscription_type_id,
          mailingId: m.id,
        }),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/mailings/{id}/merge-fields",
      tags,
      security: bearer,
      summary: "Merge fields used, and for how many recipients each has no value",
      request: { params: IdParam },
      responses: { 200: json(MergeReportSchema, "The report"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const m = await getMailing(deps, tenant.id, c.req.valid("param").id);
      return c.json(await mergeFieldReport(deps, tenant.id, m), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/mailings/{id}/preview",
      tags,
      security: bearer,
      summary: "The mailing as one recipient (person or raw address) gets it: HTML and text",
      request: { params: IdParam, body: body(PreviewAsSchema) },
      responses: { 200: json(PreviewSchema, "The preview"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const p = await previewMailing(deps, tenant.id, c.req.valid("param").id, c.req.valid("json"));
      return c.json(p, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/mailings/{id}/test",
      tags,
      security: bearer,
      summary: "Test send to yourself or up to 10 addresses; marked, never in statistics",
      request: { params: IdParam, body: body(TestSendBody) },
      responses: { 202: json(SendResultSchema, "The test send, queued"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "send");
      const input = c.req.valid("json");
      const auth = c.get("auth");
      const to = input.to ?? (auth?.kind === "user" ? [auth.user.email] : []);
      if (!to.length) {
        throw new AppError("validation", {}, [{ path: "to", code: "required", message: "" }]);
      }
      const r = await testSendMailing(deps, tenant.id, c.req.valid("param").id, {
        to,
        as: input.as,
        locale: c.get("locale"),
      }, actorOf(c));
      await notifyWorkers(deps);
      return c.json(r, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/mailings/{id}/test",
      tags,
      security: bearer,
      summary: "The mailing's test sends, newest first (never part of its statistics)",
      request: { params: IdParam },
      responses: {
        200: json(z.object({ items: z.array(TestSendSchema) }), "Test sends"),
        ...errors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const m = await getMailing(deps, tenant.id, c.req.valid("param").id);
      return c.json({ items: (await listTestSends(deps, tenant.id, m.id)).map(jsonify) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/mailings/{id}/send",
      tags,
      security: bearer,
      summary: "Freeze the content and hand it to the send core; the mailing becomes 'sending'",
      request: { params: IdParam, body: { ...body(SendBody), required: false } },
      responses: { 202: json(SendResultSchema, "Queued"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "send");
      const input = c.req.header("content-type")?.includes("json") ? c.req.valid("json") : {};
      const r = await sendMailing(deps, tenant.id, c.req.valid("param").id, actorOf(c), {
        version: input.version,
      });
      await notifyWorkers(deps);
      return c.json({ send_id: r.send_id, total: r.total, excluded: r.excluded }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/mailings/{id}/cancel",
      tags,
      security: bearer,
      summary: "Cancel a draft, or stop a sending mailing (what is sent stays sent)",
      request: { params: IdParam },
      responses: { 200: json(MailingSchema, "The mailing"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "send");
      const m = await cancelMailing(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.json(jsonify(m), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/mailings/{id}/progress",
      tags,
      security: bearer,
      summary: "Sent of total, failed, still queued; rate per minute and seconds left",
      request: { params: IdParam },
      responses: { 200: json(ProgressSchema, "Progress"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const p = await mailingProgress(deps, tenant.id, c.req.valid("param").id);
      return c.json(jsonify(p), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/mailings/{id}/attachments",
      tags,
      security: bearer,
      summary: "The mailing's attachments (metadata)",
      request: { params: IdParam },
      responses: {
        200: json(z.object({ items: z.array(AttachmentSchema) }), "Attachments"),
        ...errors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const m = await getMailing(deps, tenant.id, c.req.valid("param").id);
      return c.json({ items: (await listAttachments(deps, tenant.id, m.id)).map(jsonify) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/mailings/{id}/attachments",
      tags,
      security: bearer,
      summary: "Attach a file sent as the request body; its type is sniffed from its bytes",
      request: {
        params: IdParam,
        query: z.object({
          filename: z.string().min(1).max(255).openapi({
            param: { name: "filename", in: "query" },
          }),
        }),
        body: {
          content: {
            "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) },
          },
          required: true,
        },
      },
      responses: { 201: json(AttachmentSchema, "The attachment"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const limits = limitsOf(deps.config);
      const data = await readLimited(c, limits.perFile);
      const a = await addAttachment(
        deps,
        tenant.id,
        c.req.valid("param").id,
        {
          filename: c.req.valid("query").filename,
          data,
        },
        actorOf(c),
        limits,
      );
      return c.json(jsonify(a), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/mailings/{id}/attachments/{attachmentId}",
      tags,
      security: bearer,
      summary: "Remove an attachment from a draft",
      request: { params: AttachmentParams },
      responses: { 204: { description: "Removed" }, ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const { id, attachmentId } = c.req.valid("param");
      await deleteAttachment(deps, tenant.id, id, attachmentId, actorOf(c));
      return c.body(null, 204);
    },
  );
}
