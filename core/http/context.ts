// Typed request variables and the middleware that fills them: request id, logging, locale, auth.
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import type { AppDeps } from "../deps.ts";
import type { Logger } from "../log.ts";
import { isLocale, type Locale, negotiateLocale } from "../i18n/mod.ts";
import { readSession, type SessionAuth, type TenantInfo } from "../auth/sessions.ts";
import { type KeyAuth, type Scope, verifyApiKey } from "../auth/api_keys.ts";
import { AppError } from "../errors.ts";
import { uuidv7 } from "../db/ids.ts";

export type Auth = SessionAuth | KeyAuth;

declare module "hono" {
  interface ContextVariableMap {
    requestId: string;
    log: Logger;
    locale: Locale;
    timeZone: string;
    auth: Auth | null;
    /** The plugins the current tenant has (empty for operators and anonymous requests). */
    plugins: ReadonlySet<string>;
  }
}

export const SESSION_COOKIE = "skicka_session";

/** Request id (honouring a sane incoming X-Request-Id), a child logger and an access log line. */
export function requestContext(deps: AppDeps): MiddlewareHandler {
  return async function requestContext(c, next) {
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && /^[\w.-]{8,64}$/.test(incoming) ? incoming : uuidv7();
    const log = deps.log.child({ request_id: requestId });
    c.set("requestId", requestId);
    c.set("log", log);
    c.set("auth", null);
    c.set("plugins", new Set());
    c.set("locale", negotiateLocale(c.req.header("accept-language"), deps.config.defaultLocale));
    c.set("timeZone", deps.config.defaultTimeZone);
    const started = performance.now();
    await next();
    c.header("X-Request-Id", requestId);
    log.info("request", {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
  };
}

/** Resolves a session cookie (UI) or a Bearer key (API) into c.var.auth; never rejects by itself. */
export function authenticate(deps: AppDeps, mode: "session" | "bearer"): MiddlewareHandler {
  return async function authenticate(c, next) {
    let auth: Auth | null = null;
    if (mode === "bearer") {
      const header = c.req.header("authorization");
      if (header) {
        const m = /^Bearer\s+(\S+)$/i.exec(header);
        if (!m) throw new AppError("api_key_invalid");
        auth = await verifyApiKey(deps, m[1]!);
      }
    } else {
      const token = getCookie(c, SESSION_COOKIE);
      if (token) auth = await readSession(deps, token);
    }
    if (auth) {
      c.set("auth", auth);
      const prefs = preferences(auth);
      if (isLocale(prefs.locale)) c.set("locale", prefs.locale);
      if (prefs.timeZone) c.set("timeZone", prefs.timeZone);
      const tenant = tenantOfAuth(auth);
      if (tenant) c.set("plugins", deps.registry.enabledFor(tenant));
    }
    await next();
  };
}

function preferences(auth: Auth): { locale?: string | null; timeZone?: string | null } {
  switch (auth.kind) {
    case "operator":
      return { locale: auth.operator.locale, timeZone: auth.operator.time_zone };
    case "user":
      return {
        locale: auth.user.locale ?? auth.tenant.locale,
        timeZone: auth.user.time_zone ?? auth.tenant.time_zone,
      };
    case "api_key":
      return { locale: auth.tenant.locale, timeZone: auth.tenant.time_zone };
    case "operator_key":
      return {};
  }
}

function tenantOfAuth(auth: Auth): TenantInfo | null {
  return auth.kind === "user" || auth.kind === "api_key" ? auth.tenant : null;
}

/**
 * The tenant of the caller, for tenant-scoped routes; throws for anonymous and operator callers.
 * With an API key, the method decides the scope needed unless one is named.
 */
export function requireTenant(c: Context, scope?: Scope): TenantInfo {
  const auth = c.get("auth");
  if (!auth) throw new AppError("unauthenticated");
  if (auth.kind !== "user" && auth.kind !== "api_key") throw new AppError("forbidden");
  if (auth.tenant.status === "suspended") throw new AppError("tenant_suspended");
  if (auth.kind === "api_key") {
    const needed = scope ?? (c.req.method === "GET" || c.req.method === "HEAD" ? "read" : "write");
    if (!auth.scopes.includes(needed)) {
      throw new AppError("forbidden", {}, { required_scope: needed });
    }
  }
  return auth.tenant;
}

/** For actions only tenant admins may take (manage keys and users). */
export function requireTenantAdmin(c: Context): TenantInfo {
  const tenant = requireTenant(c, "admin");
  const auth = c.get("auth")!;
  if (auth.kind === "user" && auth.user.role !== "admin") throw new AppError("forbidden");
  return tenant;
}

export function requireOperator(c: Context): { id: string; email: string } {
  const auth = c.get("auth");
  if (!auth) throw new AppError("unauthenticated");
  if (auth.kind === "operator") return auth.operator;
  if (auth.kind === "operator_key") return auth.operator;
  throw new AppError("forbidden");
}

/** A short, stable actor label for the audit log. */
export function actorOf(c: Context): string {
  const auth = c.get("auth");
  switch (auth?.kind) {
    case "operator":
      return `operator:${auth.operator.email}`;
    case "operator_key":
      return `operator_key:${auth.keyId}`;
    case "user":
      return `user:${auth.user.id}`;
    case "api_key":
      return `api_key:${auth.keyId}`;
    default:
      return "system";
  }
}

/**
 * Gates a plugin's routes: tenants without it get 403 plugin_not_enabled. The API key scope is
 * each route's own check (requireTenant in the handler): a send-only key must reach a plugin's
 * sending route, which a method-based default ("write" for POST) would refuse.
 */
export function requirePlugin(name: string): MiddlewareHandler {
  return async function requirePlugin(c, next) {
    const auth = c.get("auth");
    if (!auth) throw new AppError("unauthenticated");
    if (auth.kind !== "user" && auth.kind !== "api_key") throw new AppError("forbidden");
    if (auth.tenant.status === "suspended") throw new AppError("tenant_suspended");
    if (!c.get("plugins").has(name)) throw new AppError("plugin_not_enabled", { plugin: name });
    await next();
  };
}
