// The design editor's parts, shared by the staff's design pages (design_templates.tsx) and the
// operator's page for a tenant's design (operator_design.tsx): the MJML source form, validation
// errors by line, a live preview with sample content, and the list of versions.
import type { Context } from "hono";
import { raw } from "hono/html";
import { z } from "zod";
import { formatDateTime, type Locale, t } from "../../core/i18n/mod.ts";
import { localizeIssues } from "../../core/http/errors.ts";
import { AppError } from "../../core/errors.ts";
import { type DesignSlots, fillDesign } from "../../core/mailings/design.ts";
import { validateMjml } from "../../core/mailings/design_mjml.ts";
import { mjmlFieldIssues } from "../../core/mailings/design_store.ts";
import { Csrf } from "./layout.tsx";
import { errorText } from "./forms.ts";

export interface ShownIssue {
  line: number | null;
  tag: string | null;
  message: string;
}

/** Sample slot values for previews, in the viewer's language. */
export function sampleSlots(l: Locale): DesignSlots {
  return {
    content: `<h1>${t(l, "design.sample_heading")}</h1><p>${t(l, "design.sample_body")}</p>`,
    header: t(l, "design.sample_header"),
    footer: t(l, "design.sample_footer"),
    preheader: t(l, "design.sample_preheader"),
  };
}

/** Validates a source and renders it with the sample, without saving or caching anything. */
export async function previewSource(l: Locale, source: string) {
  const r = await validateMjml(source);
  const issues: ShownIssue[] = localizeIssues(l, mjmlFieldIssues(r.issues));
  return { valid: r.ok, issues, html: r.ok ? fillDesign(r.compiled, sampleSlots(l)) : null };
}

export function Issues({ l, issues }: { l: Locale; issues: ShownIssue[] }) {
  return (
    <div class="flash error" role="alert" data-testid="mjml-issues" hidden={!issues.length}>
      <p>{t(l, "design.errors")}</p>
      <ol class="errors" data-testid="mjml-errors">
        {issues.map((i) => <li data-line={i.line ?? ""}>{issueLine(l, i)}</li>)}
      </ol>
    </div>
  );
}

/** Desktop and phone-width previews; sandboxed (no scripts) and fed by srcdoc. */
export function Preview({ l, html }: { l: Locale; html: string | null }) {
  return (
    <div class="card">
      <h2>{t(l, "design.preview")}</h2>
      <div
        class="design-previews"
        style="display:flex;gap:1rem;flex-wrap:wrap;align-items:flex-start"
      >
        <iframe
          sandbox=""
          data-testid="preview-desktop"
          title={t(l, "design.preview_title")}
          srcdoc={html ?? ""}
          style="flex:1 1 600px;min-width:320px;height:640px;border:1px solid #ccc;background:#fff"
        >
        </iframe>
        <iframe
          sandbox=""
          data-testid="preview-mobile"
          title={t(l, "design.preview_title")}
          srcdoc={html ?? ""}
          style="width:375px;height:640px;border:1px solid #ccc;background:#fff"
        >
        </iframe>
      </div>
    </div>
  );
}

// Live preview: re-checks the source a moment after typing stops (at the form's
// data-preview-url); without JavaScript the "Check and preview" button does the same.
const LIVE_SCRIPT = `(() => {
  const form = document.querySelector("form[data-design-form]");
  if (!form) return;
  const url = form.dataset.previewUrl;
  const area = form.querySelector("textarea[name=mjml]");
  const frames = document.querySelectorAll(".design-previews iframe");
  const box = document.querySelector("[data-testid=mjml-issues]");
  const list = box.querySelector("ol");
  let timer, seq = 0;
  area.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++seq;
      const body = new URLSearchParams({ mjml: area.value });
      const res = await fetch(url, { method: "POST", body,
        headers: { "x-csrf-token": form.querySelector("input[name=_csrf]").value } });
      if (!res.ok || mine !== seq) return;
      const out = await res.json();
      if (out.html !== null) frames.forEach((f) => f.srcdoc = out.html);
      list.replaceChildren(...out.lines.map((text, i) => {
        const li = document.createElement("li");
        li.textContent = text;
        li.dataset.line = out.issues[i].line ?? "";
        return li;
      }));
      box.hidden = out.lines.length === 0;
    }, 500);
  });
})();`;

