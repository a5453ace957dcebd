// Form helpers for the staff UI: read fields, turn errors into text for the person filling the form.
import type { Context } from "hono";
import { z } from "zod";
import { AppError, ERRORS } from "../../core/errors.ts";
import { t } from "../../core/i18n/mod.ts";
import { localizeIssues, zodMessage } from "../../core/http/errors.ts";

export type Form = Record<string, string | string[]>;

export async function readForm(c: Context): Promise<Form> {
  const body = await c.req.parseBody({ all: true });
  const out: Form = {};
  for (const [k, v] of Object.entries(body)) {
    if (typeof v === "string") out[k] = v;
    else if (Array.isArray(v)) out[k] = v.filter((x): x is string => typeof x === "string");
  }
  return out;
}

export function field(form: Form, name: string): string {
  const v = form[name];
  return typeof v === "string" ? v : Array.isArray(v) ? v[0] ?? "" : "";
}

export function fields(form: Form, name: string): string[] {
  const v = form[name];
  return typeof v === "string" ? [v] : v ?? [];
}

/** A readable sentence naming each field that was wrong; unexpected errors are rethrown. */
export function errorText(c: Context, err: unknown): string {
  const l = c.get("locale");
  if (err instanceof z.ZodError) {
    const parts = err.issues.map((i) => `${i.path.join(".") || "form"}: ${zodMessage(i, l)}`);
    return `${t(l, "error.validation")} ${parts.join("; ")}`;
  }
  if (err instanceof AppError) {
    const base = t(l, ERRORS[err.code].message, err.params);
    if (Array.isArray(err.details)) {
      const parts = localizeIssues(l, err.details).filter((d) => d.message && d.code !== "holder")
        .map((d) => `${d.path}: ${d.message}`);
      return parts.length ? `${base} ${parts.join("; ")}` : base;
    }
    return base;
  }
  throw err;
}

/** Where to go after login: only a local path, never another site (no open redirect). */
export function safeNext(next: string | undefined | null): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  return next;
}
