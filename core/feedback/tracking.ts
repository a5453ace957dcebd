// Tracking at template compile time: finds the links worth tracking in a mailing's HTML once per
// content, puts per-recipient placeholders in their place, and makes the recipient's URLs.
//
// Tracked: `<a href="http(s)://…">`. Left alone: mailto:, tel:, anchors, anything that is not
// http(s), links marked `data-skicka-notrack`, and links whose URL holds merge fields — those
// include the unsubscribe and view-in-browser links ({{unsubscribe_url}}) and personal URLs
// (https://x.example/?id={{id}}), which the recipient gets exactly as merged, never through our
// redirect: rebuilding a personal URL at click time would need the CRM record as it was when the
// mail was sent, and would let recipient data choose where our redirect points.
import type { TokenSigner } from "./tokens.ts";

/** A template with its tracked links replaced by placeholders. */
export interface TrackedTemplate {
  /** The HTML with `{{{@root.__skicka_links.[i]}}}` hrefs and a `{{{@root.__skicka_pixel}}}`. */
  html: string;
  /** The tracked links' URLs (entities decoded): what a click redirects to, by index. */
  links: string[];
  /** The same links as written in the source (entities kept): put back when not tracking. */
  raw: string[];
}

export const LINKS_VAR = "__skicka_links";
export const PIXEL_VAR = "__skicka_pixel";

const ANCHOR = /<a\b([^>]*?)\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')([^>]*)>/gi;
/** A URL fit for a Location header: http(s), a host, no spaces or control characters. */
// deno-lint-ignore no-control-regex -- control characters are exactly what it refuses
export const SAFE_URL = /^https?:\/\/[^\s/?#]+[^\s\x00-\x1f\x7f]*$/i;
const NOTRACK = /\bdata-skicka-notrack\b/i;
const ENTITY = /&(?:#(\d+)|#x([0-9a-f]+)|(amp|lt|gt|quot|apos));/gi;
const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** An attribute value as the browser reads it (the entities a URL can hold). */
export function decodeEntities(s: string): string {
  return s.replace(ENTITY, (_, dec?: string, hex?: string, name?: string) => {
    if (name) return NAMED[name.toLowerCase()]!;
    const cp = dec !== undefined ? Number(dec) : parseInt(hex!, 16);
    return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : "";
  });
}

/** Whether a link (as written in the source) gets a click redirect. */
export function isTrackable(href: string, tagAttributes: string): boolean {
  if (NOTRACK.test(tagAttributes) || href.includes("{{")) return false;
  return SAFE_URL.test(decodeEntities(href).trim());
}

/** Rewrites a template's tracked links into placeholders and adds the open pixel's. */
export function prepareTracking(html: string): TrackedTemplate {
  const links: string[] = [];
  const raw: string[] = [];
  const out = html.replace(
    ANCHOR,
    (whole, before: string, dq: string | undefined, sq: string | undefined, after: string) => {
      const href = dq ?? sq ?? "";
      if (!isTrackable(href, before + after)) return whole;
      const i = links.length;
      links.push(decodeEntities(href).trim());
      raw.push(href);
      return `<a${before}href="{{{@root.${LINKS_VAR}.[${i}]}}}"${after}>`;
    },
  );
  const pixel = `{{{@root.${PIXEL_VAR}}}}`;
  const end = out.search(/<\/body\s*>(?![\s\S]*<\/body\s*>)/i);
  return {
    html: end >= 0 ? out.slice(0, end) + pixel + out.slice(end) : out + pixel,
    links,
    raw,
  };
}

/**
 * The tracked anchors of a template in link order (the index a click token carries), with the
 * anchor's other attributes: lets statistics say which link a click was on.
 */
export function trackedAnchors(html: string): { url: string; attributes: string }[] {
  const out: { url: string; attributes: string }[] = [];
  for (const m of html.matchAll(ANCHOR)) {
    const href = m[2] ?? m[3] ?? "";
    const attributes = `${m[1] ?? ""} ${m[4] ?? ""}`;
    if (isTrackable(href, attributes)) out.push({ url: decodeEntities(href).trim(), attributes });
  }
  return out;
}

export interface TrackedUrls {
  links: string[];
  pixel: string;
}

/** One recipient's click URLs and pixel tag. */
export function trackedUrls(
  signer: TokenSigner,
  baseUrl: string,
  ref: { tenantId: string; queueId: string },
  linkCount: number,
): TrackedUrls {
  const links = signer.clicks(ref, linkCount).map((token) => `${baseUrl}/t/c/${token}`);
  const src = `${baseUrl}/t/o/${signer.message("open", ref)}.gif`;
  return {
    links,
    pixel: `<img src="${src}" width="1" height="1" alt="" style="display:block;border:0;` +
      `width:1px;height:1px" />`,
  };
}
