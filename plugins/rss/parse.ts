// Feed bytes → items: decodes by declared or sniffed charset, parses RSS 2.0 and Atom with
// rss-parser, and maps each entry to a stored item with sanitised HTML and http(s)-only URLs.
import Parser from "rss-parser";
// @ts-types="npm:@types/sanitize-html@2.16.2"
import sanitizeHtml from "sanitize-html";
import { sanitizeHtmlBody } from "../../core/mailings/sanitize.ts";
import { sha256Hex } from "../../core/crypto.ts";

export const SUMMARY_CHARS = 300;
/** Beyond this, the oldest entries of one answer are ignored. */
export const MAX_ITEMS_PER_FETCH = 200;
/** Longer guids (in UTF-8) are deduplicated by hash: an index row has a size limit. */
export const GUID_KEY_BYTES = 512;
export const GUID_DISPLAY_CHARS = 500;

export interface ParsedItem {
  /** The guid for display: at most GUID_DISPLAY_CHARS characters of it. */
  guid: string;
  /** What items are deduplicated on: the guid, or its SHA-256 when over GUID_KEY_BYTES. */
  guid_key: string;
  title: string;
  link: string | null;
  summary: string;
  content_html: string;
  image: string | null;
  published_at: Date | null;
}

export interface ParsedFeed {
  title: string;
  site_url: string | null;
  items: ParsedItem[];
}

export class FeedParseError extends Error {
  override name = "FeedParseError";
}

type Media = { $?: { url?: string; medium?: string; type?: string } };
type Entry = Parser.Item & {
  id?: string;
  summary?: string;
  "content:encoded"?: string;
  media?: Media | Media[];
  thumbnail?: Media | Media[];
};

const parser: Parser<Record<string, unknown>, Entry> = new Parser({
  customFields: {
    item: [["media:content", "media", { keepArray: true }], [
      "media:thumbnail",
      "thumbnail",
      { keepArray: true },
    ]],
  },
});

/**
 * Text from bytes. The XML declaration or Content-Type names a charset, but feeds lie: bytes
 * that are valid UTF-8 with non-ASCII in them are UTF-8 whatever the label (Latin-1 text is
 * almost never valid UTF-8), so only other bytes are decoded by the label.
 */
export function decodeFeed(bytes: Uint8Array, contentType = ""): string {
  // A UTF-16 byte order mark is unambiguous.
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes).replace(/^\uFEFF/, "");
  } catch {
    // Not UTF-8: use what the feed says.
  }
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 200));
  const label = /encoding=["']([\w.:-]+)["']/i.exec(head)?.[1] ??
    /charset=([\w.:-]+)/i.exec(contentType)?.[1] ?? "windows-1252";
  try {
    return new TextDecoder(label).decode(bytes);
  } catch {
    return new TextDecoder("windows-1252").decode(bytes);
  }
}

