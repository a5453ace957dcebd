// MIME message builder for the render stage: one pass, one string, no composer library.
//
// The output is 7-bit ASCII (unless an address itself is non-ASCII, which needs SMTPUTF8) with
// CRLF line ends. Lines starting with "." are left alone: dot-stuffing is the SMTP transport's job.
import { Buffer } from "node:buffer";

export interface Address {
  name?: string;
  /** Passed through as given (IDN domains are expected in punycode already). */
  address: string;
}

export interface Attachment {
  filename: string;
  contentType: string;
  content: Uint8Array;
  /** Referenced from the HTML as `cid:…`; such parts go into multipart/related. */
  contentId?: string;
  /** Content-Disposition inline; defaults to true when contentId is set. */
  inline?: boolean;
}

export interface MessageInput {
  from: Address;
  to: Address | readonly Address[];
  cc?: Address | readonly Address[];
  replyTo?: Address;
  subject: string;
  html?: string;
  text?: string;
  attachments?: readonly Attachment[];
  /** Extra headers (List-Unsubscribe, X-Skicka-…); the ones the builder writes are refused. */
  headers?: Readonly<Record<string, string>>;
  /** With or without angle brackets; generated as `<uuid@from-domain>` when absent. */
  messageId?: string;
  date?: Date;
  /**
   * How bodies that are not 7-bit clean are encoded: quoted-printable (readable, the default) or
   * base64 (~10x faster to build; what mass sending uses — 20-30 KB of Nordic HTML per message).
   */
  bodyEncoding?: "quoted-printable" | "base64";
}

export interface BuiltMessage {
  /** The whole message, CRLF line ends; a single-part body always ends in a line break. */
  raw: string;
  /** As written in the header, with angle brackets. */
  messageId: string;
}

/** RFC 5322 recommends lines of at most 78 characters; folding aims for that. */
const SOFT_LIMIT = 78;
/** RFC 5322 hard limit (without CRLF). Bodies whose lines fit go out as 7bit. */
const HARD_LIMIT = 998;
/** An encoded-word is at most 75 characters (RFC 2047 section 2). */
const WORD_LIMIT = 75;

/** Headers the builder writes itself, or that must never be in a message (Bcc). */
const RESERVED = new Set([
  "from",
  "to",
  "cc",
  "bcc",
  "reply-to",
  "subject",
  "date",
  "message-id",
  "mime-version",
  "content-type",
  "content-transfer-encoding",
  "dkim-signature",
]);

const HEX = "0123456789ABCDEF";
const ESC: string[] = Array.from({ length: 256 }, (_, b) => "=" + HEX[b >> 4] + HEX[b & 15]);

/** Bytes a Q encoded-word may carry literally in any context, phrases included (RFC 2047 5(3)). */
const Q_SAFE = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/") {
  Q_SAFE[c.charCodeAt(0)] = 1;
}

