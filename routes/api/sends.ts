// Sends API: queue content to an audience, then follow, pause, resume or cancel it.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import {
  Audience,
  cancelSend,
  createSend,
  expandSend,
  getSend,
  pauseSend,
  resumeSend,
  SendContent,
  sendProgress,
} from "../../core/send/queue.ts";
import { notifyWorkers } from "../../core/send/worker.ts";
import { sendStats } from "../../core/feedback/stats.ts";
import { bearer, errorsWithConflict, IdempotencyHeader, IdParam, json } from "./schemas.ts";

const errors = errorsWithConflict("The send is not in a state for this action");

const SendSchema = z.object({
  id: z.string(),
  kind: z.enum(["mass", "single", "transactional"]),
  status: z.string(),
  content: z.unknown(),
  audience: z.unknown(),
  total: z.number(),
  sent: z.number(),
  failed: z.number(),
  deferred: z.number(),
  excluded: z.record(z.string(), z.number()),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
}).openapi("Send");

const ProgressSchema = z.object({
  id: z.string(),
  status: z.string(),
  total: z.number(),
  sent: z.number(),
  failed: z.number(),
  queued: z.number(),
  held: z.number(),
  cancelled: z.number(),
  excluded: z.record(z.string(), z.number()),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
}).openapi("SendProgress");

const SendCreate = z.object({
  kind: z.enum(["mass", "single"]).default("mass"),
  content: SendContent,
  audience: Audience,
  /** Start at once (expand and queue); otherwise the send stays a draft. */
  start: z.boolean().default(false),
});

const tags = ["Sends"];

export function sendRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/sends",
      tags,
      security: bearer,
      summary: "Create a send of content to segments, lists, persons or addresses",
      request: {
        headers: IdempotencyHeader,
        body: { content: { "application/json": { schema: SendCreate } }, required: true },
      },
      responses: { 201: json(SendSchema, "The send"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "send");
      const body = c.req.valid("json");
      const s = await createSend(deps, tenant.id, body, actorOf(c));
      if (body.start) {
        await expandSend(deps, tenant.id, s.id, actorOf(c));
        await notifyWorkers(deps);
      }
      return c.json(jsonify(await getSend(deps, tenant.id, s.id)), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/sends/{id}",
      tags,
      security: bearer,
      summary: "Progress: sent, failed, still queued, held (paused), cancelled, excluded by reason",
      request: { params: IdParam },
      responses: { 200: json(ProgressSchema, "Progress"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      return c.json(jsonify(await sendProgress(deps, tenant.id, c.req.valid("param").id)), 200);
    },
  );

  const Counts = z.object({ total: z.number(), unique: z.number() });
  const StatsSchema = z.object({
    sendId: z.string(),
    kind: z.string(),
    status: z.string(),
    subject: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    recipients: z.number(),
    excluded: z.record(z.string(), z.number()),
    excludedTotal: z.number(),
    sent: z.number(),
    failed: z.number(),
    pending: z.number(),
    bounced: z.object({ hard: z.number(), soft: z.number(), policy: z.number() }),
    delivered: z.number(),
    complaints: z.number(),
    unsubscribes: z.number(),
    opens: z.object({ human: Counts, machine: Counts }),
    clicks: z.object({ human: Counts, machine: Counts }),
    rates: z.record(z.string(), z.number().nullable()),
  }).openapi("SendStats");
  app.openapi(
    createRoute({
      method: "get",
      path: "/sends/{id}/stats",
      tags,
      security: bearer,
      summary: "Statistics: recipients, exclusions, delivery, bounces, opens and clicks " +
        "(people and machines apart), unsubscribes, complaints and rates",
      request: { params: IdParam },
      responses: { 200: json(StatsSchema, "Statistics"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      return c.json(jsonify(await sendStats(deps, tenant.id, c.req.valid("param").id)), 200);
    },
  );

  const actions = {
    start: async (tid: string, id: string, actor: string) => {
      await expandSend(deps, tid, id, actor);
      await notifyWorkers(deps);
    },
    pause: (tid: string, id: string, actor: string) => pauseSend(deps, tid, id, actor),
    resume: async (tid: string, id: string, actor: string) => {
      await resumeSend(deps, tid, id, actor);
      await notifyWorkers(deps);
    },
    cancel: (tid: string, id: string, actor: string) => cancelSend(deps, tid, id, actor),
  };
  for (const [name, run] of Object.entries(actions)) {
    app.openapi(
      createRoute({
        method: "post",
        path: `/sends/{id}/${name}`,
        tags,
        security: bearer,
        summary: {
          start: "Expand the audience into the queue and start sending",
          pause: "Hold what is not yet sent",
          resume: "Continue a paused send",
          cancel: "Drop what is not yet sent",
        }[name]!,
        request: { params: IdParam },
        responses: { 200: json(ProgressSchema, "Progress"), ...errors },
      }),
      async (c) => {
        const tenant = requireTenant(c, "send");
        const id = c.req.valid("param").id;
        await run(tenant.id, id, actorOf(c));
        return c.json(jsonify(await sendProgress(deps, tenant.id, id)), 200);
      },
    );
  }
}
