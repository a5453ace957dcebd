// API of the transactional plugin at /api/v1/messages: send one message, send a batch, read a
// message's status and history, and reports per stream and tag. Idempotency-Key is the API's
// own (core/http/idempotency.ts): a retry gets the first answer and queues nothing again.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { AppError } from "../../core/errors.ts";
import { requireTenant } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import { t } from "../../core/i18n/mod.ts";
import {
  bearer,
  body,
  commonErrors,
  IdempotencyHeader,
  IdParam,
  json,
} from "../../routes/api/schemas.ts";
import { type ContentInput, enqueueMessages } from "./enqueue.ts";
import { Grouped } from "./smtp_group_commit.ts";
import { type PrepareContext, prepareMessage, prepareParsed } from "./validate.ts";
import { messageStatus } from "./status.ts";
import { sendRateLimit } from "./rate_limit.ts";
import {
  BatchAccepted,
  BatchCreate,
  MessageAccepted,
  MessageCreate,
  MessageStatus,
} from "./schemas.ts";
import { ReportQuery, ReportSchema, streamReport } from "./report.ts";

const tags = ["Transactional messages"];
const errors = {
  ...commonErrors,
  409: { description: "The same Idempotency-Key is still being processed" },
  422: { description: "The Idempotency-Key was used with a different request" },
  429: { description: "Over the tenant's request rate (API_SEND_RATE); see Retry-After" },
};

export function messageRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.use("*", sendRateLimit(deps));
  // Integrators send one message per request, many at once: concurrent requests share commits.
  const single = new Grouped(
    (tenantId, inputs: ContentInput[]) => enqueueMessages(deps, tenantId, inputs),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/",
      tags,
      security: bearer,
      summary: "Send one message (queued durably before the 202)",
      description: "Needs the `send` scope. One message id per recipient (to, cc and bcc).",
      request: { headers: IdempotencyHeader, body: body(MessageCreate) },
      responses: { 202: json(MessageAccepted, "Queued: committed to the send queue"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "send");
      const ctx: PrepareContext = { deps, tenantId: tenant.id, locale: c.get("locale") };
      const p = await prepareParsed(ctx, c.req.valid("json"));
      if (!p.ok) throw new AppError("validation", {}, p.errors);
      const r = await single.add(tenant.id, { ...p.message, stream: p.stream });
      return c.json({ id: r.recipients[0]!.id, recipients: r.recipients }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/batch",
      tags,
      security: bearer,
      summary: "Send up to 500 messages; each is validated on its own",
      description: "The valid messages are queued together (committed before the 202); the " +
        "answer lists each message's ids or its errors, by index.",
      request: { headers: IdempotencyHeader, body: body(BatchCreate) },
      responses: { 202: json(BatchAccepted, "The valid messages are queued"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "send");
      const locale = c.get("locale");
      const ctx: PrepareContext = { deps, tenantId: tenant.id, locale };
      const { messages } = c.req.valid("json");
      const prepared = [];
      // In turn: the look-ups they share (senders, templates) are made once.
      for (const m of messages) {
        prepared.push(
          m !== null && typeof m === "object" && !Array.isArray(m)
            ? await prepareMessage(ctx, m)
            : {
              ok: false as const,
              errors: [{
                path: "(body)",
                code: "invalid_message",
                message: t(locale, "transactional.issue.invalid_message"),
              }],
            },
        );
      }
      const valid = prepared.flatMap((p, index) =>
        p.ok ? [{ index, input: { ...p.message, stream: p.stream } }] : []
      );
      const queued = valid.length
        ? await enqueueMessages(deps, tenant.id, valid.map((v) => v.input))
        : [];
      const byIndex = new Map(valid.map((v, i) => [v.index, queued[i]!]));
      const results = prepared.map((p, index) => {
        if (!p.ok) return { index, errors: p.errors };
        const r = byIndex.get(index)!;
        return { index, id: r.recipients[0]!.id, recipients: r.recipients };
      });
      return c.json({
        accepted: valid.length,
        rejected: prepared.length - valid.length,
        results,
      }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/reports",
      tags,
      security: bearer,
      summary: "Sent, delivered, bounces, opens and clicks per day, by stream and tag",
      request: { query: ReportQuery },
      responses: { 200: json(ReportSchema, "The report"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const report = await streamReport(deps, tenant.id, {
        ...c.req.valid("query"),
        defaultTimeZone: c.get("timeZone"),
        locale: c.get("locale"),
      });
      return c.json(jsonify(report) as z.infer<typeof ReportSchema>, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/{id}",
      tags,
      security: bearer,
      summary: "A message's status and its events (queued, sent, deferred, bounced, opened…)",
      request: { params: IdParam },
      responses: { 200: json(MessageStatus, "The message"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const s = await messageStatus(deps, tenant.id, c.req.valid("param").id);
      return c.json(jsonify(s) as z.infer<typeof MessageStatus>, 200);
    },
  );
}
