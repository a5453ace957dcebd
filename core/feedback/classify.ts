// Bounce classification: an SMTP reply or DSN status → hard, soft or policy, with a reason code.
// Pure; the enhanced status code (RFC 3463) decides where it is specific, the wording where the
// code is generic (5.0.0, 5.5.0) or missing, as it often is in old and non-standard bounces.

export type BounceClass = "hard" | "soft" | "policy";

/** Our reason taxonomy; stored in bounces.reason and person_addresses.undeliverable_reason. */
export const REASONS = [
  "unknown_user",
  "no_domain",
  "bad_address",
  "mailbox_disabled",
  "mailbox_full",
  "message_too_large",
  "temporary",
  "expired",
  "spam_blocked",
  "reputation",
  "auth_failed",
  "rate_limited",
  "policy",
  "other_permanent",
] as const;
export type Reason = (typeof REASONS)[number];

export interface Classification {
  kind: BounceClass;
  reason: Reason;
  /** The enhanced status code found (or inferred from the basic code), e.g. "5.1.1". */
  status: string | null;
}

// Not inside an IP address or a longer dotted number (Yahoo's "4.16.55.1").
const ENHANCED = /(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)/;
const BASIC = /^\s*([245])\d\d\b/;

/** Text patterns, most specific first; each says what it means regardless of the code. */
const TEXT: [RegExp, BounceClass, Reason][] = [
  [/\b(dmarc|spf|dkim)\b|unauthenticated|authentication (check )?fail/i, "policy", "auth_failed"],
  [
    /\b(spam|unsolicited|junk|blacklist|blocklist|block ?list|spamhaus|spamcop|barracuda|rbl|dnsbl)\b|content (was )?rejected|\bUBE\b/i,
    "policy",
    "spam_blocked",
  ],
  [/reputation|poor sender|low sender|\bTSS0\d\b|complaints|\bblocked\b/i, "policy", "reputation"],
  [
    /rate limit|too many (messages|connections|recipients)|unexpected volume/i,
    "policy",
    "rate_limited",
  ],
  [
    /over ?quota|quota exceeded|mailbox (is )?full|mailbox size limit|insufficient (system )?storage|exceeded storage/i,
    "soft",
    "mailbox_full",
  ],
  [
    /(account|mailbox|user) (has been |is )?(disabled|deactivated|inactive|suspended|locked)|account that you tried to reach is disabled/i,
    "hard",
    "mailbox_disabled",
  ],
  [
    /(host|domain)( name)? not found|no such domain|domain (does not|doesn't) exist|\bNXDOMAIN\b|no mx|name or service not known|unrouteable address|unable to route/i,
    "hard",
    "no_domain",
  ],
  [
    /user unknown|unknown user|no such (user|recipient|mailbox|address)|(user|recipient|mailbox|address)( \S+)? (does not|doesn't) (exist|have)|does not exist|recipient not found|invalid (recipient|mailbox)|mailbox (unavailable|not found)|not our customer|no mailbox here|account .{0,40}(not exist|not found)|recipient address rejected|RESOLVER\.ADR\.RecipNotFound|unknown (local part|recipient)|is not a valid mailbox|not listed in/i,
    "hard",
    "unknown_user",
  ],
  [
    /message (size|is too large)|too big|size (limit|exceeds)|message length exceeds/i,
    "soft",
    "message_too_large",
  ],
  [/timed? ?out|retry time|expired|too long in (the )?queue|giving up/i, "soft", "expired"],
];

/** By enhanced status code: subject.detail → class and reason; generic codes fall to the text. */
function byCode(cls: string, subject: number, detail: number): [BounceClass, Reason] | null {
  const permanent = cls === "5";
  if (subject === 7) {
    if (detail === 1 && !permanent) return ["policy", "policy"];
    if ([23, 24, 25, 26, 27, 7, 20, 21, 22].includes(detail)) return ["policy", "auth_failed"];
    return ["policy", "policy"];
  }
  if (!permanent) {
    if (subject === 2 && detail === 2) return ["soft", "mailbox_full"];
    if (subject === 4 && detail === 7) return ["soft", "expired"];
    return ["soft", "temporary"];
  }
  if (subject === 1) {
    if (detail === 1 || detail === 0 || detail === 10) return ["hard", "unknown_user"];
    if (detail === 2) return ["hard", "no_domain"];
    if (detail === 3) return ["hard", "bad_address"];
    if (detail === 6) return ["hard", "unknown_user"];
    return ["hard", "bad_address"];
  }
  if (subject === 2) {
    if (detail === 1) return ["hard", "mailbox_disabled"];
    if (detail === 2) return ["soft", "mailbox_full"];
    if (detail === 3) return ["soft", "message_too_large"];
    return null;
  }
  if (subject === 3 && detail === 4) return ["soft", "message_too_large"];
  if (subject === 4) {
    if (detail === 4) return ["hard", "no_domain"];
    if (detail === 7) return ["soft", "expired"];
    if (detail === 1) return null; // Office 365's "Recipient address rejected" comes as 5.4.1
    return ["soft", "temporary"];
  }
  return null;
}

/**
 * Classifies one failure from its enhanced status (may be null), the text (SMTP reply or
 * Diagnostic-Code) and, for DSNs, the Action (delayed is always soft).
 */
export function classify(
  input: { status?: string | null; text?: string | null; action?: string | null },
): Classification {
  const text = (input.text ?? "").replace(/\s+/g, " ");
  const m = ENHANCED.exec(input.status ?? "") ?? ENHANCED.exec(text);
  const basic = BASIC.exec(text);
  const cls = m?.[1] ?? basic?.[1] ?? null;
  let status = m ? `${m[1]}.${Number(m[2])}.${Number(m[3])}` : null;
  const delayed = /^delayed$/i.test(input.action?.trim() ?? "");

  const fromText = TEXT.find(([re]) => re.test(text));
  let result: [BounceClass, Reason] | null = m ? byCode(m[1]!, Number(m[2]), Number(m[3])) : null;
  // Generic codes say little and the wording says more; and a block for spam or reputation is
  // no invalid mailbox, whatever code the receiver chose for it.
  if (
    fromText &&
    (!result || (fromText[1] === "policy" && (result[0] !== "policy" || result[1] === "policy")))
  ) {
    result = [fromText[1], fromText[2]];
  }
  result ??= cls === "5" ? ["hard", "other_permanent"] : ["soft", "temporary"];
  if (!status && cls) status = `${cls}.0.0`;
  // A temporary code never makes a hard bounce, whatever the wording says.
  if ((cls === "4" || delayed) && result[0] === "hard") result = ["soft", "temporary"];
  return { kind: result[0], reason: result[1], status };
}
