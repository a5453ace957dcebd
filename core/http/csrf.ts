// CSRF protection for the staff UI: every state-changing form carries a token bound to the session.
import type { MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { AppDeps } from "../deps.ts";
import { hmacSigner, randomToken, timingSafeEqual } from "../crypto.ts";
import { AppError } from "../errors.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** Put in every form as the hidden field "_csrf". */
    csrfToken: string;
  }
}

export const CSRF_FIELD = "_csrf";
const PRE_COOKIE = "skicka_pre";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The token is an HMAC of the session id, or, before login, of a random cookie; a page of
 * another site can neither read it nor compute it. Runs after session authentication.
 */
export async function csrfProtection(deps: AppDeps): Promise<MiddlewareHandler> {
  const sign = await hmacSigner(`${deps.secret}|csrf`);
  return async function csrfProtection(c, next) {
    const auth = c.get("auth");
    let binding = auth && "sessionId" in auth ? `s:${auth.sessionId}` : "";
    if (!binding) {
      let pre = getCookie(c, PRE_COOKIE);
      if (!pre || !/^[\w-]{20,64}$/.test(pre)) {
        pre = randomToken(24);
        setCookie(c, PRE_COOKIE, pre, {
          httpOnly: true,
          sameSite: "Lax",
          secure: deps.config.cookieSecure,
          path: "/",
        });
      }
      binding = `p:${pre}`;
    }
    const expected = await sign(binding);
    c.set("csrfToken", expected);
    if (!SAFE.has(c.req.method)) {
      let given = c.req.header("x-csrf-token") ?? "";
      if (!given) {
        const type = c.req.header("content-type") ?? "";
        if (type.includes("form")) {
          const form = await c.req.parseBody();
          const v = form[CSRF_FIELD];
          given = typeof v === "string" ? v : "";
        }
      }
      if (!given || !timingSafeEqual(given, expected)) throw new AppError("csrf");
    }
    await next();
  };
}
