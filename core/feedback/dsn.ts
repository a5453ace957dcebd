// Bounce and complaint parsing: RFC 3464 delivery status notifications, RFC 5965 ARF reports,
// and the plain-text bounces of Exchange, Gmail, Yahoo, Postfix, Exim, qmail and Sendmail.
// Pure (no database): it says who failed, how, and which of our messages it was about.
import { simpleParser } from "mailparser";
import { Buffer } from "node:buffer";

export type ReportFormat =
  | "rfc3464"
  | "arf"
  | "exchange"
  | "gmail"
  | "yahoo"
  | "postfix"
  | "exim"
  | "qmail"
  | "sendmail"
  | "unknown";

export interface ReportRecipient {
  /** Final-Recipient, or the address the text names. */
  address: string;
  originalRecipient: string | null;
  /** failed | delayed | delivered | relayed | expanded; null when a text bounce does not say. */
  action: string | null;
  status: string | null;
  /** The remote server's reply or the reporting MTA's explanation, whitespace collapsed. */
  diagnostic: string | null;
  remoteMta: string | null;
}

export interface ParsedReport {
  /** other: not a bounce or complaint (an auto-reply, a person writing back). */
  type: "dsn" | "arf" | "other";
  /** The system that wrote it, as far as it can be told. */
  format: ReportFormat;
  /** Whether it carried a machine-readable report (message/delivery-status or feedback-report). */
  structured: boolean;
  reportingMta: string | null;
  /** ARF Feedback-Type (abuse, fraud, virus, not-spam, …). */
  feedbackType: string | null;
  recipients: ReportRecipient[];
  /** What the returned original says about itself: our signed tokens and its Message-IDs. */
  original: { bounceTokens: string[]; unsubscribeTokens: string[]; messageIds: string[] };
}

const MAX_DIAGNOSTIC = 1000;

/** Parses one inbound message. Never throws on odd input: unknown mail is type "other". */
export async function parseReport(raw: Uint8Array | string): Promise<ParsedReport> {
  const buf = typeof raw === "string" ? Buffer.from(raw, "utf8") : Buffer.from(raw);
  const mail = await simpleParser(buf, { skipImageLinks: true, skipTextToHtml: true });
  const rawText = buf.toString("latin1");
  const bodyStart = rawText.search(/\r?\n\r?\n/);
  const body = bodyStart < 0 ? "" : rawText.slice(bodyStart);
  const ctype = mail.headers.get("content-type") as
    | { value: string; params: Record<string, string> }
    | undefined;
  const reportType = ctype?.value === "multipart/report"
    ? (ctype.params["report-type"] ?? "").toLowerCase()
    : "";
  const parts = reportType && ctype?.params.boundary ? splitParts(body, ctype.params.boundary) : [];
  const attachments = mail.attachments.map((a) => a.content.toString("utf8"));
  const original = originalRefs([body, ...attachments].join("\n"));
  const human = mail.text ?? htmlToPlain(typeof mail.html === "string" ? mail.html : "");
  const from = mail.from?.text ?? "";
  const subject = mail.subject ?? "";
  const headerText = [...mail.headers.keys()].join(" ");
  const format = detectFormat({ from, subject, human, headerText, reportType });

  if (reportType === "feedback-report") {
    const part = parts.find((p) => /^message\/feedback-report/i.test(p.type));
    const fields = part ? fieldBlocks(part.body)[0] ?? new Map() : new Map<string, string>();
    const rcpt = bareAddress(fields.get("original-rcpt-to") ?? "");
    return {
      type: "arf",
      format: "arf",
      structured: part !== undefined,
      reportingMta: typed(fields.get("reporting-mta") ?? fields.get("user-agent") ?? null),
      feedbackType: (fields.get("feedback-type") ?? "abuse").toLowerCase(),
      recipients: rcpt
        ? [{
          address: rcpt,
          originalRecipient: null,
          action: null,
          status: null,
          diagnostic: null,
          remoteMta: null,
        }]
        : [],
      original,
    };
  }

  const dsnPart = parts.find((p) => /^message\/(global-)?delivery-status/i.test(p.type));
  if (dsnPart) {
    const [perMessage = new Map(), ...perRecipient] = fieldBlocks(dsnPart.body);
    const recipients = perRecipient.filter((f) => f.has("final-recipient") || f.has("status"))
      .map((f) => ({
        address: bareAddress(typed(f.get("final-recipient") ?? f.get("original-recipient") ?? "")),
        originalRecipient: bareAddress(typed(f.get("original-recipient") ?? "")) || null,
        action: f.get("action")?.toLowerCase() ?? null,
        status: f.get("status")?.match(/\d\.\d{1,3}\.\d{1,3}/)?.[0] ?? null,
        diagnostic: bound(typed(f.get("diagnostic-code") ?? null)),
        remoteMta: typed(f.get("remote-mta") ?? null),
      }));
    return {
      type: "dsn",
      format: format === "unknown" ? "rfc3464" : format,
      structured: true,
      reportingMta: typed(perMessage.get("reporting-mta") ?? null),
      feedbackType: null,
      recipients,
      original,
    };
  }

  const failed = mail.headers.get("x-failed-recipients");
  const looksLikeBounce = typeof failed === "string" || format !== "unknown" ||
    /mailer-daemon|postmaster/i.test(from) ||
    /undeliver|delivery (status )?notification|failure notice|returned mail|delivery failed|could not be delivered|delivery has failed/i
      .test(subject);
  if (!looksLikeBounce) {
    return {
      type: "other",
      format,
      structured: false,
      reportingMta: null,
      feedbackType: null,
      recipients: [],
      original,
    };
  }
  const recipients = textRecipients(beforeCopy(human), typeof failed === "string" ? failed : "");
  return {
    type: "dsn",
    format,
    structured: false,
    reportingMta: null,
    feedbackType: null,
    recipients,
    original,
  };
}

