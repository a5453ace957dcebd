// Import API: upload a CSV (streamed), map columns, dry run, real run, progress and report.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import { AppError } from "../../core/errors.ts";
import {
  createImport,
  getImport,
  ImportMapping,
  reportCsv,
  setMapping,
  startImport,
  suggestMapping,
} from "../../core/people/import.ts";
import { bearer, errorsWithConflict, IdParam, json } from "./schemas.ts";

const errors = errorsWithConflict("The import is not in a state for this step");

const ReportSchema = z.object({
  rows: z.number(),
  new_persons: z.number(),
  updated_persons: z.number(),
  matched_on_secondary: z.number(),
  conflicts: z.number(),
  invalid: z.number(),
  conflict_rows: z.array(z.object({
    line: z.number(),
    address: z.string(),
    persons: z.array(z.string()),
  })),
  invalid_rows: z.array(z.object({ line: z.number(), column: z.string(), reason: z.string() })),
}).openapi("ImportReport");

const ImportSchema = z.object({
  id: z.string(),
  filename: z.string(),
  size_bytes: z.number(),
  status: z.enum(["uploaded", "checking", "checked", "running", "done", "failed"]),
  mode: z.enum(["overwrite_primary", "add_additional"]),
  encoding: z.string().nullable(),
  delimiter: z.string().nullable(),
  headers: z.array(z.string()).nullable(),
  mapping: z.unknown().nullable(),
  suggested_mapping: z.unknown().optional(),
  rows_total: z.number().nullable(),
  rows_done: z.number(),
  report: ReportSchema.nullable(),
  error: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("Import");

/** The real run may also add everyone in the file to a list (ignored by the dry run). */
const RunBody = z.object({ list_id: z.uuid().optional() }).strict();

async function runBody(req: Request): Promise<z.output<typeof RunBody>> {
  const raw = await req.text();
  let body: unknown = {};
  try {
    if (raw.trim()) body = JSON.parse(raw);
  } catch {
    throw new AppError("validation", {}, [{ path: "body", code: "invalid_json", message: "" }]);
  }
  return RunBody.parse(body);
}

const tags = ["Import"];

export function importRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/imports",
      tags,
      security: bearer,
      summary: "Upload a CSV file as the request body (streamed; UTF-8 or Windows-1252, , or ;)",
      request: {
        query: z.object({
          filename: z.string().max(200).optional().openapi({
            param: { name: "filename", in: "query" },
          }),
        }),
        body: {
          content: { "text/csv": { schema: z.string().openapi({ format: "binary" }) } },
          required: true,
        },
      },
      responses: { 201: json(ImportSchema, "The upload, with a suggested mapping"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const body = c.req.raw.body;
      if (!body) {
        throw new AppError("validation", {}, [{ path: "body", code: "empty", message: "" }]);
      }
      const imp = await createImport(deps, tenant.id, {
        filename: c.req.valid("query").filename ?? "import.csv",
        body,
      }, actorOf(c));
      const suggested = await suggestMapping(deps, tenant.id, imp.headers ?? []);
      return c.json({ ...jsonify(imp), suggested_mapping: suggested }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/imports/{id}",
      tags,
      security: bearer,
      summary: "Status, progress (rows_done) and, once checked or run, the report",
      request: { params: IdParam },
      responses: { 200: json(ImportSchema, "The import"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      return c.json(jsonify(await getImport(deps, tenant.id, c.req.valid("param").id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/imports/{id}/mapping",
      tags,
      security: bearer,
      summary: "Set the column mapping and mode (remembered for the tenant's next import)",
      request: {
        params: IdParam,
        body: { content: { "application/json": { schema: ImportMapping } }, required: true },
      },
      responses: { 200: json(ImportSchema, "The import"), ...errors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const imp = await setMapping(
        deps,
        tenant.id,
        c.req.valid("param").id,
        c.req.valid("json"),
      );
      return c.json(jsonify(imp), 200);
    },
  );

  for (const [step, apply] of [["check", false], ["run", true]] as const) {
    app.openapi(
      createRoute({
        method: "post",
        path: `/imports/{id}/${step}`,
        tags,
        security: bearer,
        summary: apply
          ? "Run the import for real, in one transaction (after a dry run); poll for progress"
          : "Dry run: report new, updated, conflicting and invalid rows without changing data",
        description: apply
          ? 'Optional JSON body {"list_id": "…"}: also add everyone in the file to that list.'
          : undefined,
        request: { params: IdParam },
        responses: { 202: json(ImportSchema, "Started"), ...errors },
      }),
      async (c) => {
        const tenant = requireTenant(c, "write");
        const id = c.req.valid("param").id;
        // The real run's body is optional: without one, nobody is added to a list.
        const listId = apply ? (await runBody(c.req.raw)).list_id : undefined;
        await startImport(deps, tenant.id, id, { apply, listId }, actorOf(c));
        return c.json(jsonify(await getImport(deps, tenant.id, id)), 202);
      },
    );
  }

  app.openapi(
    createRoute({
      method: "get",
      path: "/imports/{id}/report.csv",
      tags,
      security: bearer,
      summary: "The report's invalid and conflicting rows as CSV",
      request: { params: IdParam },
      responses: {
        200: { description: "CSV", content: { "text/csv": { schema: z.string() } } },
        ...errors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const imp = await getImport(deps, tenant.id, c.req.valid("param").id);
      if (!imp.report) throw new AppError("not_found");
      return c.body(reportCsv(imp.report), 200, {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="import-report-${imp.id}.csv"`,
      });
    },
  );
}
