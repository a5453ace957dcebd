// API of the scheduling plugin, at /api/v1/scheduling: schedule, reschedule, unschedule a
// mailing, read its schedule, and list what is upcoming.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { AppError } from "../../core/errors.ts";
import { bearer, body, errorsWithConflict, IdParam, json } from "../../routes/api/schemas.ts";
import {
  getSchedule,
  listUpcoming,
  type Schedule,
  scheduleMailing,
  unscheduleMailing,
} from "./schedules.ts";
import { speaking } from "./issues.ts";
import { reasonText } from "./reasons.ts";
import type { Locale } from "../../core/i18n/mod.ts";

const tags = ["Scheduling"];
const errors = errorsWithConflict("The mailing is not in a state that allows this");

const ScheduleSchema = z.object({
  id: z.string(),
  mailing_id: z.string(),
  status: z.enum(["scheduled", "starting", "started", "cancelled", "failed"]),
  due_at: z.string().openapi({ description: "The instant, UTC" }),
  local_time: z.string().openapi({
    description: "The wall-clock time in time_zone (YYYY-MM-DDTHH:MM), with its offset " +
      "appended when that time happens twice (the night clocks move back); due_at is the truth",
  }),
  time_zone: z.string().openapi({ description: "The tenant's time zone when it was scheduled" }),
  send_id: z.string().nullable(),
  error: z.string().nullable().openapi({
    description: "Why it did not start, as a code: mailing_deleted, draft_again, " +
      "plugin_not_enabled, tenant_suspended, attempts_exhausted, or the core's error code " +
      "(validation, not_found, send_skipped…)",
  }),
  error_message: z.string().nullable().openapi({
    description: "The reason in the reader's language, with the fields at fault",
  }),
  attempts: z.number(),
  created_by: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  started_at: z.string().nullable(),
}).openapi("Schedule");

const ScheduleBody = z.object({
  local: z.string().max(40).optional().openapi({
    description: "Date and time in the tenant's time zone, YYYY-MM-DDTHH:MM. A time that does " +
      "not exist (clocks moving forward) is refused; one that happens twice (clocks moving " +
      "back) means the first.",
    example: "2027-10-31T02:30",
  }),
  at: z.string().max(40).optional().openapi({
    description: "Or an instant with an offset (RFC 3339)",
    example: "2027-10-31T00:30:00Z",
  }),
}).strict().openapi("ScheduleInput");

const MailingIdParam = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" }, description: "The mailing" }),
});

function out(s: Schedule, l: Locale) {
  const iso = (d: Date | null) => d ? new Date(d).toISOString() : null;
  const { error_params, ...rest } = s;
  return {
    ...rest,
    error_message: s.error ? reasonText(l, s.error, error_params) : null,
    due_at: new Date(s.due_at).toISOString(),
    created_at: new Date(s.created_at).toISOString(),
    updated_at: new Date(s.updated_at).toISOString(),
    started_at: iso(s.started_at),
  };
}

export function schedulingRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/",
      tags,
      security: bearer,
      summary: "Scheduled mailings that have not started, soonest first",
      responses: {
        200: json(
          z.object({
            items: z.array(z.object({
              id: z.string(),
              mailing_id: z.string(),
              subject: z.string(),
              status: z.string(),
              due_at: z.string(),
              local_time: z.string(),
              time_zone: z.string(),
              created_by: z.string(),
            })),
          }).openapi("ScheduleList"),
          "Upcoming",
        ),
        ...errors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const rows = await listUpcoming(deps, tenant.id);
      return c.json({
        items: rows.map((r) => ({ ...r, due_at: new Date(r.due_at).toISOString() })),
      }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/mailings/{id}",
      tags,
      security: bearer,
      summary: "The mailing's latest schedule (404 when it was never scheduled)",
      request: { params: MailingIdParam },
      responses: { 200: json(ScheduleSchema, "The schedule"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const s = await getSchedule(deps, tenant.id, c.req.valid("param").id);
      if (!s) throw new AppError("not_found");
      return c.json(out(s, c.get("locale")), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/mailings/{id}",
      tags,
      security: bearer,
      summary: "Schedule a draft, or move a scheduled mailing that has not started",
      description: "The mailing becomes `scheduled` and cannot be edited until it is " +
        "unscheduled. Needs the send scope.",
      request: { params: MailingIdParam, body: body(ScheduleBody) },
      responses: { 200: json(ScheduleSchema, "The schedule"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "send");
      const s = await speaking(
        c.get("locale"),
        () =>
          scheduleMailing(deps, tenant, c.req.valid("param").id, c.req.valid("json"), actorOf(c)),
      );
      return c.json(out(s, c.get("locale")), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/mailings/{id}",
      tags,
      security: bearer,
      summary: "Unschedule a mailing that has not started; it becomes a draft again",
      request: { params: IdParam },
      responses: { 204: { description: "Unscheduled" }, ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "send");
      await speaking(
        c.get("locale"),
        () => unscheduleMailing(deps, tenant.id, c.req.valid("param").id, actorOf(c)),
      );
      return c.body(null, 204);
    },
  );
}
