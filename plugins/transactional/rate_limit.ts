// Per-tenant request limit of the sending API: a token bucket per tenant in this process
// (API_SEND_RATE); over it, 429 with Retry-After, and nothing is queued.
import type { MiddlewareHandler } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { AppError } from "../../core/errors.ts";
import { RateLimiter } from "../../core/send/rate_limiter.ts";

export function sendRateLimit(deps: Pick<AppDeps, "config">): MiddlewareHandler {
  const limit = deps.config.apiSendRate;
  const buckets = limit ? new RateLimiter({ defaultLimit: limit }) : null;
  return async function sendRateLimit(c, next) {
    const auth = c.get("auth");
    // requirePlugin ran before: the caller is a tenant's (the scope is the route's check).
    if (buckets && c.req.method === "POST" && (auth?.kind === "api_key" || auth?.kind === "user")) {
      const waitMs = buckets.take(auth.tenant.id);
      if (waitMs > 0) {
        const seconds = Math.max(1, Math.ceil(waitMs / 1000));
        throw new AppError("rate_limited", { seconds }, undefined, {
          "Retry-After": String(seconds),
        });
      }
    }
    await next();
  };
}
