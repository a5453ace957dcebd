// Merge fields of a mailing: which ones a subject or body uses (from the Handlebars AST), their
// fallbacks (`{{firstname default="friend"}}`), and the helpers a render environment installs.
import Handlebars from "handlebars";
import { AppError } from "../errors.ts";
import { safeUrl } from "./sanitize.ts";
import { isDataNamespace } from "./data_namespaces.ts";

type Node = hbs.AST.Node;
type Mustache = hbs.AST.MustacheStatement;

/** Filled in by the send core for every recipient, never from person data. */
export const SYSTEM_FIELDS = ["unsubscribe_url", "view_in_browser_url"] as const;

/** Person columns a template can name (both spellings), as mergeContext in send/render.ts does. */
export const PERSON_FIELDS = [
  "firstname",
  "first_name",
  "lastname",
  "last_name",
  "name",
  "organisation",
  "title",
  "language",
  "email",
] as const; // deno-fmt-ignore

const BUILT_IN_HELPERS = new Set([
  "if",
  "unless",
  "each",
  "with",
  "lookup",
  "log",
  "else",
  "safe_url",
]);
const DEFAULT_HELPER = "skicka_default";

export interface FieldUse {
  name: string;
  /** Every use of the field in these templates has a fallback. */
  has_default: boolean;
  kind: "system" | "person" | "custom";
}

const parser = Handlebars.create();

function parse(source: string, path: string): hbs.AST.Program {
  try {
    return parser.parse(source);
  } catch (e) {
    const message = e instanceof Error ? e.message.split("\n")[0]! : String(e);
    throw new AppError("validation", {}, [{ path, code: "merge_syntax", message }]);
  }
}

/** The default="…" literal of a fallback mustache `{{field default="…"}}`, else null. */
function fallbackOf(node: Mustache): string | null {
  if (node.params.length || node.path.type !== "PathExpression") return null;
  const pairs = node.hash?.pairs ?? [];
  if (pairs.length !== 1 || pairs[0]!.key !== "default") return null;
  const v = pairs[0]!.value;
  if (v.type === "StringLiteral" || v.type === "NumberLiteral" || v.type === "BooleanLiteral") {
    return String((v as hbs.AST.StringLiteral).value);
  }
  return null;
}

/** Visits every node; a visitor answering false keeps the walk out of that node's children. */
function walk(node: Node | undefined | null, visit: (n: Node) => void | boolean) {
  if (!node) return;
  if (visit(node) === false) return;
  const n = node as unknown as Record<string, unknown>;
  for (const key of ["body", "params", "program", "inverse", "hash", "pairs", "value"]) {
    const child = n[key];
    if (Array.isArray(child)) { for (const c of child) walk(c as Node, visit); }
    else if (child && typeof child === "object" && "type" in child) walk(child as Node, visit);
  }
}

function fieldName(p: hbs.AST.PathExpression): string | null {
  if (p.data || p.original === "this" || !p.parts.length) return null;
  return p.parts.join(".");
}

/**
 * The merge fields a set of templates uses, found by walking the Handlebars AST (so text that
 * merely looks like `{{x}}` inside a comment does not count). Throws a validation error naming
 * `path` when a template does not parse, or uses partials.
 */
export function findMergeFields(sources: { path: string; source: string }[]): FieldUse[] {
  const found = new Map<string, boolean>();
  const note = (name: string | null, withDefault: boolean) => {
    if (!name || BUILT_IN_HELPERS.has(name)) return;
    found.set(name, (found.get(name) ?? true) && withDefault);
  };
  for (const { path, source } of sources) {
    walk(parse(source, path), function visit(n): void | boolean {
      if (n.type === "PartialStatement" || n.type === "PartialBlockStatement") {
        throw new AppError("validation", {}, [{ path, code: "merge_partial", message: "" }]);
      }
      // {{#each <plugin>.…}}: the plugin fills it at send time and the fields inside are its
      // items', not the person's; only the else branch runs in the person's context.
      if (overPluginData(n)) {
        walk((n as hbs.AST.BlockStatement).inverse, visit);
        return false;
      }
      if (n.type === "MustacheStatement" || n.type === "SubExpression") {
        const m = n as Mustache;
        if (m.path.type !== "PathExpression") return;
        const path0 = m.path as hbs.AST.PathExpression;
        if (!m.params.length && !m.hash) note(fieldName(path0), false);
        else if (n.type === "MustacheStatement" && fallbackOf(m) !== null) {
          note(fieldName(path0), true);
        }
      }
      // Helper and block arguments ({{#if organisation}}) are fields too.
      if ("params" in n && Array.isArray((n as Mustache).params)) {
        for (const p of (n as Mustache).params) {
          if (p.type === "PathExpression") note(fieldName(p as hbs.AST.PathExpression), false);
        }
      }
    });
  }
  return [...found].map(([name, has_default]) => ({ name, has_default, kind: kindOf(name) }));
}

