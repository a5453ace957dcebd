import assert from "node:assert/strict";
import { parseReport } from "./dsn.ts";
import { classify } from "./classify.ts";
import { TokenSigner } from "./tokens.ts";

const DIR = new URL("../../tests/fixtures/bounces/", import.meta.url);
// The fixtures' returned messages were signed with this secret for this message.
const signer = new TokenSigner("test-secret-test-secret-test-secret-0123");
const REF = {
  tenantId: "01900000-0000-7000-8000-000000000001",
  queueId: "01900000-0000-7000-8000-0000000000aa",
};
const MID = "<01900000-0000-7000-8000-0000000000aa@lu.example>";

// file → [type, format, recipient, action, class, reason, status]
const EXPECTED: Record<string, [string, string, string, string | null, string, string, string]> = {
  "01_postfix_user_unknown.eml": [
    "dsn",
    "postfix",
    "anna@example.net",
    "failed",
    "hard",
    "unknown_user",
    "5.1.1",
  ],
  "02_postfix_mailbox_full.eml": [
    "dsn",
    "postfix",
    "bertil@example.org",
    "failed",
    "soft",
    "mailbox_full",
    "5.2.2",
  ],
  "03_postfix_no_domain.eml": [
    "dsn",
    "postfix",
    "cecilia@nx-domain.example",
    "failed",
    "hard",
    "no_domain",
    "5.4.4",
  ],
  "04_postfix_delayed.eml": [
    "dsn",
    "postfix",
    "david@slow.example",
    "delayed",
    "soft",
    "temporary",
    "4.4.1",
  ],
  "05_postfix_spamhaus.eml": [
    "dsn",
    "postfix",
    "erik@blocked.example",
    "failed",
    "policy",
    "spam_blocked",
    "5.7.1",
  ],
  "06_postfix_plain_legacy.eml": [
    "dsn",
    "postfix",
    "fredrik@example.com",
    "failed",
    "hard",
    "unknown_user",
    "5.1.1",
  ],
  "07_rfc3464_bad_destination.eml": [
    "dsn",
    "sendmail",
    "greta@example.se",
    "failed",
    "hard",
    "no_domain",
    "5.1.2",
  ],
  "08_o365_recipient_not_found.eml": [
    "dsn",
    "exchange",
    "hanna@contoso.example",
    "failed",
    "hard",
    "unknown_user",
    "5.1.10",
  ],
  "09_o365_access_denied.eml": [
    "dsn",
    "exchange",
    "ivar@fabrikam.example",
    "failed",
    "hard",
    "unknown_user",
    "5.4.1",
  ],
  "10_o365_ip_blocked.eml": [
    "dsn",
    "exchange",
    "jonas@hotmail.example",
    "failed",
    "policy",
    "spam_blocked",
    "5.7.1",
  ],
  "11_exchange2016_mailbox_full.eml": [
    "dsn",
    "exchange",
    "karin@corp.example",
    "failed",
    "soft",
    "mailbox_full",
    "5.2.2",
  ],
  "12_exchange_legacy_text.eml": [
    "dsn",
    "exchange",
    "lars@legacy.example",
    "failed",
    "hard",
    "unknown_user",
    "5.1.1",
  ],
  "13_gmail_not_found.eml": [
    "dsn",
    "gmail",
    "maria@gmail.example",
    "failed",
    "hard",
    "unknown_user",
    "5.1.1",
  ],
  "14_gmail_over_quota.eml": [
    "dsn",
    "gmail",
    "nils@gmail.example",
    "failed",
    "soft",
    "mailbox_full",
    "4.2.2",
  ],
  "15_gmail_disabled.eml": [
    "dsn",
    "gmail",
    "olle@gmail.example",
    "failed",
    "hard",
    "mailbox_disabled",
    "5.2.1",
  ],
  "16_gmail_unsolicited.eml": [
    "dsn",
    "gmail",
    "petra@gmail.example",
    "failed",
    "policy",
    "spam_blocked",
    "5.7.1",
  ],
  "17_gmail_dmarc.eml": [
    "dsn",
    "gmail",
    "quentin@gmail.example",
    "failed",
    "policy",
    "auth_failed",
    "5.7.26",
  ],
  "18_gmail_legacy_text.eml": [
    "dsn",
    "gmail",
    "rut@example.info",
    "failed",
    "hard",
    "unknown_user",
    "5.1.1",
  ],
  "19_yahoo_no_account.eml": [
    "dsn",
    "yahoo",
    "sara@yahoo.example",
    "failed",
    "hard",
    "unknown_user",
    "5.0.0",
  ],
  "20_yahoo_tss04.eml": [
    "dsn",
    "yahoo",
    "tove@yahoo.example",
    "failed",
    "policy",
    "reputation",
    "4.7.0",
  ],
  "21_yahoo_disabled.eml": [
    "dsn",
    "yahoo",
    "ulf@yahoo.example",
    "failed",
    "hard",
    "mailbox_disabled",
    "5.0.0",
  ],
  "22_exim_user_unknown.eml": [
    "dsn",
    "exim",
    "vera@exim.example",
    "failed",
    "hard",
    "unknown_user",
    "5.1.1",
  ],
  "23_exim_retry_timeout.eml": [
    "dsn",
    "exim",
    "wilma@slowhost.example",
    "failed",
    "soft",
    "expired",
    "-",
  ],
  "24_exim_quota.eml": [
    "dsn",
    "exim",
    "xander@exim.example",
    "failed",
    "soft",
    "mailbox_full",
    "-",
  ],
  "25_exim_unrouteable.eml": [
    "dsn",
    "exim",
    "yngve@gone.example",
    "failed",
    "hard",
    "no_domain",
    "-",
  ],
  "26_qmail_no_mailbox.eml": [
    "dsn",
    "qmail",
    "zelda@qmail.example",
    "failed",
    "hard",
    "unknown_user",
    "5.1.1",
  ],
  "27_qmail_remote_spam.eml": [
    "dsn",
    "qmail",
    "ake@qmail-remote.example",
    "failed",
    "policy",
    "spam_blocked",
    "5.7.1",
  ],
  "28_qmail_timeout.eml": [
    "dsn",
    "qmail",
    "asa@unreachable.example",
    "failed",
    "soft",
    "temporary",
    "4.4.1",
  ],
  "29_sendmail_user_unknown.eml": [
    "dsn",
    "sendmail",
    "bo@sendmail.example",
    "failed",
    "hard",
    "unknown_user",
    "5.1.1",
  ],
  "30_sendmail_legacy_text.eml": [
    "dsn",
    "sendmail",
    "cia@oldsendmail.example",
    "failed",
    "hard",
    "unknown_user",
    "5.1.1",
  ],
  "31_sendmail_warning_delayed.eml": [
    "dsn",
    "sendmail",
    "dan@sendmail.example",
    "delayed",
    "soft",
    "temporary",
    "4.4.1",
  ],
  "32_arf_yahoo_abuse.eml": ["arf", "arf", "eva@yahoo.example", null, "-", "-", "-"],
  "33_arf_redacted_headers.eml": ["arf", "arf", "redacted@outlook.example", null, "-", "-", "-"],
};

