import assert from "node:assert/strict";
import { classify } from "./classify.ts";

// [reply or diagnostic, DSN status, action] → [kind, reason, status]
const TABLE: [string, string | null, string | null, string, string, string | null][] = [
  [
    "550 5.1.1 <a@x.example>: Recipient address rejected: User unknown",
    null,
    null,
    "hard",
    "unknown_user",
    "5.1.1",
  ],
  [
    "smtp; 550-5.1.1 The email account that you tried to reach does not exist.",
    "5.1.1",
    "failed",
    "hard",
    "unknown_user",
    "5.1.1",
  ],
  [
    "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)",
    "5.4.1",
    "failed",
    "hard",
    "unknown_user",
    "5.4.1",
  ],
  [
    "554 delivery error: dd This user doesn't have a yahoo.com account",
    null,
    null,
    "hard",
    "unknown_user",
    "5.0.0",
  ],
  [
    "Host or domain name not found. Name service error for name=nx.example type=MX",
    "5.4.4",
    "failed",
    "hard",
    "no_domain",
    "5.4.4",
  ],
  ["550 5.1.2 Bad destination system address", null, null, "hard", "no_domain", "5.1.2"],
  ["553 5.1.3 Bad recipient address syntax", null, null, "hard", "bad_address", "5.1.3"],
  [
    "550-5.2.1 The email account that you tried to reach is disabled.",
    null,
    null,
    "hard",
    "mailbox_disabled",
    "5.2.1",
  ],
  [
    "552-5.2.2 The email account that you tried to reach is over quota",
    null,
    null,
    "soft",
    "mailbox_full",
    "5.2.2",
  ],
  ["452 4.2.2 Mailbox full", null, null, "soft", "mailbox_full", "4.2.2"],
  ["552 5.3.4 Message size exceeds fixed limit", null, null, "soft", "message_too_large", "5.3.4"],
  ["451 4.3.0 Temporary lookup failure", null, null, "soft", "temporary", "4.3.0"],
  ["Connection timed out", "4.4.1", "delayed", "soft", "temporary", "4.4.1"],
  ["550 5.1.1 user unknown", "5.1.1", "delayed", "soft", "temporary", "5.1.1"],
  [
    "550-5.7.1 Our system has detected that this message is likely unsolicited mail",
    null,
    null,
    "policy",
    "spam_blocked",
    "5.7.1",
  ],
  [
    "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
    null,
    null,
    "policy",
    "spam_blocked",
    "5.7.1",
  ],
  [
    "550 5.7.26 Unauthenticated email from x.example is not accepted due to domain's DMARC policy",
    null,
    null,
    "policy",
    "auth_failed",
    "5.7.26",
  ],
  [
    "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints",
    null,
    null,
    "policy",
    "reputation",
    "4.7.0",
  ],
  ["550 5.7.1 Delivery not authorized, message refused", null, null, "policy", "policy", "5.7.1"],
  [
    "554 5.0.0 Message rejected due to poor sender reputation",
    null,
    null,
    "policy",
    "reputation",
    "5.0.0",
  ],
  ["550 5.1.1 rejected: listed on blocklist", null, null, "policy", "spam_blocked", "5.1.1"],
  [
    "550 Requested action not taken: mailbox unavailable",
    null,
    null,
    "hard",
    "unknown_user",
    "5.0.0",
  ],
  ["554 5.5.0 Transaction failed", null, null, "hard", "other_permanent", "5.5.0"],
  ["Sorry, no mailbox here by that name. (#5.1.1)", null, null, "hard", "unknown_user", "5.1.1"],
  ["retry timeout exceeded", null, null, "soft", "expired", null],
  ["something odd happened", null, null, "soft", "temporary", null],
];

Deno.test("classify() maps replies and DSN statuses to hard, soft and policy with reasons", () => {
  for (const [text, status, action, kind, reason, code] of TABLE) {
    assert.deepEqual(classify({ text, status, action }), { kind, reason, status: code }, text);
  }
});

Deno.test("classify() never calls a 5.7.x block an invalid mailbox", () => {
  for (const d of [1, 7, 25, 26, 350, 510]) {
    assert.equal(classify({ text: `550 5.7.${d} Rejected` }).kind, "policy", `5.7.${d}`);
  }
});
