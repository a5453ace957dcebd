// Open and click tracking for a message submitted whole (SMTP relay), only when its sender asked
// for it: the HTML parts are found in the MIME tree, their links replaced with click links and
// an open pixel added, each such part re-encoded as base64. Everything else stays as submitted.
import { Buffer } from "node:buffer";
import { headerFields, splitEntity } from "./raw_message.ts";
import { LINKS_VAR, PIXEL_VAR, prepareTracking } from "../feedback/tracking.ts";

interface HtmlVisit {
  /** The part's HTML; answers the replacement, or undefined to leave the part alone. */
  (html: string): string | undefined;
}

const LINK = new RegExp(`\\{\\{\\{@root\\.${LINKS_VAR}\\.\\[(\\d+)\\]\\}\\}\\}`, "g");
const PIXEL = `{{{@root.${PIXEL_VAR}}}}`;

/** The tracked links of all HTML parts, in order: the positions click tokens carry. */
export function rawTrackedLinks(raw: string): string[] {
  const links: string[] = [];
  walk(raw, (html) => {
    links.push(...prepareTracking(html).links);
    return undefined;
  });
  return links;
}

/**
 * The message with its HTML parts tracked: `urls(n)` gives the click URLs of the n tracked links
 * (in rawTrackedLinks order) and the pixel tag.
 */
export function trackRaw(raw: string, urls: (n: number) => { links: string[]; pixel: string }) {
  const { links, pixel } = urls(rawTrackedLinks(raw).length);
  let offset = 0;
  return walk(raw, (html) => {
    const t = prepareTracking(html);
    const base = offset;
    offset += t.links.length;
    return t.html.replace(LINK, (_, i: string) => links[base + Number(i)] ?? "")
      .replace(PIXEL, pixel);
  });
}

function param(value: string, name: string): string | undefined {
  const m = new RegExp(`;\\s*${name}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, "i").exec(value);
  return m ? (m[1] ?? m[2]) : undefined;
}

/**
 * Visits every text/html leaf in document order; rewrites those the visitor answers for. The
 * message is expected with CRLF line ends (amendHeader makes them so before this runs).
 */
function walk(entity: string, visit: HtmlVisit): string {
  const { head, body } = splitEntity(entity);
  const fields = headerFields(head);
  const field = (n: string) => fields.find((f) => f.name.toLowerCase() === n)?.value;
  const type = field("content-type") ?? "text/plain";
  const mime = type.split(";")[0]!.trim().toLowerCase();
  if (mime.startsWith("multipart/")) {
    const boundary = param(type, "boundary");
    if (!boundary) return entity;
    const delimiter = `--${boundary}`;
    // Delimiter lines cut the body; the preamble, the parts and the epilogue after the closing
    // delimiter are kept as they are, only parts are visited.
    let preamble = "";
    const segments: { delimiter: string; content: string; closing: boolean }[] = [];
    for (const line of body.split(/(?<=\n)/)) {
      const bare = line.replace(/\r?\n$/, "").trimEnd();
      if (bare === delimiter || bare === `${delimiter}--`) {
        segments.push({ delimiter: line, content: "", closing: bare !== delimiter });
      } else if (segments.length) segments[segments.length - 1]!.content += line;
      else preamble += line;
    }
    const parts = segments.map((seg) =>
      seg.delimiter + (seg.closing ? seg.content : rewritePart(seg.content, visit))
    );
    return head + "\r\n" + preamble + parts.join("");
  }
  if (mime !== "text/html") return entity;
  const charset = (param(type, "charset") ?? "us-ascii").toLowerCase();
  // Other charsets would need transcoding; such a part is sent as it is, untracked.
  if (!["utf-8", "utf8", "us-ascii"].includes(charset)) return entity;
  const bytes = decodeBody(body, (field("content-transfer-encoding") ?? "7bit").toLowerCase());
  if (!bytes) return entity;
  const next = visit(new TextDecoder().decode(bytes));
  if (next === undefined) return entity;
  const lines: string[] = [];
  let dropping = false;
  for (const line of head.split("\r\n")) {
    if (!line) continue;
    // The old encoding field goes, with its folded lines.
    if (line[0] === " " || line[0] === "\t") {
      if (!dropping) lines.push(line);
      continue;
    }
    dropping = /^content-transfer-encoding\s*:/i.test(line);
    if (!dropping) lines.push(line);
  }
  lines.push("Content-Transfer-Encoding: base64");
  const b64 = Buffer.from(new TextEncoder().encode(next)).toString("base64")
    .replace(/.{1,76}/g, "$&\r\n");
  return lines.join("\r\n") + "\r\n\r\n" + b64;
}

/** A body part between delimiters: its trailing line break stays with the delimiter. */
function rewritePart(part: string, visit: HtmlVisit): string {
  const m = /\r?\n$/.exec(part);
  const tail = m ? m[0] : "";
  const entity = tail ? part.slice(0, -tail.length) : part;
  const next = walk(entity, visit);
  return next === entity ? part : next.replace(/\r\n$/, "") + tail;
}

function decodeBody(body: string, encoding: string): Uint8Array | null {
  if (encoding === "base64") return new Uint8Array(Buffer.from(body.replace(/\s+/g, ""), "base64"));
  if (encoding === "quoted-printable") {
    const soft = body.replace(/=\r?\n/g, "");
    const out: number[] = [];
    for (let i = 0; i < soft.length; i++) {
      const c = soft[i]!;
      if (c === "=" && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
        out.push(parseInt(soft.slice(i + 1, i + 3), 16));
        i += 2;
      } else {
        for (const b of new TextEncoder().encode(c)) out.push(b);
      }
    }
    return new Uint8Array(out);
  }
  if (encoding === "7bit" || encoding === "8bit" || encoding === "binary") {
    return new TextEncoder().encode(body);
  }
  return null;
}
