// Says the plugin's field issues in the reader's language: the core fills `issue.<code>` from
// its own catalogue, so issues of ours get their message here, before they leave the plugin.
import { AppError } from "../../core/errors.ts";
import { type Locale, t } from "../../core/i18n/mod.ts";
import type { SchedulingIssue } from "./schedules.ts";

export function localized(err: unknown, locale: Locale): unknown {
  if (!(err instanceof AppError) || !Array.isArray(err.details)) return err;
  const details = (err.details as SchedulingIssue[]).map((d) => {
    if (d.message) return d;
    const key = `scheduling.issue.${d.code}`;
    const text = t(locale, key, d.params);
    const { params: _, ...rest } = d;
    return text === key ? rest : { ...rest, message: text };
  });
  return new AppError(err.code, err.params, details, err.headers);
}

/** Runs fn; an error comes out with the plugin's issues in the reader's language. */
export async function speaking<T>(locale: Locale, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw localized(e, locale);
  }
}
