// Interactive API docs (Swagger UI) served from the installed package: no CDN, works offline.
import type { OpenAPIHono } from "@hono/zod-openapi";

const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
};

const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Skicka API</title><link rel="stylesheet" href="docs/swagger-ui.css"></head>
<body><div id="ui"></div><script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script></body></html>`;

const init =
  `window.ui = SwaggerUIBundle({ url: "openapi.json", dom_id: "#ui", deepLinking: true });`;

export function docsRoutes(app: OpenAPIHono): void {
  const base = new URL(".", import.meta.resolve("swagger-ui-dist"));
  const cache = new Map<string, Uint8Array>();
  app.get("/docs", (c) => c.html(page));
  app.get("/docs/init.js", (c) => c.body(init, 200, { "content-type": "text/javascript" }));
  app.get("/docs/:file", async (c) => {
    const file = c.req.param("file");
    const type = ASSETS[file];
    if (!type) return c.notFound();
    let bytes = cache.get(file);
    if (!bytes) {
      bytes = await Deno.readFile(new URL(file, base));
      cache.set(file, bytes);
    }
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      "content-type": type,
      "cache-control": "public, max-age=86400",
    });
  });
}
