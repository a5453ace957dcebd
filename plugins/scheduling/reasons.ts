// Why a scheduled mailing did not start, kept as a code with parameters (never as English text)
// and said in the reader's language: the plugin's own reasons from its catalogue
// ("scheduling.reason.<code>"), a refusal of the core by its error code and field issues.
import { type AppError, type ErrorCode, ERRORS, type FieldIssue } from "../../core/errors.ts";
import { localizeIssues } from "../../core/http/errors.ts";
import { type Locale, type Params, t } from "../../core/i18n/mod.ts";

/** The plugin's own reasons; a core refusal is stored under its ErrorCode instead. */
export type OwnReason =
  | "mailing_deleted"
  | "draft_again"
  | "plugin_not_enabled"
  | "tenant_suspended"
  | "attempts_exhausted"
  | "start_failed";

export interface ReasonParams {
  params?: Params;
  issues?: { path: string; code: string }[];
}

export interface Reason {
  code: OwnReason | ErrorCode;
  params?: ReasonParams;
}

/** The reason an AppError gives: its code, parameters and field issues (path and code only). */
export function reasonOf(e: AppError): Reason {
  const issues = Array.isArray(e.details)
    ? (e.details as FieldIssue[]).map((d) => ({ path: String(d.path), code: String(d.code) }))
    : undefined;
  const params = Object.keys(e.params).length ? e.params : undefined;
  return {
    code: e.code,
    ...(params || issues?.length
      ? { params: { params, ...(issues?.length ? { issues } : {}) } }
      : {}),
  };
}

/** A stored reason in the reader's language. */
export function reasonText(
  l: Locale,
  code: string,
  extra: ReasonParams | null | undefined,
): string {
  const params = extra?.params ?? {};
  const own = `scheduling.reason.${code}`;
  let text = t(l, own, params);
  if (text === own) {
    text = code in ERRORS
      ? t(l, ERRORS[code as ErrorCode].message, params)
      : t(l, "scheduling.reason.start_failed");
  }
  const issues = localizeIssues(l, (extra?.issues ?? []).map((i) => ({ ...i, message: "" })));
  return issues.length
    ? `${text} ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`
    : text;
}
