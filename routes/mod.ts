// Builds the whole HTTP application: health probes, static assets, the API and the staff UI.
import { Hono } from "hono";
import { sql } from "kysely";
import type { AppDeps } from "../core/deps.ts";
import { requestContext } from "../core/http/context.ts";
import { jsonError } from "../core/http/errors.ts";
import { apiRoutes } from "./api/mod.ts";
import { uiRoutes } from "./ui/mod.tsx";

export async function buildApp(deps: AppDeps): Promise<Hono> {
  const app = new Hono();
  app.use("*", requestContext(deps));
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.get("/readyz", async (c) => {
    try {
      await sql`select 1`.execute(deps.db);
      return c.json({ ok: true, database: deps.database.kind });
    } catch {
      return c.json({ ok: false, database: deps.database.kind }, 503);
    }
  });
  app.route("/api/v1", apiRoutes(deps));
  app.route("/", await uiRoutes(deps));
  app.onError((err, c) => jsonError(c, err));
  return app;
}