function overPluginData(n: Node): boolean {
  if (n.type !== "BlockStatement") return false;
  const b = n as hbs.AST.BlockStatement;
  const helper = (b.path as hbs.AST.PathExpression).original;
  const arg = b.params[0];
  return (helper === "each" || helper === "with") && arg?.type === "PathExpression" &&
    (arg as hbs.AST.PathExpression).parts.length > 1 &&
    isDataNamespace((arg as hbs.AST.PathExpression).parts[0]!);
}

function kindOf(name: string): FieldUse["kind"] {
  if ((SYSTEM_FIELDS as readonly string[]).includes(name)) return "system";
  if ((PERSON_FIELDS as readonly string[]).includes(name)) return "person";
  return "custom";
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/**
 * Rewrites fallbacks into plain Handlebars that any render environment understands:
 * `{{firstname default="friend"}}` → `{{#if firstname}}{{firstname}}{{else}}friend{{/if}}`.
 * The fallback text is HTML-escaped for an HTML template; braces in it are dropped.
 */
export function expandFallbacks(source: string, mode: "html" | "text"): string {
  const ast = parse(source, "template");
  const lineStarts = [0];
  for (let i = 0; i < source.length; i++) if (source[i] === "\n") lineStarts.push(i + 1);
  const offset = (p: hbs.AST.Position) => lineStarts[p.line - 1]! + p.column;
  const edits: { from: number; to: number; text: string }[] = [];
  walk(ast, (n) => {
    if (n.type !== "MustacheStatement") return;
    const m = n as Mustache;
    const fallback = fallbackOf(m);
    if (fallback === null) return;
    const name = (m.path as hbs.AST.PathExpression).original;
    const open = m.escaped ? "{{" : "{{{";
    const close = m.escaped ? "}}" : "}}}";
    const text = fallback.replace(/[{}]/g, "");
    edits.push({
      from: offset(m.loc.start),
      to: offset(m.loc.end),
      text: `{{#if ${name}}}${open}${name}${close}{{else}}${
        mode === "html" ? escapeHtml(text) : text
      }{{/if}}`,
    });
  });
  let out = source;
  for (const e of edits.sort((a, b) => b.from - a.from)) {
    out = out.slice(0, e.from) + e.text + out.slice(e.to);
  }
  return out;
}

/**
 * Installs fallbacks into an isolated Handlebars environment (send/render.ts's `hb`): templates
 * compiled afterwards may use `{{field default="…"}}`. A present value would shadow a
 * helperMissing hook (Handlebars then tries to call the string), so compile() first rewrites each
 * fallback mustache into a call of a private helper; helperMissing covers the remaining case of
 * an unknown helper with only a default.
 */
export function installMergeHelpers(hb: typeof Handlebars): void {
  // A URL attribute made of a merge field (sanitize.ts guardMergedUrls) renders through this.
  hb.registerHelper("safe_url", safeUrl);
  hb.registerHelper(
    DEFAULT_HELPER,
    (value: unknown, fallback: unknown) =>
      value === undefined || value === null || value === "" ? fallback : value,
  );
  hb.registerHelper("helperMissing", function (...args: unknown[]) {
    const options = args[args.length - 1] as Handlebars.HelperOptions & { name: string };
    const hash = options.hash ?? {};
    // A plain field nobody has ({{shoe_size}}) renders empty, as in Handlebars itself; only a
    // call with arguments ({{nohelper 1}}) is an error.
    if (args.length === 1) return "default" in hash ? hash.default : undefined;
    throw new Error(`Missing helper: "${options.name}"`);
  });
  const compile = hb.compile.bind(hb);
  hb.compile = ((input: unknown, options?: CompileOptions) => {
    const ast = typeof input === "string" ? hb.parse(input) : input as hbs.AST.Program;
    walk(ast, (n) => {
      if (n.type !== "MustacheStatement") return;
      const m = n as Mustache;
      const fallback = fallbackOf(m);
      if (fallback === null) return;
      const value = m.hash.pairs[0]!.value;
      m.params = [m.path as hbs.AST.PathExpression, value];
      m.path = {
        type: "PathExpression",
        data: false,
        depth: 0,
        parts: [DEFAULT_HELPER],
        original: DEFAULT_HELPER,
        loc: m.loc,
      } as hbs.AST.PathExpression;
      (m as { hash?: hbs.AST.Hash }).hash = undefined;
    });
    return compile(ast, options);
  }) as typeof hb.compile;
}