Deno.test("parseReport() reads every committed bounce fixture: recipient, status, class", async () => {
  const files = [...Deno.readDirSync(DIR)].map((e) => e.name).filter((n) => n.endsWith(".eml"));
  assert.ok(files.length >= 30, `only ${files.length} fixtures`);
  for (const file of files.sort()) {
    const report = await parseReport(await Deno.readFile(new URL(file, DIR)));
    const want = EXPECTED[file];
    if (!want) {
      assert.equal(report.type, "other", `${file}: not a bounce`);
      assert.deepEqual(report.recipients, [], file);
      continue;
    }
    const [type, format, address, action, kind, reason, status] = want;
    assert.equal(report.type, type, `${file}: type`);
    assert.equal(report.format, format, `${file}: format`);
    assert.equal(report.recipients.length, 1, `${file}: one recipient`);
    const r = report.recipients[0]!;
    assert.equal(r.address, address, `${file}: recipient`);
    assert.equal(r.action, action, `${file}: action`);
    if (type === "arf") {
      assert.equal(report.feedbackType, "abuse", file);
      continue;
    }
    const c = classify({ status: r.status, text: r.diagnostic, action: r.action });
    assert.deepEqual(
      [c.kind, c.reason, c.status ?? "-"],
      [kind, reason, status === "-" ? "-" : status],
      `${file}: classification of ${JSON.stringify(r)}`,
    );
  }
});

Deno.test("parseReport() finds the original message: VERP token, unsubscribe token, Message-ID", async () => {
  for (const file of Object.keys(EXPECTED)) {
    const { original } = await parseReport(await Deno.readFile(new URL(file, DIR)));
    assert.ok(original.messageIds.includes(MID), `${file}: Message-ID`);
    for (const token of original.unsubscribeTokens) {
      assert.deepEqual(signer.verifyMessage("unsubscribe", token), REF, file);
    }
    for (const token of original.bounceTokens) {
      assert.deepEqual(signer.verifyMessage("bounce", token), REF, file);
    }
    assert.ok(original.bounceTokens.length + original.unsubscribeTokens.length > 0, file);
  }
  // Office 365 returns the headers without Return-Path: the other clues still name the message.
  const o365 = await parseReport(
    await Deno.readFile(new URL("08_o365_recipient_not_found.eml", DIR)),
  );
  assert.deepEqual(o365.original.bounceTokens, []);
});

Deno.test("parseReport() reads the DSN's per-message and per-recipient fields", async () => {
  const r = await parseReport(await Deno.readFile(new URL("01_postfix_user_unknown.eml", DIR)));
  assert.equal(r.structured, true);
  assert.equal(r.reportingMta, "mail.skicka-relay.example");
  assert.deepEqual(r.recipients[0], {
    address: "anna@example.net",
    originalRecipient: "anna@example.net",
    action: "failed",
    status: "5.1.1",
    diagnostic:
      "550 5.1.1 <anna@example.net>: Recipient address rejected: User unknown in virtual mailbox table",
    remoteMta: "mx.example.net",
  });
});

Deno.test("parseReport() treats a person's mail as no report and survives garbage", async () => {
  const plain = await parseReport(
    "From: a@b.example\r\nSubject: Hello\r\n\r\nThanks for the news!\r\n",
  );
  assert.equal(plain.type, "other");
  // People at the big providers write back too; their address alone makes no bounce.
  for (const from of ["Eva <eva@yahoo.com>", "jonas@outlook.com", "maria@googlemail.com"]) {
    const reply = await parseReport(
      `From: ${from}\r\nSubject: Re: Nyhetsbrev\r\n\r\nPlease stop sending me this.\r\n`,
    );
    assert.equal(reply.type, "other", from);
  }
  const junk = await parseReport(new Uint8Array([0, 1, 2, 255, 13, 10, 13, 10]));
  assert.equal(junk.type, "other");
});
