// Reading and minimally amending a message submitted whole (SMTP relay): its header fields, and
// the few fields the platform adds. The body is never touched here.
import addressparser from "nodemailer/lib/addressparser/index.js";

/** Where the header ends: the index of the blank line's first character, and its length. */
function headerEnd(raw: string): { at: number; sep: number } {
  const crlf = raw.indexOf("\r\n\r\n");
  const lf = raw.indexOf("\n\n");
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { at: crlf + 2, sep: 2 };
  if (lf >= 0) return { at: lf + 1, sep: 1 };
  return { at: raw.length, sep: 0 };
}

/** A message or MIME part split at the blank line: its header block and its body. */
export function splitEntity(raw: string): { head: string; body: string } {
  const { at, sep } = headerEnd(raw);
  return { head: raw.slice(0, at), body: raw.slice(at + sep) };
}

/** The header block as written (with its line ends), without the blank line. */
export function headerBlock(raw: string): string {
  return raw.slice(0, headerEnd(raw).at);
}

/** Header fields in order, unfolded, names as written. */
export function headerFields(raw: string): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  for (const line of headerBlock(raw).split(/\r?\n/)) {
    if (!line) continue;
    if ((line[0] === " " || line[0] === "\t") && out.length) {
      out[out.length - 1]!.value += " " + line.trim();
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    out.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  return out;
}

/** The first field of that name (case-insensitive), unfolded; undefined when absent. */
export function headerValue(raw: string, name: string): string | undefined {
  const lower = name.toLowerCase();
  return headerFields(raw).find((f) => f.name.toLowerCase() === lower)?.value;
}

export type FromProblem = "missing" | "several_fields" | "several_mailboxes" | "unparseable";

/**
 * The one mailbox of the From field, parsed as RFC 5322 reads it (quoted strings, comments,
 * groups: nodemailer's addressparser), or what is wrong. Exactly one From field with exactly one
 * mailbox: `"<me@ok.example>" <ceo@victim.example>` is ceo@victim.example, not the quoted text.
 */
export function fromMailbox(raw: string): { address: string } | { problem: FromProblem } {
  const fields = headerFields(raw).filter((f) => f.name.toLowerCase() === "from");
  if (!fields.length) return { problem: "missing" };
  if (fields.length > 1) return { problem: "several_fields" };
  const boxes = (addressparser(fields[0]!.value, { flatten: true }) as { address?: string }[])
    .filter((b) => b.address);
  if (boxes.length > 1) return { problem: "several_mailboxes" };
  const address = boxes[0]?.address;
  if (!address || !/^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/.test(address)) {
    return { problem: "unparseable" };
  }
  return { address };
}

/** The lower-cased domain of the From header's one mailbox, if it has one. */
export function fromDomainOf(raw: string): string | undefined {
  const from = fromMailbox(raw);
  return "address" in from
    ? from.address.slice(from.address.lastIndexOf("@") + 1).toLowerCase()
    : undefined;
}

/**
 * The message with these fields written at the top of its header (after removing any copies of
 * the `replace` names already there, e.g. Return-Path, which only the receiving server may
 * write). Line ends become CRLF in the header; the body is left exactly as submitted except
 * that bare LF line ends become CRLF, as SMTP requires.
 */
export function amendHeader(
  raw: string,
  add: [string, string][],
  replace: string[] = [],
): string {
  const { at, sep } = headerEnd(raw);
  const drop = new Set(replace.map((n) => n.toLowerCase()));
  const kept: string[] = [];
  let skipping = false;
  for (const line of raw.slice(0, at).split(/\r?\n/)) {
    if (!line) continue;
    if (line[0] === " " || line[0] === "\t") {
      if (!skipping) kept.push(line);
      continue;
    }
    const colon = line.indexOf(":");
    skipping = colon > 0 && drop.has(line.slice(0, colon).trim().toLowerCase());
    if (!skipping) kept.push(line);
  }
  const head = [...add.map(([n, v]) => `${n}: ${v.replace(/[\r\n]+/g, " ")}`), ...kept];
  const body = raw.slice(at + sep);
  const crlfBody = body.replace(/\r?\n/g, "\r\n");
  return head.join("\r\n") + "\r\n\r\n" + crlfBody;
}