function detectFormat(
  m: { from: string; subject: string; human: string; headerText: string; reportType: string },
): ReportFormat {
  const all = `${m.from}\n${m.subject}\n${m.human}`;
  if (m.reportType === "feedback-report") return "arf";
  // By the system's own sender or wording only: a person writing from outlook.com or
  // yahoo.com is no bounce.
  if (/x-ms-exchange-message-is-ndr|microsoftexchange/i.test(m.headerText + m.from)) {
    return "exchange";
  }
  if (/RESOLVER\.|STOREDRV|Delivery has failed to these recipients/i.test(all)) return "exchange";
  if (/postmaster@outlook\.com/i.test(m.from)) return "exchange";
  if (/mailer-daemon@googlemail\.com|\bgsmtp\b|Google tried to deliver/i.test(all)) return "gmail";
  if (/mailer-daemon@[\w.]*yahoo/i.test(m.from)) return "yahoo";
  if (/qmail-send program/i.test(all)) return "qmail";
  if (/created automatically by mail delivery software/i.test(all)) return "exim";
  if (/This is the mail system at host|X-Postfix/i.test(all)) return "postfix";
  if (/Transcript of session follows|Mail Delivery Subsystem/i.test(all)) return "sendmail";
  return "unknown";
}

interface Part {
  type: string;
  body: string;
}

/** Top-level parts of a multipart body (the report parts are 7-bit text in practice). */
function splitParts(body: string, boundary: string): Part[] {
  const chunks = body.split(`--${boundary}`).slice(1);
  const out: Part[] = [];
  for (const chunk of chunks) {
    if (chunk.startsWith("--")) break;
    const sep = chunk.search(/\r?\n\r?\n/);
    if (sep < 0) continue;
    const head = chunk.slice(0, sep);
    let content = chunk.slice(sep).replace(/^\r?\n\r?\n/, "");
    const type = /content-type:\s*([^;\s]+)/i.exec(head)?.[1] ?? "text/plain";
    const cte = /content-transfer-encoding:\s*(\S+)/i.exec(head)?.[1]?.toLowerCase();
    if (cte === "base64") content = Buffer.from(content.replace(/\s+/g, ""), "base64").toString();
    if (cte === "quoted-printable") {
      content = content.replace(/=\r?\n/g, "").replace(
        /=([0-9A-F]{2})/gi,
        (_, h) => String.fromCharCode(parseInt(h, 16)),
      );
    }
    out.push({ type: type.toLowerCase(), body: content });
  }
  return out;
}

