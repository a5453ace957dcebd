// The one error type of the SMTP client: where a delivery attempt broke and whether to retry.

/** The step of an SMTP session in which an error happened. */
export type SmtpPhase =
  | "connect"
  | "greeting"
  | "ehlo"
  | "tls"
  | "auth"
  | "mail"
  | "rcpt"
  | "data"
  | "timeout";

export interface SmtpErrorOptions {
  phase: SmtpPhase;
  /** The server's reply code, when the error is a reply. */
  code?: number;
  /** The enhanced status code (RFC 3463), e.g. "5.7.8", when the server gave one. */
  enhanced?: string;
  /** Whether a later attempt may succeed. Defaults to true unless the code is 5xx. */
  temporary?: boolean;
  /**
   * True when the whole message had been written but no final reply came: the server may have
   * accepted it, so resending risks a duplicate.
   */
  maybeDelivered?: boolean;
  /** For phase "timeout": the step that ran out of time. */
  during?: Exclude<SmtpPhase, "timeout">;
  cause?: unknown;
}

/** A failed session or transaction; per-recipient rejections are results, not errors. */
export class SmtpError extends Error {
  override name = "SmtpError";
  readonly phase: SmtpPhase;
  readonly code?: number;
  readonly enhanced?: string;
  readonly temporary: boolean;
  readonly maybeDelivered: boolean;
  readonly during?: Exclude<SmtpPhase, "timeout">;

  constructor(message: string, options: SmtpErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.phase = options.phase;
    this.code = options.code;
    this.enhanced = options.enhanced;
    this.temporary = options.temporary ?? !(options.code !== undefined && options.code >= 500);
    this.maybeDelivered = options.maybeDelivered ?? false;
    this.during = options.during;
  }
}
