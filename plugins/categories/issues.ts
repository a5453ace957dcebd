// Says the plugin's field issues in the reader's language: a refinement of ours carries a code
// (params.code) whose message is "categories.issue.<code>"; zod's own issues are said by the
// core (zodMessage), and AppError issues without a message by the core's catalogue.
import { z } from "zod";
import { AppError, type FieldIssue } from "../../core/errors.ts";
import { zodMessage } from "../../core/http/errors.ts";
import { type Locale, t } from "../../core/i18n/mod.ts";

/** A ZodError of the plugin's schemas as a validation AppError with messages in `locale`. */
export function localized(err: unknown, locale: Locale): unknown {
  if (!(err instanceof z.ZodError)) return err;
  const details: FieldIssue[] = err.issues.map((i) => {
    const path = i.path.join(".") || "(body)";
    const own = i.code === "custom" ? (i.params as { code?: string } | undefined)?.code : undefined;
    if (own) return { path, code: own, message: t(locale, `categories.issue.${own}`) };
    return { path, code: i.code, message: zodMessage(i, locale) };
  });
  return new AppError("validation", {}, details);
}

/** Runs fn; a validation error comes out in the reader's language. */
export async function speaking<T>(locale: Locale, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw localized(e, locale);
  }
}
