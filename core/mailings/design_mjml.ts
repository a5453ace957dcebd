// MJML design sources → strictly validated, compiled HTML with slot placeholders, cached by hash.
import mjml2html from "mjml";
import { sha256Hex } from "../crypto.ts";

/**
 * Slots a design marks with `[[name]]` in its MJML, e.g. `<mj-text>[[content]]</mj-text>`.
 * The square brackets are plain text to MJML (they survive compilation unchanged) and cannot be
 * mistaken for Handlebars merge fields, which the body uses later per recipient.
 */
export const SLOT_NAMES = ["content", "preheader", "header", "footer"] as const;
export type SlotName = (typeof SLOT_NAMES)[number];
const SLOT_RE = /\[\[(content|preheader|header|footer)\]\]/g;

/** Design sources are bounded: MJML is compiled synchronously on the request's thread. */
export const MAX_MJML_CHARS = 200_000;

/** One problem with a design source; `code` "mjml" carries MJML's own (English) message. */
export interface MjmlIssue {
  code: "mjml" | "parse" | "missing_content_slot" | "too_large";
  line: number | null;
  tag: string | null;
  message: string;
}

/** Compiled HTML split at its slots: chunks[i] comes before slots[i]; one more chunk ends it. */
export interface CompiledDesign {
  chunks: string[];
  slots: SlotName[];
}

export type ValidationResult =
  | { ok: true; compiled: CompiledDesign; issues: [] }
  | { ok: false; issues: MjmlIssue[] };

interface MjmlError {
  line?: number;
  tagName?: string;
  message?: string;
}

let compileRuns = 0;
/** How many times MJML itself has run in this process (the cache should keep this low). */
export function mjmlCompileRuns(): number {
  return compileRuns;
}

/** Compiles and validates a design source. Never throws for a bad source: it reports issues. */
export async function validateMjml(source: string): Promise<ValidationResult> {
  if (source.length > MAX_MJML_CHARS) {
    return { ok: false, issues: [issue("too_large", String(MAX_MJML_CHARS))] };
  }
  let html: string;
  try {
    compileRuns++;
    const out = await mjml2html(source, {
      validationLevel: "strict",
      // mj-include would read files from the server's disk: never for tenant-written designs.
      ignoreIncludes: true,
    });
    html = out.html;
  } catch (e) {
    const errors = (e as { errors?: MjmlError[] }).errors;
    if (Array.isArray(errors) && errors.length) {
      return {
        ok: false,
        issues: errors.map((x) => ({
          code: "mjml" as const,
          line: typeof x.line === "number" ? x.line : null,
          tag: x.tagName ?? null,
          message: x.message ?? String(x),
        })).sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity)),
      };
    }
    return { ok: false, issues: [issue("parse", e instanceof Error ? e.message : String(e))] };
  }
  if (!html.includes("[[content]]")) {
    return { ok: false, issues: [issue("missing_content_slot", "")] };
  }
  return { ok: true, compiled: split(protectFromHandlebars(addPreheader(html))), issues: [] };
}

function issue(code: MjmlIssue["code"], message: string): MjmlIssue {
  return { code, line: null, tag: null, message };
}

/**
 * The whole mailing HTML is merged with Handlebars per recipient. Text of the design itself is
 * literal, so `{{` written in a design is escaped (`\{{` prints `{{`); slot values, inserted
 * after this, keep their merge fields.
 */
function protectFromHandlebars(html: string): string {
  // A backslash already before `{{` would otherwise un-escape it: make it an entity first.
  return html.replace(/\\(?=\{\{)/g, "&#92;").replace(/\{\{/g, "\\{{");
}

/** A design without `[[preheader]]` still gets one: hidden text first in the body. */
function addPreheader(html: string): string {
  if (html.includes("[[preheader]]")) return html;
  const hidden = '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all" ' +
    'aria-hidden="true">[[preheader]]</div>';
  return html.replace(/<body[^>]*>/i, (tag) => tag + hidden);
}

function split(html: string): CompiledDesign {
  const chunks: string[] = [];
  const slots: SlotName[] = [];
  let last = 0;
  for (const m of html.matchAll(SLOT_RE)) {
    chunks.push(html.slice(last, m.index));
    slots.push(m[1] as SlotName);
    last = m.index + m[0].length;
  }
  chunks.push(html.slice(last));
  return { chunks, slots };
}

/** A compile that failed for a stored version (it was valid when saved; MJML may have changed). */
export class DesignCompileError extends Error {
  override name = "DesignCompileError";
  constructor(readonly issues: MjmlIssue[]) {
    super(`Design does not compile: ${issues.map((i) => i.message || i.code).join("; ")}`);
  }
}

const MAX_CACHED = 256;
const cache = new Map<string, Promise<CompiledDesign>>();

/** The content hash that keys the compile cache (stored with each version). */
export function designHash(source: string): Promise<string> {
  return sha256Hex(source);
}

/** The cached compile of `hash`, if any; moves it to the young end. */
export function cachedDesign(hash: string): Promise<CompiledDesign> | undefined {
  const hit = cache.get(hash);
  if (hit) {
    cache.delete(hash);
    cache.set(hash, hit);
  }
  return hit;
}

/** Keeps a compile made while validating a save, so the first render needs no second run. */
export function rememberDesign(hash: string, compiled: CompiledDesign): void {
  cache.set(hash, Promise.resolve(compiled));
  if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value!);
}

/** Compiles once per content hash; concurrent callers share one compile. */
export function compileDesign(hash: string, source: string): Promise<CompiledDesign> {
  const hit = cachedDesign(hash);
  if (hit) return hit;
  const pending = validateMjml(source).then((r) => {
    if (!r.ok) throw new DesignCompileError(r.issues);
    return r.compiled;
  });
  pending.catch(() => cache.delete(hash));
  cache.set(hash, pending);
  if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value!);
  return pending;
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Fills the slots in one pass, so a value containing `[[footer]]` is never filled again. */
export function fillSlots(design: CompiledDesign, values: Record<SlotName, string>): string {
  let out = design.chunks[0]!;
  for (let i = 0; i < design.slots.length; i++) {
    out += values[design.slots[i]!] + design.chunks[i + 1]!;
  }
  return out;
}