// deno-lint-ignore no-control-regex -- matching control characters is the point
const NEEDS_CLEAN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const LINE_BREAKS = /[\r\n\t\u2028\u2029]+/g;
// deno-lint-ignore no-control-regex -- matching control characters is the point
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const ATOM_PHRASE = /^[\w!#$%&'*+\-/=?^`{|}~]+(?: [\w!#$%&'*+\-/=?^`{|}~]+)*$/;
const ADDR_SPEC = /^(?:[^\s<>,;:@"\\]+|"(?:[^"\\]|\\.)*")@[^\s<>,;:@"\\]+$/;
const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
const MEDIA_TYPE = /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(?:;.*)?$/;

const encoder = new TextEncoder();

/**
 * Header values cannot carry line breaks (they would start a new header) or other controls:
 * breaks and tabs become a space, the rest is dropped.
 */
function clean(value: string): string {
  if (!NEEDS_CLEAN.test(value)) return value.trim();
  return value.replace(LINE_BREAKS, " ").replace(CONTROLS, "").trim();
}

/**
 * The address as given, but only if it is one addr-spec: brackets, commas, semicolons or
 * spaces outside a quoted local part would let it close the angle-addr or add a mailbox.
 */
function cleanAddress(address: string): string {
  const a = clean(address);
  if (!ADDR_SPEC.test(a) || a.length > HARD_LIMIT - 10) {
    throw new TypeError(`Invalid email address: ${JSON.stringify(address)}`);
  }
  return a;
}

/** Builds one header field, folding at spaces so lines stay within 78 characters. */
class HeaderField {
  #out: string;
  #col: number;
  #lineHasToken = false;

  constructor(name: string) {
    this.#out = name + ":";
    this.#col = this.#out.length;
  }

  /** Characters left on the current line after a separating space. */
  get room(): number {
    return SOFT_LIMIT - this.#col - 1;
  }

  /** Appends a token after a space, folding first if it would overflow the line. */
  push(token: string): void {
    const len = token.length;
    if (
      this.#col + 1 + len > SOFT_LIMIT && this.#col > 1 && (this.#lineHasToken || len < SOFT_LIMIT)
    ) {
      this.#out += "\r\n ";
      this.#col = 1;
    } else {
      this.#out += " ";
      this.#col += 1;
    }
    this.#out += token;
    this.#col += len;
    this.#lineHasToken = true;
  }

  toString(): string {
    return this.#out;
  }
}

/** Appends UTF-8 bytes of `value` as RFC 2047 encoded-words, never splitting a character. */
function pushEncoded(field: HeaderField, value: string): void {
  const bytes = encoder.encode(value);
  let unsafe = 0;
  for (const b of bytes) if (b >= 128 || (Q_SAFE[b] === 0 && b !== 32)) unsafe++;
  // Q keeps mostly-Latin text readable, so it wins unless B is clearly shorter.
  const useQ = bytes.length + 2 * unsafe <= Math.ceil(bytes.length / 3) * 5;
  const prefix = useQ ? "=?UTF-8?Q?" : "=?UTF-8?B?";
  const overhead = prefix.length + 2;
  let start = 0;
  while (start < bytes.length) {
    // Fill the current line if a useful word fits, else the next one.
    const room = field.room >= overhead + 12 ? Math.min(field.room, WORD_LIMIT) : WORD_LIMIT;
    const budget = room - overhead;
    let end = start;
    let size = 0;
    let payload = "";
    while (end < bytes.length) {
      const lead = bytes[end]!;
      const charLen = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
      let add = 0;
      let chunk = "";
      if (useQ) {
        for (let k = end; k < end + charLen && k < bytes.length; k++) {
          const b = bytes[k]!;
          chunk += b === 32 ? "_" : b < 128 && Q_SAFE[b] === 1 ? String.fromCharCode(b) : ESC[b]!;
        }
        add = chunk.length;
      } else {
        add = Math.ceil((end + charLen - start) / 3) * 4 - size;
      }
      if (size + add > budget && end > start) break;
      size += add;
      payload += chunk;
      end += charLen;
    }
    if (!useQ) {
      payload = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString("base64");
    }
    field.push(prefix + payload + "?=");
    start = end;
  }
}

/** The Subject: plain words when safe, encoded-words otherwise. */
function subjectField(value: string): string {
  const field = new HeaderField("Subject");
  const words = value.split(" ");
  // Literal "=?" could be decoded as an encoded-word; a word too long for any line can only
  // be carried split across encoded-words.
  if (
    PRINTABLE_ASCII.test(value) && !value.includes("=?") &&
    words.every((w) => w.length < HARD_LIMIT - 100)
  ) {
    for (const w of words) field.push(w);
  } else {
    pushEncoded(field, value);
  }
  return field.toString();
}

/**
 * An extra header. ASCII values are written as given (most are structured, like
 * List-Unsubscribe, where encoded-words would be wrong); others become encoded-words.
 */
function extraField(name: string, value: string): string {
  if (!HEADER_NAME.test(name)) throw new TypeError(`Invalid header name: ${JSON.stringify(name)}`);
  if (RESERVED.has(name.toLowerCase())) {
    throw new TypeError(`Header ${name} is set by the message builder and cannot be given`);
  }
  const field = new HeaderField(name);
  if (!PRINTABLE_ASCII.test(value)) {
    pushEncoded(field, value);
    return field.toString();
  }
  for (const w of value.split(" ")) {
    if (w.length > HARD_LIMIT - name.length - 3) {
      throw new RangeError(`Header ${name} has a word too long for one line`);
    }
    field.push(w);
  }
  return field.toString();
}

function mailboxField(name: string, list: Address | readonly Address[]): string {
  const field = new HeaderField(name);
  const all: readonly Address[] = Array.isArray(list) ? list : [list as Address];
  if (all.length === 0) throw new TypeError(`${name} needs at least one address`);
  all.forEach((a, i) => {
    const address = cleanAddress(a.address);
    const display = a.name ? clean(a.name) : "";
    const tail = i < all.length - 1 ? "," : "";
    if (display === "") return field.push(address + tail);
    if (ATOM_PHRASE.test(display) && !display.includes("=?")) {
      for (const w of display.split(" ")) field.push(w);
    } else if (PRINTABLE_ASCII.test(display) && !display.includes("=?") && display.length <= 60) {
      field.push('"' + display.replace(/[\\"]/g, "\\$&") + '"');
    } else {
      pushEncoded(field, display);
    }
    field.push("<" + address + ">" + tail);
  });
  return field.toString();
}

function normalizeMessageId(id: string | undefined, from: string): string {
  if (id !== undefined) {
    const bare = clean(id).replace(/^<|>$/g, "");
    if (bare === "" || /[<>\s]/.test(bare)) throw new TypeError(`Invalid Message-ID: ${id}`);
    return "<" + bare + ">";
  }
  const domain = from.slice(from.lastIndexOf("@") + 1).replace(/[^A-Za-z0-9.-]/g, "");
  return "<" + crypto.randomUUID() + "@" + (domain || "localhost") + ">";
}

/** RFC 5322 date; toUTCString already has the right shape apart from the zone name. */
function formatDate(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError("Invalid date for the Date header");
  return date.toUTCString().replace(/GMT$/, "+0000");
}

/** One MIME entity: its header lines (no trailing CRLF) and its body. */
interface Entity {
  head: string;
  body: string;
}

/**
 * 0: needs quoted-printable; 1: 7bit as is; 2: 7bit once bare CR/LF become CRLF.
 * 7bit means printable ASCII (plus tab) in lines of at most 998 octets.
 */
function sevenBit(s: string): 0 | 1 | 2 {
  let col = 0;
  let bare = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 32 && c < 127) {
      if (++col > HARD_LIMIT) return 0;
    } else if (c === 13) {
      if (s.charCodeAt(i + 1) === 10) i++;
      else bare = true;
      col = 0;
    } else if (c === 10) {
      bare = true;
      col = 0;
    } else if (c === 9) {
      if (++col > HARD_LIMIT) return 0;
    } else {
      return 0;
    }
  }
  return bare ? 2 : 1;
}

/** Output bytes of quotedPrintable(); kept between calls, as every message needs one. */
let qpScratch = new Uint8Array(1 << 16);
const HEX_BYTES = encoder.encode(HEX);
/** For ASCII: 0 literal, 1 escaped, 2 space or tab (escaped only before a break), 3 CR, 4 LF. */
const QP_CLASS = new Uint8Array(128).fill(1);
QP_CLASS.fill(0, 33, 127);
QP_CLASS[61] = 1;
QP_CLASS[32] = QP_CLASS[9] = 2;
QP_CLASS[13] = 3;
QP_CLASS[10] = 4;

/** Writes "=" CRLF at `o`; returns the new end. Plain functions, so the loop state stays local. */
function softBreak(out: Uint8Array, o: number): number {
  out[o] = 61;
  out[o + 1] = 13;
  out[o + 2] = 10;
  return o + 3;
}

/** Writes "=XX" for byte `b` at `o`; returns the new end. */
function escape(out: Uint8Array, o: number, b: number): number {
  out[o] = 61;
  out[o + 1] = HEX_BYTES[b >> 4]!;
  out[o + 2] = HEX_BYTES[b & 15]!;
  return o + 3;
}

/**
 * Quoted-printable (RFC 2045 6.7) of the UTF-8 form of `s`, text mode: any line break becomes
 * a CRLF hard break, lines are at most 76 characters, trailing space/tab is encoded. Encodes
 * UTF-16 straight into a reused byte buffer: no intermediate UTF-8 copy, no string pieces.
 */
function quotedPrintable(s: string): string {
  const n = s.length;
  // At most 9 output bytes per UTF-16 unit (a 3-byte character), plus soft breaks.
  const need = n * 10 + 16;
  let out = qpScratch;
  if (out.length < need) {
    out = new Uint8Array(need);
    // Only ordinary sizes are kept, so one huge body does not pin its buffer.
    if (need <= 1 << 22) qpScratch = out;
  }
  let o = 0;
  let col = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 128) {
      let kind = QP_CLASS[c]!;
      if (kind === 2) {
        const next = s.charCodeAt(i + 1);
        kind = i + 1 < n && next !== 13 && next !== 10 ? 0 : 1;
      }
      if (kind === 0) {
        if (col === 75) {
          o = softBreak(out, o);
          col = 0;
        }
        out[o++] = c;
        col++;
      } else if (kind === 1) {
        if (col > 72) {
          o = softBreak(out, o);
          col = 0;
        }
        o = escape(out, o, c);
        col += 3;
      } else {
        if (kind === 3 && s.charCodeAt(i + 1) === 10) i++;
        out[o] = 13;
        out[o + 1] = 10;
        o += 2;
        col = 0;
      }
      continue;
    }
    let cp = c;
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else cp = 0xfffd;
    } else if (c >= 0xdc00 && c <= 0xdfff) cp = 0xfffd;
    const len = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    // A character's escapes stay on one line so readers of the raw source see whole letters.
    if (col + 3 * len > 75) {
      o = softBreak(out, o);
      col = 0;
    }
    const lead = len === 2 ? 0xc0 | (cp >> 6) : len === 3 ? 0xe0 | (cp >> 12) : 0xf0 | (cp >> 18);
    o = escape(out, o, lead);
    for (let shift = (len - 2) * 6; shift >= 0; shift -= 6) {
      o = escape(out, o, 0x80 | ((cp >> shift) & 63));
    }
    col += 3 * len;
  }
  return Buffer.from(out.buffer, 0, o).toString("latin1");
}

function base64Lines(bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  if (b64.length <= 76) return b64;
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join("\r\n");
}

/** UTF-8 text as base64 in 76-character lines; string concatenation beats slice+join here. */
function base64Text(content: string): string {
  const b64 = Buffer.from(content, "utf8").toString("base64");
  let out = "";
  for (let i = 0; i < b64.length; i += 76) out += (i ? "\r\n" : "") + b64.slice(i, i + 76);
  return out;
}

function textEntity(
  content: string,
  subtype: "plain" | "html",
  encoding: MessageInput["bodyEncoding"],
): Entity {
  const kind = sevenBit(content);
  const head = `Content-Type: text/${subtype}; charset=utf-8\r\nContent-Transfer-Encoding: `;
  if (kind === 0 && encoding === "base64") {
    return { head: head + "base64", body: base64Text(content) };
  }
  if (kind === 0) return { head: head + "quoted-printable", body: quotedPrintable(content) };
  const body = kind === 1 ? content : content.replace(/\r\n|\r|\n/g, "\r\n");
  return { head: head + "7bit", body };
}

/** RFC 2231 parameter(s): quoted when short ASCII, else percent-encoded UTF-8 with continuations. */
function params(name: string, value: string): string[] {
  if (PRINTABLE_ASCII.test(value) && value.length <= 60) {
    return [`${name}="${value.replace(/[\\"]/g, "\\$&")}"`];
  }
  const pieces: string[] = [];
  let piece = "";
  for (const ch of value) {
    let enc = "";
    for (const b of encoder.encode(ch)) {
      enc += /[\w!#$&+\-.^`|~]/.test(String.fromCharCode(b)) && b < 128
        ? String.fromCharCode(b)
        : ESC[b]!.replace("=", "%");
    }
    if (piece.length + enc.length > 60) {
      pieces.push(piece);
      piece = "";
    }
    piece += enc;
  }
  pieces.push(piece);
  if (pieces.length === 1) return [`${name}*=utf-8''${pieces[0]}`];
  return pieces.map((p, i) => `${name}*${i}*=${i === 0 ? "utf-8''" : ""}${p}`);
}

function attachmentEntity(a: Attachment): Entity {
  const filename = clean(a.filename) || "attachment";
  const type = clean(a.contentType).toLowerCase();
  // An unusable type would break the part's header; octet-stream still delivers the bytes.
  const mediaType = MEDIA_TYPE.test(type) ? type : "application/octet-stream";
  const inline = a.inline ?? a.contentId !== undefined;
  let head = "Content-Type: " + [mediaType, ...params("name", filename)].join(";\r\n ") +
    "\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: " +
    [inline ? "inline" : "attachment", ...params("filename", filename)].join(";\r\n ");
  if (a.contentId !== undefined) {
    const cid = clean(a.contentId).replace(/^<|>$/g, "");
    if (cid === "" || /[<>\s]/.test(cid)) throw new TypeError(`Invalid Content-ID: ${a.contentId}`);
    head += "\r\nContent-ID: <" + cid + ">";
  }
  return { head, body: base64Lines(a.content) };
}

function multipart(subtype: string, boundary: string, parts: Entity[]): Entity {
  let body = "";
  for (const p of parts) body += "--" + boundary + "\r\n" + p.head + "\r\n\r\n" + p.body + "\r\n";
  return {
    head: `Content-Type: multipart/${subtype};\r\n boundary="${boundary}"`,
    body: body + "--" + boundary + "--",
  };
}

/** Builds a complete RFC 5322 message with MIME parts. Throws on unusable addresses or headers. */
export function buildMessage(input: MessageInput): BuiltMessage {
  const fromAddress = cleanAddress(input.from.address);
  const messageId = normalizeMessageId(input.messageId, fromAddress);

  const lines = [mailboxField("From", input.from), mailboxField("To", input.to)];
  if (input.cc !== undefined && (!Array.isArray(input.cc) || input.cc.length > 0)) {
    lines.push(mailboxField("Cc", input.cc));
  }
  if (input.replyTo) lines.push(mailboxField("Reply-To", input.replyTo));
  lines.push(subjectField(clean(input.subject)));
  lines.push("Date: " + formatDate(input.date ?? new Date()));
  lines.push("Message-ID: " + messageId);
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    lines.push(extraField(name, clean(value)));
  }
  lines.push("MIME-Version: 1.0");

  // One random token per message; "=_" cannot occur in quoted-printable or base64 output.
  let token = crypto.randomUUID().replaceAll("-", "");
  const plainParts = [input.text, input.html].filter((s): s is string => s !== undefined);
  while (plainParts.some((s) => s.includes(token))) token = crypto.randomUUID().replaceAll("-", "");

  const enc = input.bodyEncoding;
  const text = input.text !== undefined ? textEntity(input.text, "plain", enc) : undefined;
  const html = input.html !== undefined ? textEntity(input.html, "html", enc) : undefined;
  let root: Entity = text && html
    ? multipart("alternative", "=_a" + token, [text, html])
    : html ?? text ?? textEntity("", "plain", enc);

  const related: Entity[] = [];
  const mixed: Entity[] = [];
  for (const a of input.attachments ?? []) {
    (html && a.contentId !== undefined ? related : mixed).push(attachmentEntity(a));
  }
  if (related.length > 0) root = multipart("related", "=_r" + token, [root, ...related]);
  if (mixed.length > 0) root = multipart("mixed", "=_m" + token, [root, ...mixed]);

  lines.push(root.head);
  // A single-part body that already ends in a line break must not gain a second one.
  const end = root.body.endsWith("\r\n") ? "" : "\r\n";
  return { raw: lines.join("\r\n") + "\r\n\r\n" + root.body + end, messageId };
}
