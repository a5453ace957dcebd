// SMTP protocol pieces without I/O: capabilities, address checks, replies to results.
import { SmtpError, type SmtpPhase } from "./errors.ts";
import type { SmtpReply } from "./reply.ts";

export interface SmtpCapabilities {
  pipelining: boolean;
  eightBitMime: boolean;
  smtpUtf8: boolean;
  startTls: boolean;
  /** SIZE advertised; sizeLimit 0 means no declared limit. */
  size: boolean;
  sizeLimit: number;
  /** Upper-case SASL mechanisms. */
  auth: string[];
}

export interface OutboundMessage {
  /** Envelope sender; "" for the null reverse-path of bounces. */
  from: string;
  to: readonly string[];
  /** The complete RFC 5322 message with CRLF line ends. */
  raw: Uint8Array;
}

export type DeliveryStatus = "sent" | "deferred" | "failed";

export interface RecipientResult {
  recipient: string;
  code: number;
  enhanced?: string;
  message: string;
  status: DeliveryStatus;
}

export const NO_EXTENSIONS: SmtpCapabilities = {
  pipelining: false,
  eightBitMime: false,
  smtpUtf8: false,
  startTls: false,
  size: false,
  sizeLimit: 0,
  auth: [],
};
const encoder = new TextEncoder();
// Controls (CR, LF among them), space and angle brackets would break out of "<path>".
// deno-lint-ignore no-control-regex
const BAD_ADDRESS_CHAR = /[\x00-\x20\x7f<>]/;
// deno-lint-ignore no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

/** The per-recipient outcome a reply code stands for. */
export function statusOf(code: number): DeliveryStatus {
  return code >= 200 && code < 300 ? "sent" : code >= 400 && code < 500 ? "deferred" : "failed";
}

export function parseCapabilities(ehloLines: readonly string[]): SmtpCapabilities {
  const caps = { ...NO_EXTENSIONS, auth: [] as string[] };
  for (const line of ehloLines.slice(1)) {
    // "AUTH=PLAIN LOGIN" is the pre-RFC 4954 spelling some servers still send.
    const [keyword = "", ...params] = line.trim().toUpperCase().split(/[\s=]+/);
    if (keyword === "PIPELINING") caps.pipelining = true;
    else if (keyword === "8BITMIME") caps.eightBitMime = true;
    else if (keyword === "SMTPUTF8") caps.smtpUtf8 = true;
    else if (keyword === "STARTTLS") caps.startTls = true;
    else if (keyword === "AUTH") caps.auth.push(...params.filter((p) => p !== ""));
    else if (keyword === "SIZE") {
      caps.size = true;
      const limit = Number(params[0] ?? 0);
      caps.sizeLimit = Number.isSafeInteger(limit) && limit > 0 ? limit : 0;
    }
  }
  return caps;
}

/** Throws unless `address` is safe in "<path>"; returns whether it needs SMTPUTF8. */
export function checkAddress(address: string, phase: "mail" | "rcpt"): boolean {
  if (address === "" && phase === "mail") return false;
  if (address.length > 254 || BAD_ADDRESS_CHAR.test(address) || !address.includes("@")) {
    const role = phase === "mail" ? "sender" : "recipient";
    throw new SmtpError(`Invalid ${role} address ${JSON.stringify(address)}`, {
      phase,
      temporary: false,
    });
  }
  return NON_ASCII.test(address);
}

export function base64(text: string): string {
  let binary = "";
  for (const b of encoder.encode(text)) binary += String.fromCharCode(b);
  return btoa(binary);
}

export function replyError(
  phase: SmtpPhase,
  reply: SmtpReply,
  what: string,
  host: string,
): SmtpError {
  const text = [reply.code, reply.enhanced, reply.message].filter((p) => p).join(" ");
  return new SmtpError(`${what} refused by ${host}: ${text}`, {
    phase,
    code: reply.code,
    enhanced: reply.enhanced,
  });
}

export function result(
  recipient: string,
  reply: SmtpReply,
  status = statusOf(reply.code),
): RecipientResult {
  const r: RecipientResult = { recipient, code: reply.code, message: reply.message, status };
  if (reply.enhanced) r.enhanced = reply.enhanced;
  return r;
}

export const isOk = (r: SmtpReply | undefined) => r !== undefined && r.code >= 200 && r.code < 300;
