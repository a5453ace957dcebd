// The link_stats hook: gives every tracked link of a send's HTML a label (its text, or an image's
// alt text) in a data attribute, once when the content is frozen, so statistics can name the
// link a click was on even when two links share a URL.
import { decodeEntities, isTrackable } from "../../core/feedback/tracking.ts";

/** The attribute that carries a link's label in the frozen HTML. */
export const LABEL_ATTR = "data-skicka-link";
export const MAX_LABEL = 100;

const LINK = /<a\b([^>]*)>([\s\S]*?)<\/a\s*>/gi;
const HREF = /\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')/i;
const HAS_LABEL = new RegExp(`\\b${LABEL_ATTR}\\s*=`, "i");
const IMG_ALT = /<img\b[^>]*?\balt\s*=\s*(?:"([^"]*)"|'([^']*)')[^>]*>/gi;

/** What a reader sees of a link: its text, else its images' alt text; merge tags shown as "…". */
export function linkLabel(inner: string): string {
  const text = inner
    .replace(IMG_ALT, (_, dq?: string, sq?: string) => ` ${dq ?? sq ?? ""} `)
    .replace(/<[^>]*>/g, " ");
  const plain = decodeEntities(text)
    // A label is shown, never merged: recipient data has no place in it.
    .replace(/\{\{[\s\S]*?\}\}\}?/g, "…")
    .replace(/[{}]/g, "")
    .replace(/\s+/g, " ").trim();
  return plain.length > MAX_LABEL ? `${plain.slice(0, MAX_LABEL - 1)}…` : plain;
}

/** An attribute value that cannot end the attribute or the tag, nor look like an href. */
function attributeValue(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/'/g, "&#39;")
    .replace(/</g, "&lt;").replace(/>/g, "&gt;")
    // The core reads this marker anywhere in a tag: a label must not switch tracking off.
    .replace(/data-skicka-notrack/gi, "data skicka notrack");
}

/**
 * Adds the label attribute to each tracked link that has none, at the end of the tag so the
 * core finds the same href in the same place and the links keep their order and positions.
 */
export function labelLinks(html: string): string {
  return html.replace(LINK, (whole, attrs: string, inner: string) => {
    const m = HREF.exec(attrs);
    if (!m || HAS_LABEL.test(attrs) || !isTrackable(m[1] ?? m[2] ?? "", attrs)) return whole;
    const label = linkLabel(inner);
    if (!label) return whole;
    const selfClosing = attrs.endsWith("/");
    const body = selfClosing ? attrs.slice(0, -1) : attrs;
    return `<a${body} ${LABEL_ATTR}="${attributeValue(label)}"${selfClosing ? "/" : ""}>` +
      `${inner}</a>`;
  });
}

/** The label a link was given (from its tag's attributes), or "". */
export function labelOf(attributes: string): string {
  const m = new RegExp(`\\b${LABEL_ATTR}\\s*=\\s*"([^"]*)"`, "i").exec(attributes);
  return m ? decodeEntities(m[1]!) : "";
}