/** An absolute http(s) URL, else null (javascript:, data:, relative paths we cannot resolve). */
export function httpUrl(raw: unknown, base?: string | null): string | null {
  if (typeof raw !== "string" || !raw.trim()) return null;
  try {
    const u = new URL(raw.trim(), base ?? undefined);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

function plainText(html: string): string {
  const text = sanitizeHtml(html, { allowedTags: [], allowedAttributes: {} });
  // sanitize-html leaves entities encoded in text; a plain-text field wants characters.
  return text.replace(/&nbsp;/g, " ").replace(/&lt;/g, "<").replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&")
    .replace(/\s+/g, " ").trim();
}

function excerpt(text: string): string {
  if (text.length <= SUMMARY_CHARS) return text;
  const cut = text.slice(0, SUMMARY_CHARS);
  const space = cut.lastIndexOf(" ");
  return `${(space > SUMMARY_CHARS * 0.6 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/**
 * The platform's mailing sanitiser, then links limited to http(s) and mailto (no tel: or cid:
 * from strangers), and braces neutralised so feed text can never become a merge tag.
 */
export function sanitizeItemHtml(html: string): string {
  return sanitizeHtmlBody(html.replace(/\{\{/g, "{ {"))
    // sanitizeHtmlBody writes attributes as name="value": drop what is not web or mail.
    .replace(/\shref="(?!https?:|mailto:)[^"]*"/gi, "")
    .replace(/\ssrc="(?!https?:)[^"]*"/gi, "")
    .replace(/\{\{/g, "{ {");
}

function mediaUrl(m: Media | Media[] | undefined, base: string | null): string | null {
  for (const x of [m ?? []].flat()) {
    const a = x?.$ ?? {};
    const image = !a.medium || a.medium === "image" || (a.type ?? "").startsWith("image/");
    const url = image ? httpUrl(a.url, base) : null;
    if (url) return url;
  }
  return null;
}

function imageOf(e: Entry, html: string, base: string | null): string | null {
  const enc = e.enclosure;
  if (
    enc?.url && ((enc.type ?? "").startsWith("image/") || /\.(jpe?g|png|gif|webp)$/i.test(enc.url))
  ) {
    const url = httpUrl(enc.url, base);
    if (url) return url;
  }
  const media = mediaUrl(e.media, base) ?? mediaUrl(e.thumbnail, base);
  if (media) return media;
  const img = /<img\b[^>]*\bsrc="([^"]+)"/i.exec(html)?.[1];
  return img ? httpUrl(img.replace(/&amp;/g, "&"), base) : null;
}

function dateOf(e: Entry): Date | null {
  for (const raw of [e.isoDate, e.pubDate]) {
    if (!raw) continue;
    const d = new Date(raw);
    if (!Number.isNaN(d.getTime())) return d;
  }
  return null;
}

async function fingerprint(s: string): Promise<string> {
  return "sha256:" + await sha256Hex(s);
}

/** The dedupe key of a guid: itself when short, else its fingerprint (never a prefix). */
export async function guidKey(guid: string): Promise<string> {
  return new TextEncoder().encode(guid).byteLength > GUID_KEY_BYTES
    ? await fingerprint(guid)
    : guid;
}

/** Parses RSS 2.0 or Atom text; throws FeedParseError on malformed XML or no feed at all. */
export async function parseFeed(xml: string): Promise<ParsedFeed> {
  let feed: Parser.Output<Entry> & { link?: string; title?: string };
  try {
    feed = await parser.parseString(xml);
  } catch (e) {
    throw new FeedParseError(e instanceof Error ? e.message.split("\n")[0]! : String(e));
  }
  const site = httpUrl(feed.link);
  const items: ParsedItem[] = [];
  const seen = new Set<string>();
  for (const e of (feed.items ?? []).slice(0, MAX_ITEMS_PER_FETCH)) {
    const rawHtml = e["content:encoded"] ?? e.content ?? e.summary ?? "";
    const content_html = sanitizeItemHtml(rawHtml);
    const link = httpUrl(e.link, site);
    const title = plainText(e.title ?? "");
    const published_at = dateOf(e);
    const summaryText = e.summary ?? e.contentSnippet ?? rawHtml;
    const guid = (typeof e.guid === "string" && e.guid.trim()) || e.id?.trim() || link ||
      await fingerprint(`${title}\n${published_at?.toISOString() ?? ""}\n${rawHtml}`);
    const key = await guidKey(guid);
    if (seen.has(key)) continue;
    seen.add(key);
    items.push({
      // By code point: a cut through a surrogate pair would not be valid text.
      guid: guid.length > GUID_DISPLAY_CHARS
        ? Array.from(guid).slice(0, GUID_DISPLAY_CHARS).join("")
        : guid,
      guid_key: key,
      title: title.slice(0, 1000),
      link,
      summary: excerpt(plainText(summaryText)),
      content_html,
      image: imageOf(e, content_html || rawHtml, site),
      published_at,
    });
  }
  return { title: plainText(feed.title ?? "").slice(0, 500), site_url: site, items };
}
