// The UI's own assets, read once from static/ and served with caching; no CDN.
import type { Hono } from "hono";

const TYPES: Record<string, string> = {
  "app.css": "text/css; charset=utf-8",
  "segment_builder.js": "text/javascript; charset=utf-8",
};

export function staticAssets(app: Hono): void {
  const dir = new URL("../../static/", import.meta.url);
  const cache = new Map<string, Uint8Array<ArrayBuffer>>();
  app.get("/static/:file", async (c) => {
    const file = c.req.param("file");
    const type = TYPES[file];
    if (!type) return c.notFound();
    let bytes = cache.get(file);
    if (!bytes) {
      bytes = await Deno.readFile(new URL(file, dir));
      cache.set(file, bytes);
    }
    return c.body(bytes, 200, { "content-type": type, "cache-control": "public, max-age=3600" });
  });
}
