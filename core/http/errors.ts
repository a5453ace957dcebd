// Turns anything thrown in a route into the one error body: { error: { code, message, details } }.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import { AppError, type ErrorCode, ERRORS, type FieldIssue } from "../errors.ts";
import { type Locale, t } from "../i18n/mod.ts";

export function zodIssues(error: z.ZodError, locale: Locale = "en"): FieldIssue[] {
  return error.issues.map((i) => ({
    path: i.path.join(".") || "(body)",
    code: i.code,
    message: zodMessage(i, locale),
  }));
}

/**
 * Zod's own wording is English; the common issue kinds are said from the catalogue instead.
 * Messages a schema sets itself (formats, refinements) are kept as written.
 */
export function zodMessage(i: z.core.$ZodIssue, locale: Locale): string {
  const p = i as unknown as Record<string, unknown>;
  switch (i.code) {
    case "invalid_type":
      return p.input === undefined
        ? t(locale, "zod.required")
        : t(locale, "zod.invalid_type", { expected: String(p.expected) });
    case "too_small":
    case "too_big": {
      const bound = String(i.code === "too_small" ? p.minimum : p.maximum);
      const origin = String(p.origin);
      const kind = origin === "string" ? "chars" : origin === "array" ? "items" : "value";
      return t(locale, `zod.${i.code}.${kind}`, { n: bound });
    }
    case "invalid_value":
      return t(locale, "zod.invalid_value", {
        values: ((p.values as unknown[]) ?? []).map(String).join(", "),
      });
    case "unrecognized_keys":
      return t(locale, "zod.unrecognized_keys", {
        keys: ((p.keys as string[]) ?? []).join(", "),
      });
    default:
      return i.message;
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

/** Fills empty field-issue messages from the catalogue (`issue.<code>`), in the reader's language. */
export function localizeIssues<T>(locale: Locale, details: T): T {
  if (!Array.isArray(details)) return details;
  return details.map((d: FieldIssue) => {
    if (d.message) return d;
    const key = `issue.${d.code}`;
    const text = t(locale, key);
    return { ...d, message: text === key ? d.code : text };
  }) as T;
}

/** Maps an error to status, headers and body, localised for the request. */
export function toErrorResponse(
  c: Context,
  err: unknown,
): { status: number; body: ErrorBody; headers: Record<string, string> } {
  const locale = c.get("locale") ?? "en";
  if (err instanceof AppError) {
    return {
      status: err.status,
      headers: err.headers,
      body: {
        error: {
          code: err.code,
          message: t(locale, ERRORS[err.code].message, err.params),
          ...(err.details ? { details: localizeIssues(locale, err.details) } : {}),
        },
      },
    };
  }
  if (err instanceof z.ZodError) {
    return {
      status: 400,
      headers: {},
      body: {
        error: {
          code: "validation",
          message: t(locale, "error.validation"),
          details: zodIssues(err, locale),
        },
      },
    };
  }
  if (err instanceof HTTPException && err.status < 500) {
    const code: ErrorCode = err.status === 404
      ? "not_found"
      : err.status === 401
      ? "unauthenticated"
      : "validation";
    return {
      status: err.status,
      headers: {},
      body: { error: { code, message: t(locale, ERRORS[code].message) } },
    };
  }
  const requestId = c.get("requestId") ?? "";
  c.get("log")?.error("unhandled error", {
    error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    stack: err instanceof Error ? err.stack : undefined,
  });
  return {
    status: 500,
    headers: {},
    body: { error: { code: "internal", message: t(locale, "error.internal", { requestId }) } },
  };
}

export function jsonError(c: Context, err: unknown): Response {
  const { status, body, headers } = toErrorResponse(c, err);
  for (const [k, v] of Object.entries(headers)) c.header(k, v);
  return c.json(body, status as 400);
}
