// API of the automation plugin, at /api/v1/automation: recurring and triggered rules, their
// runs, the stop switch, and waiting periods per mailing. What makes the platform send mail
// (creating, replacing or switching on a rule; waiting periods, which decide who gets a mailing)
// needs the `send` scope, as the core's send routes do; reading needs `read`, stopping and
// deleting `write`.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import {
  bearer,
  body,
  errorsWithConflict,
  IdempotencyHeader,
  IdParam,
  json,
} from "../../routes/api/schemas.ts";
import {
  createRule,
  deleteRule,
  getRule,
  listRules,
  listRuns,
  listWaitingPeriods,
  RuleInput,
  Sample,
  setRuleActive,
  setWaitingPeriod,
  updateRule,
  WaitingPeriodInput,
} from "./store.ts";
import { validationHook } from "./issues.ts";
import { reasonText } from "./reasons.ts";

const tags = ["Automation"];
const errors = errorsWithConflict("Conflicts with existing data");

const RuleSchema = z.object({
  id: z.string(),
  kind: z.enum(["recurring", "trigger"]),
  name: z.string(),
  mailing_id: z.string(),
  active: z.boolean(),
  segment_ids: z.array(z.string()),
  exclude_segment_ids: z.array(z.string()),
  weekdays: z.array(z.number()).describe("ISO weekdays, 1 Monday … 7 Sunday"),
  times: z.array(z.string()).describe("Local times HH:MM in time_zone"),
  time_zone: z.string(),
  lead_minutes: z.number(),
  next_run_at: z.string().nullable(),
  list_id: z.string().nullable(),
  active_since: z.string().nullable().describe("Triggers: members added before get nothing"),
  sample: Sample.nullable(),
  created_by: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("AutomationRule");

const RunSchema = z.object({
  id: z.string(),
  occurrence_at: z.string().describe("The occurrence (recurring) or when the person was added"),
  status: z.string(),
  send_id: z.string().nullable(),
  seed: z.string().nullable().describe("The random sample's seed: the same seed draws the same"),
  reason: z.string().nullable().describe(
    "Why a run was skipped or failed, as a code: missed, stopped, not_enabled, " +
      "tenant_suspended, vetoed, error, internal",
  ),
  reason_params: z.record(z.string(), z.unknown()).nullable()
    .describe("The reason's parameters (vetoed: plugin, reason; error: error, params, issues)"),
  reason_message: z.string().nullable().describe("The reason in the caller's language"),
  total: z.number().nullable(),
  sent: z.number().nullable(),
  excluded: z.record(z.string(), z.number()),
}).openapi("AutomationRun");

const WaitingSchema = z.object({ mailing_id: z.string(), days: z.number().nullable() })
  .openapi("AutomationWaitingPeriod");

export function automationRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/rules",
      tags,
      security: bearer,
      summary: "The tenant's recurring and triggered rules, newest first",
      responses: { 200: json(z.object({ items: z.array(RuleSchema) }), "Rules"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const rows = await listRules(deps, tenant.id);
      return c.json({ items: rows.map(({ mailing_subject: _, ...r }) => jsonify(r)) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/rules",
      tags,
      security: bearer,
      summary: "Create a recurring (kind recurring) or triggered (kind trigger) rule",
      request: { headers: IdempotencyHeader, body: body(RuleInput) },
      responses: { 201: json(RuleSchema, "The rule"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "send");
      const r = await createRule(deps, tenant.id, c.req.valid("json"), actorOf(c));
      return c.json(jsonify(r), 201);
    },
    validationHook,
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/rules/{id}",
      tags,
      security: bearer,
      summary: "Get a rule",
      request: { params: IdParam },
      responses: { 200: json(RuleSchema, "The rule"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      return c.json(jsonify(await getRule(deps, tenant.id, c.req.valid("param").id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/rules/{id}",
      tags,
      security: bearer,
      summary: "Replace a rule's settings (the kind stays)",
      request: { params: IdParam, body: body(RuleInput) },
      responses: { 200: json(RuleSchema, "The rule"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "send");
      const r = await updateRule(
        deps,
        tenant.id,
        c.req.valid("param").id,
        c.req.valid("json"),
        actorOf(c),
      );
      return c.json(jsonify(r), 200);
    },
    validationHook,
  );

  for (const [action, active] of [["stop", false], ["start", true]] as const) {
    app.openapi(
      createRoute({
        method: "post",
        path: `/rules/{id}/${action}`,
        tags,
        security: bearer,
        summary: active
          ? "Switch a rule on again (a trigger then answers members added from now on)"
          : "Stop a rule: no further runs or triggered sends until switched on",
        request: { params: IdParam },
        responses: { 200: json(RuleSchema, "The rule"), ...errors },
      }),
      async (c) => {
        // Switching on makes mail go out; stopping only needs write.
        const tenant = requireTenant(c, active ? "send" : "write");
        const r = await setRuleActive(deps, tenant.id, c.req.valid("param").id, active, actorOf(c));
        return c.json(jsonify(r), 200);
      },
    );
  }

  app.openapi(
    createRoute({
      method: "delete",
      path: "/rules/{id}",
      tags,
      security: bearer,
      summary: "Delete a rule and its run history (the sends stay)",
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      await deleteRule(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/rules/{id}/runs",
      tags,
      security: bearer,
      summary: "A rule's runs (recurring) or triggered sends, newest first, with counts",
      request: { params: IdParam },
      responses: { 200: json(z.object({ items: z.array(RunSchema) }), "Runs"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const rows = await listRuns(deps, tenant.id, c.req.valid("param").id);
      const l = c.get("locale");
      return c.json({
        items: rows.map((r) =>
          jsonify({
            ...r,
            reason_params: r.reason_params ?? null,
            reason_message: r.reason ? reasonText(l, r.reason, r.reason_params) : null,
          })
        ),
      }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/waiting-periods",
      tags,
      security: bearer,
      summary: "Waiting periods per mailing",
      responses: { 200: json(z.object({ items: z.array(WaitingSchema) }), "Periods"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const rows = await listWaitingPeriods(deps, tenant.id);
      return c.json({
        items: rows.map((r) => ({ mailing_id: r.mailing_id, days: Number(r.days) })),
      }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/waiting-periods",
      tags,
      security: bearer,
      summary: "Set a mailing's waiting period in days (null removes it)",
      request: { body: body(WaitingPeriodInput) },
      responses: { 200: json(WaitingSchema, "The waiting period"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "send");
      return c.json(
        await setWaitingPeriod(deps, tenant.id, c.req.valid("json"), actorOf(c)),
        200,
      );
    },
    validationHook,
  );
}
