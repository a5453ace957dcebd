// Why a run or triggered send was skipped or failed: stored as a code plus parameters, said in
// the reader's language (automation.reason.<code>), never as an English sentence or raw error.
import { AppError, ERRORS, type FieldIssue } from "../../core/errors.ts";
import { type Locale, type Params, t } from "../../core/i18n/mod.ts";
import { fieldIssueText } from "./issues.ts";

/** Codes said by a message of their own; `vetoed` and `error` carry parameters. */
const SIMPLE = new Set(["missed", "stopped", "not_enabled", "tenant_suspended", "internal"]);

export interface Reason {
  code: string;
  params?: Record<string, unknown>;
}

/** The reason an error stands for. Unexpected errors are `internal` (the caller logs them). */
export function reasonOf(e: unknown): Reason {
  if (e instanceof AppError && e.code === "send_skipped") {
    const d = (e.details ?? {}) as { plugin?: string; reason?: string };
    return { code: "vetoed", params: { plugin: d.plugin ?? "", reason: d.reason ?? "" } };
  }
  if (e instanceof AppError) {
    const issues = Array.isArray(e.details)
      ? (e.details as FieldIssue[]).slice(0, 20).map((d) => ({ path: d.path, code: d.code }))
      : [];
    return { code: "error", params: { error: e.code, params: e.params, issues } };
  }
  return { code: "internal" };
}

/** A reason as text for the reader. Rows written before codes existed show as stored. */
export function reasonText(l: Locale, code: string | null, params: unknown): string {
  if (!code) return "";
  const p = (params ?? {}) as Record<string, unknown>;
  if (SIMPLE.has(code)) return t(l, `automation.reason.${code}`);
  if (code === "vetoed") {
    return t(l, "automation.reason.vetoed", {
      plugin: String(p.plugin ?? ""),
      reason: String(p.reason ?? ""),
    });
  }
  if (code === "error") {
    const err = String(p.error ?? "");
    const base = err in ERRORS
      ? t(l, ERRORS[err as keyof typeof ERRORS].message, (p.params ?? {}) as Params)
      : t(l, "automation.reason.internal");
    const issues = Array.isArray(p.issues) ? (p.issues as FieldIssue[]) : [];
    const parts = issues.map((i) => `${i.path}: ${fieldIssueText(l, i.code)}`);
    return parts.length ? `${base} ${parts.join("; ")}` : base;
  }
  return code;
}