/** "Name: value" blocks separated by blank lines, continuation lines unfolded, names lower-cased. */
function fieldBlocks(text: string): Map<string, string>[] {
  return text.replace(/\r\n/g, "\n").replace(/\n[ \t]+/g, " ").split(/\n\s*\n/)
    .map((block) => {
      const fields = new Map<string, string>();
      for (const line of block.split("\n")) {
        const m = /^([A-Za-z][\w-]*):\s*(.*)$/.exec(line);
        if (m && !fields.has(m[1]!.toLowerCase())) fields.set(m[1]!.toLowerCase(), m[2]!.trim());
      }
      return fields;
    }).filter((f) => f.size > 0);
}

/** "rfc822; a@b" → "a@b"; "dns; mx.example" → "mx.example". */
function typed(value: string): string;
function typed(value: string | null): string | null;
function typed(value: string | null): string | null {
  if (value === null) return null;
  const i = value.indexOf(";");
  return (i >= 0 && i < 20 ? value.slice(i + 1) : value).trim();
}

function bareAddress(value: string): string {
  return value.trim().replace(/^<|>$/g, "").trim();
}

function bound(s: string | null): string | null {
  return s === null ? null : s.replace(/\s+/g, " ").trim().slice(0, MAX_DIAGNOSTIC);
}

/** Our signed tokens and Message-IDs anywhere in the returned message. */
function originalRefs(text: string) {
  const unfolded = text.replace(/=\r?\n/g, "");
  const uniq = (re: RegExp) => [...new Set([...unfolded.matchAll(re)].map((m) => m[1]!))];
  return {
    bounceTokens: uniq(/\bbounce\+([A-Za-z0-9_-]{20,})@/gi),
    unsubscribeTokens: uniq(/\bunsubscribe\+([A-Za-z0-9_-]{20,})@/gi),
    messageIds: uniq(/^Message-ID:[ \t]*(<[^<>\s]+>)/gim),
  };
}

const COPY_MARK =
  /^\s*(-{2,}\s*(below this line|this is a copy|original message)|original message headers:|-+ ?original message follows)/im;

/** The explanation without the returned copy (which names the recipient in its own To:). */
function beforeCopy(text: string): string {
  const at = text.search(COPY_MARK);
  return at < 0 ? text : text.slice(0, at);
}

const ADDR = String.raw`[^\s<>()"':;,@]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`;
/** Where each system names the failed recipient in its text, most specific first. */
const RCPT_PATTERNS = [
  new RegExp(String.raw`^<(${ADDR})>:`, "m"), // qmail, Yahoo, Postfix
  new RegExp(String.raw`recipients or groups:\s*(${ADDR})`, "i"), // Exchange
  new RegExp(String.raw`failed permanently:\s*(${ADDR})`, "i"), // Gmail (older)
  new RegExp(String.raw`fatal errors -+\s*<(${ADDR})>`, "i"), // Sendmail
  new RegExp(String.raw`RCPT To:\s*<(${ADDR})>`, "i"), // Sendmail transcript
  new RegExp(String.raw`address\(es\) (?:failed|deferred):\s*(${ADDR})`, "i"), // Exim
  new RegExp(String.raw`delivered to (${ADDR})`, "i"), // Gmail
];

function textRecipients(text: string, failedHeader: string): ReportRecipient[] {
  let address = "";
  let at = 0;
  for (const re of RCPT_PATTERNS) {
    const m = re.exec(text);
    if (m) {
      address = m[1]!;
      at = m.index + m[0].length;
      break;
    }
  }
  if (!address) address = new RegExp(ADDR).exec(failedHeader)?.[0] ?? "";
  if (!address) {
    const m = [...text.matchAll(new RegExp(ADDR, "g"))]
      .find((x) => !/^(mailer-daemon|postmaster)@/i.test(x[0]));
    if (!m) return [];
    address = m[0];
    at = m.index! + m[0].length;
  }
  const diagnostic = bound(text.slice(at, at + MAX_DIAGNOSTIC)) || null;
  return [{
    address,
    originalRecipient: null,
    action: /temporary error|warning/i.test(text) ? "delayed" : "failed",
    status: null,
    diagnostic,
    remoteMta: null,
  }];
}

function htmlToPlain(html: string): string {
  return html.replace(/<(br|p|div|tr)\b[^>]*>/gi, "\n").replace(/<[^>]+>/g, "")
    .replace(/&nbsp;/g, " ").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}
