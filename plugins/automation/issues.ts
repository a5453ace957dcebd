// Says the plugin's field issues in the reader's language: refinements carry a code
// (params.code) instead of an English message, and issues the core catalogue does not know are
// said from automation.issue.<code>, before they leave the plugin (API and pages alike).
import type { Context } from "hono";
import { z } from "zod";
import { AppError, type FieldIssue } from "../../core/errors.ts";
import { type Locale, t } from "../../core/i18n/mod.ts";
import { zodMessage } from "../../core/http/errors.ts";

/** An issue code as text: the plugin's wording, else the core's, else the code itself. */
export function fieldIssueText(l: Locale, code: string): string {
  for (const key of [`automation.issue.${code}`, `issue.${code}`]) {
    const text = t(l, key);
    if (text !== key) return text;
  }
  return code;
}

function fromZod(e: z.ZodError, l: Locale): FieldIssue[] {
  return e.issues.map((i) => {
    const path = i.path.join(".") || "(body)";
    const code = i.code === "custom"
      ? String((i as { params?: { code?: unknown } }).params?.code ?? "custom")
      : i.code;
    return {
      path,
      code,
      message: i.code === "custom" ? fieldIssueText(l, code) : zodMessage(i, l),
    };
  });
}

/** The error with every field issue said in `l` (other errors pass through unchanged). */
export function localized(err: unknown, l: Locale): unknown {
  if (err instanceof z.ZodError) return new AppError("validation", {}, fromZod(err, l));
  if (!(err instanceof AppError) || !Array.isArray(err.details)) return err;
  const details = (err.details as FieldIssue[]).map((d) =>
    d.message ? d : { ...d, message: fieldIssueText(l, d.code) }
  );
  return new AppError(err.code, err.params, details, err.headers);
}

/** The routes' validation hook: a bad body is refused with the issues localized. */
export function validationHook(
  result: { success: true } | { success: false; error: z.ZodError },
  c: Context,
): undefined {
  if (!result.success) throw localized(result.error, c.get("locale"));
}
