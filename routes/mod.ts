// Builds the whole HTTP application: health probes, static assets, the API and the staff UI.
import { Hono } from "hono";
import { sql } from "kysely";
import type { AppDeps } from "../core/deps.ts";
import { requestContext } from "../core/http/context.ts";
import { jsonError } from "../core/http/errors.ts";
import { apiRoutes } from "./api/mod.ts";
import { unsubscribeRoutes } from "./public/unsubscribe.tsx";
import { trackingRoutes } from "./public/tracking.ts";
import { viewRoutes } from "./public/view.ts";
import { errorPage, uiRoutes } from "./ui/mod.tsx";
import { AppError } from "../core/errors.ts";

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
  unsubscribeRoutes(app, deps); // public, before the UI: no session, no CSRF
  app.route("/", trackingRoutes(deps)); // public: open pixel and click redirects
  app.route("/", viewRoutes(deps)); // public: a message as a web page (view in browser)
  app.route("/", await uiRoutes(deps));
  // Unmatched paths reach the top app: JSON for API clients, a page (with the menu) for people.
  app.notFound((c) =>
    c.req.path.startsWith("/api/")
      ? jsonError(c, new AppError("not_found"))
      : errorPage(c, deps, new AppError("not_found"))
  );
  app.onError((err, c) => jsonError(c, err));
  return app;
}
