// Server-side HTML sanitiser for mailing bodies: an allowlist over a real HTML parser
// (sanitize-html on htmlparser2), which also cleans what Word and Google Docs paste in.
// @ts-types="npm:@types/sanitize-html@2.16.2"
import sanitizeHtml from "sanitize-html";

const TAGS = [
  "p",
  "br",
  "div",
  "span",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "strong",
  "b",
  "em",
  "i",
  "u",
  "s",
  "strike",
  "sub",
  "sup",
  "small",
  "blockquote",
  "ul",
  "ol",
  "li",
  "a",
  "img",
  "hr",
  "pre",
  "code",
  "table",
  "thead",
  "tbody",
  "tfoot",
  "tr",
  "td",
  "th",
  "caption",
  "colgroup",
  "col",
  "center",
]; // deno-fmt-ignore

const CELL = ["colspan", "rowspan", "align", "valign", "width", "height", "bgcolor"];

/** A CSS value without url(), expression(), javascript: or behaviours. */
const SAFE_VALUE =
  /^(?!.*(?:url\s*\(|expression\s*\(|javascript:|behavior|-moz-binding|@import))[^<>]{0,200}$/i;

const STYLES = [
  "color",
  "background-color",
  "font-size",
  "font-weight",
  "font-style",
  "font-family",
  "text-align",
  "text-decoration",
  "text-transform",
  "line-height",
  "letter-spacing",
  "vertical-align",
  "width",
  "max-width",
  "height",
  "margin",
  "margin-top",
  "margin-right",
  "margin-bottom",
  "margin-left",
  "padding",
  "padding-top",
  "padding-right",
  "padding-bottom",
  "padding-left",
  "border",
  "border-top",
  "border-right",
  "border-bottom",
  "border-left",
  "border-collapse",
  "border-radius",
  "display",
]; // deno-fmt-ignore

/** Images may be inline data only as raster images (never SVG, which can carry script). */
const DATA_IMAGE = /^data:image\/(?:png|jpe?g|gif|webp);base64,[a-z0-9+/=\s]+$/i;

// Google Docs wraps a paste in <b style="font-weight:normal" id="docs-internal-guid-…">.
const NOT_BOLD = /font-weight\s*:\s*(?:normal|[1-4]00)\b/i;

const OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: TAGS,
  allowedAttributes: {
    "*": ["style", "dir", "align", "title", "lang"],
    a: ["href", "name", "target", "rel"],
    img: ["src", "alt", "width", "height", "border"],
    table: ["width", "border", "cellpadding", "cellspacing", "role", "bgcolor", "align"],
    td: CELL,
    th: CELL,
    col: ["span", "width"],
    colgroup: ["span", "width"],
    ol: ["start", "type"],
  },
  allowedSchemes: ["http", "https", "mailto", "tel"],
  allowedSchemesByTag: { img: ["http", "https", "cid", "data"] },
  allowedSchemesAppliedToAttributes: ["href", "src"],
  allowProtocolRelative: false,
  allowedStyles: { "*": Object.fromEntries(STYLES.map((s) => [s, [SAFE_VALUE]])) },
  // Dropped with their contents: scripts, styles, Word's <xml> islands, forms.
  nonTextTags: ["script", "style", "textarea", "option", "noscript", "xml", "title", "head"],
  disallowedTagsMode: "discard",
  transformTags: {
    b: (tagName, attribs) =>
      NOT_BOLD.test(attribs.style ?? "") ? { tagName: "span", attribs: {} } : { tagName, attribs },
    a: (tagName, attribs) =>
      attribs.target
        ? { tagName, attribs: { ...attribs, target: "_blank", rel: "noopener noreferrer" } }
        : { tagName, attribs },
  },
  exclusiveFilter: (frame) =>
    frame.tag === "img" &&
    (!frame.attribs.src ||
      (/^data:/i.test(frame.attribs.src) && !DATA_IMAGE.test(frame.attribs.src))),
};

/**
 * Merge tags kept verbatim through sanitising: {{name}} and {{name default="…"}}, or blocks. A
 * default holds no quotes, `=`, `:` or markup: a tag restored inside an attribute value must not
 * be able to close the attribute, add one, or carry a `javascript:` URL past the scheme check.
 */
const MERGE_TAG =
  /\{\{\s*(?:[#/]?(?:if|unless)\b[^{}<>"'=]*|else|safe_url\s+(?:this\.)?[A-Za-z_][\w.]*|[A-Za-z_][\w.]*(?:\s+default=(?:"[^"'{}<>:=&`\\]*"|'[^"'{}<>:=&`\\]*'))?)\s*\}\}/g;

/** Skicka's own system links: signed URLs the render stage writes, safe as they are. */
const SYSTEM_URL = /^\{\{\s*(?:unsubscribe_url|view_in_browser_url)\s*\}\}$/;
/** A URL that is one field (href="{{link}}"): kept, but checked per recipient by safe_url. */
const FIELD_URL = /^\{\{\s*(?:safe_url\s+)?((?:this\.)?[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\}\}$/;
/**
 * A URL whose scheme and host are written out before its first merge tag: data then only fills
 * a path, query or fragment (https://uni.example/event?id={{member_no}}), or a mailto address.
 */
const FIXED_ORIGIN = /^(?:https?:\/\/[^/?#{}"\s]+[/?#]|mailto:)[^{]*\{\{/i;
const URL_ATTR = /\s(href|src)="([^"]*)"/g;

/**
 * Merge tags in a link or image URL: the scheme allowlist never saw what they will hold, so a
 * URL made of a field is rendered through safe_url (http(s) and mailto only, per recipient),
 * one with a written-out origin keeps its tags, and any other is dropped — whatever block or
 * comment surrounds it, since the check happens where the value is known.
 */
function guardMergedUrls(html: string): string {
  return html.replace(URL_ATTR, (attr, name: string, value: string) => {
    if (!value.includes("{{")) return attr;
    const v = value.trim();
    if (SYSTEM_URL.test(v)) return attr;
    const field = FIELD_URL.exec(v);
    if (field) return ` ${name}="{{safe_url ${field[1]}}}"`;
    return FIXED_ORIGIN.test(v) ? attr : "";
  });
}

/** The render-time half of guardMergedUrls: a merged URL that is not http(s) or mailto is "". */
export function safeUrl(value: unknown): string {
  const s = typeof value === "string" ? value.trim() : "";
  return /^(?:https?:\/\/[^\s/?#]+|mailto:[^\s]+)/i.test(s) ? s : "";
}

/**
 * Cleans a mailing body: only allowlisted tags, attributes and style properties survive; no
 * scripts, event handlers, `javascript:` or non-image `data:` URLs; Word/Docs markup (mso-
 * styles, o:p tags, conditional comments, classes) is dropped. Merge tags pass unchanged, except
 * triple-stash `{{{x}}}` (unescaped output), which becomes `{{x}}`.
 */
export function sanitizeHtmlBody(html: string): string {
  const kept: string[] = [];
  const marked = html.replace(/\{\{\{\s*([A-Za-z_][\w.]*)\s*\}\}\}/g, "{{$1}}")
    .replace(MERGE_TAG, (tag) => {
      kept.push(tag);
      return `\u2060MERGE${kept.length - 1}\u2060`;
    });
  const clean = sanitizeHtml(marked, OPTIONS)
    .replace(/\u2060MERGE(\d+)\u2060/g, (whole, i: string) => kept[Number(i)] ?? whole);
  return guardMergedUrls(clean);
}
