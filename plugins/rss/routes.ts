// API of the rss plugin, at /api/v1/rss: the tenant's feeds, their items, and "fetch now".
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../core/deps.ts";
import { AppError } from "../../core/errors.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { jsonify } from "../../core/http/json.ts";
import {
  bearer,
  body,
  commonErrors,
  IdempotencyHeader,
  IdParam,
  json,
} from "../../routes/api/schemas.ts";
import { createFeed, deleteFeed, FeedCreate, feedItems, getFeed, listFeeds } from "./store.ts";
import { refreshFeedNow } from "./refresh.ts";

const tags = ["RSS feeds"];

const FeedSchema = z.object({
  id: z.string(),
  slug: z.string().openapi({ description: "Used in mailings: {{#each rss.<slug>.items}}" }),
  url: z.string(),
  title: z.string(),
  site_url: z.string().nullable(),
  last_fetch_at: z.string().nullable(),
  last_status: z.enum(["ok", "not_modified", "error"]).nullable(),
  last_error: z.string().nullable().openapi({
    description: "Why the last fetch failed: network (could not connect), timeout, too_large, " +
      "too_many_redirects, not_a_feed, http_status:<status> or unexpected",
  }),
  next_fetch_at: z.string(),
  created_at: z.string(),
  item_count: z.number().int(),
}).openapi("RssFeed");

const ItemSchema = z.object({
  id: z.string(),
  guid: z.string(),
  title: z.string(),
  link: z.string().nullable(),
  summary: z.string(),
  content_html: z.string().openapi({ description: "Sanitised HTML" }),
  image: z.string().nullable(),
  published_at: z.string().nullable(),
  first_seen_at: z.string(),
}).openapi("RssItem");

const FetchResultSchema = z.object({
  status: z.enum(["ok", "not_modified", "error"]),
  added: z.number().int(),
  error: z.string().optional().openapi({ description: "As the feed's last_error" }),
  feed: FeedSchema,
}).openapi("RssFetchResult");

export function rssRoutes(app: OpenAPIHono, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/",
      tags,
      security: bearer,
      summary: "The tenant's feeds with their last fetch status",
      responses: {
        200: json(z.object({ items: z.array(FeedSchema) }).openapi("RssFeedList"), "Feeds"),
        ...commonErrors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      return c.json({ items: (await listFeeds(deps, tenant.id)).map(jsonify) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/",
      tags,
      security: bearer,
      summary: "Add a feed (RSS 2.0 or Atom) and fetch it once",
      request: { headers: IdempotencyHeader, body: body(FeedCreate) },
      responses: { 201: json(FetchResultSchema, "The feed and its first fetch"), ...commonErrors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const feed = await createFeed(deps, tenant.id, c.req.valid("json"), actorOf(c));
      const r = await refreshFeedNow(deps, tenant.id, feed.id);
      return c.json({ ...r!, feed: jsonify(await getFeed(deps, tenant.id, feed.id)) }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/{id}",
      tags,
      security: bearer,
      summary: "One feed",
      request: { params: IdParam },
      responses: { 200: json(FeedSchema, "The feed"), ...commonErrors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      return c.json(jsonify(await getFeed(deps, tenant.id, c.req.valid("param").id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/{id}/items",
      tags,
      security: bearer,
      summary: "The feed's newest stored items (at most 50)",
      request: { params: IdParam },
      responses: {
        200: json(z.object({ items: z.array(ItemSchema) }).openapi("RssItemList"), "Items"),
        ...commonErrors,
      },
    }),
    async (c) => {
      const tenant = requireTenant(c, "read");
      const feed = await getFeed(deps, tenant.id, c.req.valid("param").id);
      const items = await feedItems(deps, tenant.id, feed.id, { limit: 50 });
      return c.json({ items: items.map(jsonify) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/{id}/fetch",
      tags,
      security: bearer,
      summary: "Fetch the feed now (conditional: an unchanged feed answers not_modified)",
      request: { params: IdParam },
      responses: { 200: json(FetchResultSchema, "What the fetch found"), ...commonErrors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      const id = c.req.valid("param").id;
      await getFeed(deps, tenant.id, id);
      const r = await refreshFeedNow(deps, tenant.id, id);
      if (!r) throw new AppError("not_found");
      return c.json({ ...r, feed: jsonify(await getFeed(deps, tenant.id, id)) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/{id}",
      tags,
      security: bearer,
      summary: "Remove a feed and its items (mailings naming it are not sent until changed)",
      request: { params: IdParam },
      responses: { 204: { description: "Removed" }, ...commonErrors },
    }),
    async (c) => {
      const tenant = requireTenant(c, "write");
      await deleteFeed(deps, tenant.id, c.req.valid("param").id, actorOf(c));
      return c.body(null, 204);
    },
  );
}
