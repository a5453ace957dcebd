// Idempotency-Key for POSTs that create things: a retry returns the first answer, nothing twice.
import type { MiddlewareHandler } from "hono";
import { sql } from "kysely";
import type { AppDeps } from "../deps.ts";
import { sha256Hex } from "../crypto.ts";
import { AppError } from "../errors.ts";

/** How long a key is remembered; clients may retry within this window. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
const KEY = /^[\x21-\x7e]{1,255}$/;

export function idempotency(deps: AppDeps): MiddlewareHandler {
  return async function idempotency(c, next) {
    const key = c.req.header("idempotency-key");
    if (!key || c.req.method !== "POST") return await next();
    if (!KEY.test(key)) {
      throw new AppError("validation", {}, [{
        path: "Idempotency-Key",
        code: "invalid",
        message: "1–255 visible ASCII characters",
      }]);
    }
    const auth = c.get("auth");
    const owner = auth?.kind === "user" || auth?.kind === "api_key"
      ? auth.tenant.id
      : auth?.kind === "operator" || auth?.kind === "operator_key"
      ? auth.operator.id
      : null;
    if (!owner) return await next();

    const body = await c.req.raw.clone().text();
    const requestHash = await sha256Hex(`${c.req.method} ${c.req.path}\n${body}`);
    const now = deps.clock();
    await deps.db.deleteFrom("idempotency_keys").where("owner_id", "=", owner)
      .where("key", "=", key).where("created_at", "<", new Date(now.getTime() - IDEMPOTENCY_TTL_MS))
      .execute();
    const claimed = await deps.db.insertInto("idempotency_keys").values({
      owner_id: owner,
      key,
      method: c.req.method,
      path: c.req.path,
      request_hash: requestHash,
      created_at: now,
    }).onConflict((oc) => oc.doNothing()).returning("key").executeTakeFirst();

    if (!claimed) {
      const prior = await deps.db.selectFrom("idempotency_keys")
        .select(["request_hash", "status", "response_body"])
        .where("owner_id", "=", owner).where("key", "=", key).executeTakeFirst();
      if (!prior) {
        throw new AppError("idempotency_in_progress", {}, undefined, { "Retry-After": "1" });
      }
      if (prior.request_hash !== requestHash) throw new AppError("idempotency_mismatch");
      if (prior.status === null) {
        throw new AppError("idempotency_in_progress", {}, undefined, { "Retry-After": "1" });
      }
      return new Response(prior.response_body, {
        status: prior.status,
        headers: { "content-type": "application/json", "idempotent-replayed": "true" },
      });
    }

    try {
      await next();
    } catch (e) {
      await release(deps, owner, key);
      throw e;
    }
    // Server errors are not remembered: the client should be able to retry them.
    if (c.res.status >= 500 || c.error) {
      await release(deps, owner, key);
      return;
    }
    await deps.db.updateTable("idempotency_keys").set({
      status: c.res.status,
      response_body: await c.res.clone().text(),
    }).where("owner_id", "=", owner).where("key", "=", key).execute();
  };
}

async function release(deps: AppDeps, owner: string, key: string) {
  await deps.db.deleteFrom("idempotency_keys").where("owner_id", "=", owner)
    .where("key", "=", key).execute();
}

export async function pruneIdempotencyKeys(deps: Pick<AppDeps, "db" | "clock">): Promise<void> {
  await deps.db.deleteFrom("idempotency_keys")
    .where("created_at", "<", sql<Date>`${new Date(deps.clock().getTime() - IDEMPOTENCY_TTL_MS)}`)
    .execute();
}
