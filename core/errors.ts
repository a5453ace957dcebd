// One catalogue of error codes: each has an HTTP status and a message in the catalogue.
import type { MessageKey, Params } from "./i18n/mod.ts";

export const ERRORS = {
  validation: { status: 400, message: "error.validation" },
  bad_cursor: { status: 400, message: "error.bad_cursor" },
  unknown_addon: { status: 400, message: "error.unknown_addon" },
  password_weak: { status: 400, message: "error.password_weak" },
  address_invalid: { status: 400, message: "error.address_invalid" },
  unauthenticated: { status: 401, message: "error.unauthenticated" },
  api_key_invalid: { status: 401, message: "error.api_key_invalid" },
  login_failed: { status: 401, message: "error.login_failed" },
  forbidden: { status: 403, message: "error.forbidden" },
  csrf: { status: 403, message: "error.csrf" },
  plugin_not_enabled: { status: 403, message: "error.plugin_not_enabled" },
  tenant_suspended: { status: 403, message: "error.tenant_suspended" },
  not_found: { status: 404, message: "error.not_found" },
  link_invalid: { status: 404, message: "error.link_invalid" },
  conflict: { status: 409, message: "error.conflict" },
  slug_taken: { status: 409, message: "error.slug_taken" },
  email_taken: { status: 409, message: "error.email_taken" },
  address_taken: { status: 409, message: "error.address_taken" },
  address_taken_self: { status: 409, message: "error.address_taken_self" },
  person_not_active: { status: 409, message: "error.person_not_active" },
  lifecycle_not_allowed: { status: 409, message: "error.lifecycle_not_allowed" },
  idempotency_in_progress: { status: 409, message: "error.idempotency_in_progress" },
  idempotency_mismatch: { status: 422, message: "error.idempotency_mismatch" },
  send_skipped: { status: 409, message: "error.send_skipped" },
  rate_limited: { status: 429, message: "error.rate_limited" },
  internal: { status: 500, message: "error.internal" },
} as const satisfies Record<string, { status: number; message: MessageKey }>;

export type ErrorCode = keyof typeof ERRORS;

/** A field-level problem: which field, and a machine code plus readable message. */
export interface FieldIssue {
  path: string;
  code: string;
  message: string;
}

/** An expected failure with a catalogue code; anything else thrown becomes `internal`. */
export class AppError extends Error {
  override name = "AppError";
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly params: Params = {},
    readonly details?: FieldIssue[] | Record<string, unknown>,
    /** Extra response headers, e.g. Retry-After. */
    readonly headers: Record<string, string> = {},
  ) {
    super(`${code}${Object.keys(params).length ? " " + JSON.stringify(params) : ""}`);
    this.status = ERRORS[code].status;
  }
}