/** The live preview's script; goes after the form and the Preview. */
export function LiveScript() {
  return <script>{raw(LIVE_SCRIPT)}</script>;
}

function issueLine(l: Locale, i: ShownIssue): string {
  return i.line === null
    ? t(l, "design.error_noline", { message: i.message })
    : t(l, "design.error_line", { line: i.line, tag: i.tag ?? "", message: i.message });
}

/** The live preview's answer: validation issues (with lines) and the rendered sample. */
export async function previewAnswer(l: Locale, source: string) {
  const out = await previewSource(l, source.slice(0, 250_000));
  return { ...out, lines: out.issues.map((i) => issueLine(l, i)) };
}

/**
 * The MJML source form: with `create`, a name and a create button (a tenant without a design);
 * else save-as-new-version and check buttons, or the source read-only.
 */
export function DesignForm(
  { c, action, previewUrl, source, editable, create }: {
    c: Context;
    action: string;
    previewUrl: string;
    source: string;
    editable: boolean;
    create?: { name: string };
  },
) {
  const l = c.get("locale");
  return (
    <form
      method="post"
      action={action}
      class="card stack"
      data-design-form
      data-preview-url={previewUrl}
    >
      <Csrf c={c} />
      {create && (
        <label>
          {t(l, "design.name")}
          <input name="name" required maxlength={200} value={create.name} />
        </label>
      )}
      <label>
        {t(l, "design.source")}
        <textarea
          name="mjml"
          rows={24}
          spellcheck={false}
          class="code"
          style="font-family:ui-monospace,monospace;font-weight:normal;font-size:.85rem"
          readonly={!editable}
          data-testid="mjml-source"
        >
          {source}
        </textarea>
      </label>
      {!editable ? <p class="muted">{t(l, "design.read_only")}</p> : create
        ? (
          <div>
            <button type="submit">{t(l, "design.create")}</button>
          </div>
        )
        : (
          <div>
            <button type="submit" name="action" value="save">{t(l, "design.save")}</button>{" "}
            <button type="submit" name="action" value="check" class="secondary">
              {t(l, "design.check")}
            </button>
          </div>
        )}
    </form>
  );
}

/** A template's versions, newest first, each linking to its source. */
export function Versions(
  { c, versions, currentId, href }: {
    c: Context;
    versions: { id: string; version: number; created_at: Date; created_by: string | null }[];
    currentId: string | null;
    href: (versionId: string) => string;
  },
) {
  const l = c.get("locale");
  return (
    <div class="card">
      <h2>{t(l, "design.versions")}</h2>
      <ol class="versions" data-testid="versions">
        {versions.map((v) => (
          <li>
            <a href={href(v.id)}>{t(l, "design.version", { version: v.version })}</a> ·{" "}
            {formatDateTime(v.created_at, l, c.get("timeZone"))} · {v.created_by ?? ""}
            {v.id === currentId && ` · ${t(l, "design.current")}`}
          </li>
        ))}
      </ol>
    </div>
  );
}

/** The problems of a failed save as lines to show, or null when the error is unexpected. */
export function mjmlIssuesOf(c: Context, e: unknown): ShownIssue[] | null {
  if (e instanceof AppError && e.code === "validation" && Array.isArray(e.details)) {
    return localizeIssues(c.get("locale"), e.details).map((d) => {
      const at = d as unknown as Partial<ShownIssue>;
      return {
        line: at.line ?? null,
        tag: at.tag ?? null,
        message: d.path === "mjml" ? d.message : `${d.path}: ${d.message}`,
      };
    });
  }
  if (e instanceof z.ZodError || e instanceof AppError) {
    if (e instanceof AppError && (e.code === "not_found" || e.code === "forbidden")) return null;
    return [{ line: null, tag: null, message: errorText(c, e) }];
  }
  return null;
}
