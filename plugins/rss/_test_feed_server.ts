// A local feed server for the rss tests: serves fixtures and changeable feeds with ETag and
// Last-Modified (answering 304 to a matching If-None-Match), and misbehaves on request: slow,
// huge, endless redirects. Every request is logged with its conditional headers.

export interface FeedRequest {
  path: string;
  ifNoneMatch: string | null;
  ifModifiedSince: string | null;
}

const LAST_MODIFIED = "Tue, 24 Nov 2026 08:00:00 GMT";

export function feedServer() {
  const feeds = new Map<string, string | Uint8Array<ArrayBuffer>>();
  const log: FeedRequest[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    log.push({
      path,
      ifNoneMatch: req.headers.get("if-none-match"),
      ifModifiedSince: req.headers.get("if-modified-since"),
    });
    if (path === "/slow.xml") {
      // Answers only after the client has long given up.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5_000);
        req.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        });
      });
      return new Response("<rss/>", { headers: { "content-type": "application/rss+xml" } });
    }
    if (path === "/huge.xml") {
      // A well-formed start, then item after item: 8 MB without a Content-Length.
      const item = new TextEncoder().encode(
        `<item><title>${"x".repeat(1000)}</title></item>\n`,
      );
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(ctrl) {
          if (sent === 0) ctrl.enqueue(new TextEncoder().encode('<rss version="2.0"><channel>'));
          if (sent > 8 * 1024 * 1024) {
            ctrl.enqueue(new TextEncoder().encode("</channel></rss>"));
            ctrl.close();
            return;
          }
          ctrl.enqueue(item);
          sent += item.byteLength;
        },
      });
      return new Response(body, { headers: { "content-type": "application/rss+xml" } });
    }
    const hop = /^\/hop\/(\d+)$/.exec(path);
    if (hop) {
      const n = Number(hop[1]);
      const location = n > 0 ? `/hop/${n - 1}` : "/university_news.xml";
      return new Response(null, { status: 302, headers: { location } });
    }
    const body = feeds.get(path);
    if (body === undefined) return new Response("not found", { status: 404 });
    const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
    const digest = await crypto.subtle.digest("SHA-1", bytes);
    const etag = `"${
      Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("")
    }"`;
    if (req.headers.get("if-none-match") === etag) {
      return new Response(null, { status: 304, headers: { etag } });
    }
    return new Response(bytes, {
      headers: { "content-type": "application/rss+xml", etag, "last-modified": LAST_MODIFIED },
    });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  return {
    base,
    log,
    lastModified: LAST_MODIFIED,
    /** Serves `body` at `path` from now on (a changed body gets a new ETag). */
    set(path: string, body: string | Uint8Array<ArrayBuffer>) {
      feeds.set(path, body);
    },
    async fixture(name: string) {
      const bytes = await Deno.readFile(
        new URL(`../../tests/fixtures/rss/${name}`, import.meta.url),
      );
      feeds.set(`/${name}`, bytes);
      return `${base}/${name}`;
    },
    close: () => server.shutdown(),
  };
}

/** An RSS 2.0 document with these items, newest first. */
export function rssDocument(title: string, items: { guid: string; title: string; date: string }[]) {
  const entries = items.map((i) =>
    `<item><title>${i.title}</title><link>https://news.example/${i.guid}</link>` +
    `<guid>${i.guid}</guid><pubDate>${new Date(i.date).toUTCString()}</pubDate>` +
    `<description>About ${i.title}.</description></item>`
  ).join("\n");
  return `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>${title}</title>` +
    `<link>https://news.example/</link>${entries}</channel></rss>`;
}
