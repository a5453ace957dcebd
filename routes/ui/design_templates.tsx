// Staff UI for the design template: MJML source, validation errors by line, a live preview and
// the list of versions. Admins edit (any staff with the design_templates plugin); others read.
import type { Context, Hono } from "hono";
import { raw } from "hono/html";
import { z } from "zod";
import type { AppDeps } from "../../core/deps.ts";
import { formatDateTime, type Locale, t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { localizeIssues } from "../../core/http/errors.ts";
import { AppError } from "../../core/errors.ts";
import {
  BUILTIN_DESIGN_MJML,
  type DesignSlots,
  fillDesign,
  renderDesign,
} from "../../core/mailings/design.ts";
import { validateMjml } from "../../core/mailings/design_mjml.ts";
import {
  addDesignVersion,
  createDesignTemplate,
  getDesignTemplate,
  getDesignVersion,
  listDesignTemplates,
  mjmlFieldIssues,
  MULTI_DESIGN_PLUGIN,
} from "../../core/mailings/design_store.ts";
import { Csrf, Page } from "./layout.tsx";
import { errorText, field, readForm } from "./forms.ts";
import type { Flash, FlashStore } from "./flash.ts";

export interface ShownIssue {
  line: number | null;
  tag: string | null;
  message: string;
}

/** Who may change designs: tenant admins; with the plugin, any staff user. */
export function canEditDesign(c: Context): boolean {
  const auth = c.get("auth");
  if (auth?.kind !== "user") return false;
  return auth.user.role === "admin" || c.get("plugins").has(MULTI_DESIGN_PLUGIN);
}

function requireEditor(c: Context) {
  const tenant = requireTenant(c);
  if (!canEditDesign(c)) throw new AppError("forbidden");
  return tenant;
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

function Issues({ l, issues }: { l: Locale; issues: ShownIssue[] }) {
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

// Live preview: re-checks the source a moment after typing stops; without JavaScript the
// "Check and preview" button does the same through the form.
const LIVE_SCRIPT = `(() => {
  const form = document.querySelector("form[data-design-form]");
  if (!form) return;
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
      const res = await fetch("/design/preview", { method: "POST", body,
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

function issueLine(l: Locale, i: ShownIssue): string {
  return i.line === null
    ? t(l, "design.error_noline", { message: i.message })
    : t(l, "design.error_line", { line: i.line, tag: i.tag ?? "", message: i.message });
}

export function designPages(app: Hono, deps: AppDeps, flash: FlashStore) {
  /** The page for a tenant without any design: the built-in design, and a create form. */
  async function nonePage(
    c: Context,
    extra: { source?: string; name?: string; issues?: ShownIssue[]; status?: number } = {},
  ) {
    const l = c.get("locale");
    const edit = canEditDesign(c);
    const source = extra.source ?? BUILTIN_DESIGN_MJML;
    const preview = await previewSource(l, source);
    return c.html(
      <Page c={c} deps={deps} title={t(l, "design.title")} flash={await flash.take(c)}>
        <h1>{t(l, "design.title")}</h1>
        <p class="muted">{t(l, "design.none")}</p>
        <p class="muted">{t(l, "design.intro")}</p>
        <Issues l={l} issues={extra.issues ?? []} />
        {edit
          ? (
            <form method="post" action="/design" class="card stack" data-design-form>
              <Csrf c={c} />
              <label>
                {t(l, "design.name")}
                <input name="name" required maxlength={200} value={extra.name ?? ""} />
              </label>
              <label>
                {t(l, "design.source")}
                <textarea
                  name="mjml"
                  rows={24}
                  spellcheck={false}
                  class="code"
                  style="font-family:ui-monospace,monospace;font-weight:normal;font-size:.85rem"
                >
                  {source}
                </textarea>
              </label>
              <div>
                <button type="submit">{t(l, "design.create")}</button>
              </div>
            </form>
          )
          : <p>{t(l, "design.read_only")}</p>}
        <Preview l={l} html={preview.html} />
        {edit && <script>{raw(LIVE_SCRIPT)}</script>}
      </Page>,
      (extra.status ?? 200) as 200,
    );
  }

  async function templatePage(
    c: Context,
    id: string,
    extra: {
      notice?: Flash | null;
      source?: string;
      issues?: ShownIssue[];
      html?: string | null;
      status?: number;
    } = {},
  ) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const tpl = await getDesignTemplate(deps, tenant.id, id);
    const wanted = c.req.query("version");
    const shown = wanted && wanted !== tpl.current_version_id
      ? await getDesignVersion(deps, tenant.id, wanted)
      : null;
    if (shown && shown.template_id !== tpl.id) throw new AppError("not_found");
    const versionId = shown?.id ?? tpl.current_version_id;
    const edit = canEditDesign(c) && !tpl.archived_at;
    const html = extra.html !== undefined
      ? extra.html
      : (await renderDesign(deps, tenant.id, versionId, sampleSlots(l))).html;
    const source = extra.source ?? shown?.mjml ?? tpl.mjml;
    return c.html(
      <Page c={c} deps={deps} title={`${t(l, "design.title")}: ${tpl.name}`} flash={extra.notice}>
        <h1>
          {tpl.name} {tpl.is_default && <span class="badge">{t(l, "design.default")}</span>}
          {tpl.archived_at && <span class="badge revoked">{t(l, "design.archived")}</span>}
        </h1>
        <p class="muted">{t(l, "design.intro")}</p>
        {shown && <p>{t(l, "design.viewing_old", { version: shown.version })}</p>}
        <Issues l={l} issues={extra.issues ?? []} />
        <form method="post" action={`/design/${tpl.id}`} class="card stack" data-design-form>
          <Csrf c={c} />
          <label>
            {t(l, "design.source")}
            <textarea
              name="mjml"
              rows={24}
              spellcheck={false}
              class="code"
              style="font-family:ui-monospace,monospace;font-weight:normal;font-size:.85rem"
              readonly={!edit}
              data-testid="mjml-source"
            >
              {source}
            </textarea>
          </label>
          {edit
            ? (
              <div>
                <button type="submit" name="action" value="save">{t(l, "design.save")}</button>{" "}
                <button type="submit" name="action" value="check" class="secondary">
                  {t(l, "design.check")}
                </button>
              </div>
            )
            : <p class="muted">{t(l, "design.read_only")}</p>}
        </form>
        <Preview l={l} html={html} />
        <div class="card">
          <h2>{t(l, "design.versions")}</h2>
          <ol class="versions" data-testid="versions">
            {tpl.versions.map((v) => (
              <li>
                <a href={`/design/${tpl.id}?version=${v.id}`}>
                  {t(l, "design.version", { version: v.version })}
                </a>{" "}
                · {formatDateTime(v.created_at, l, tz)} · {v.created_by ?? ""}
                {v.id === tpl.current_version_id && ` · ${t(l, "design.current")}`}
              </li>
            ))}
          </ol>
        </div>
        {edit && <script>{raw(LIVE_SCRIPT)}</script>}
      </Page>,
      (extra.status ?? 200) as 200,
    );
  }

  app.get("/design", async (c) => {
    const tenant = requireTenant(c);
    const all = await listDesignTemplates(deps, tenant.id);
    const first = all.find((x) => x.is_default) ?? all[0];
    if (first) return c.redirect(`/design/${first.id}`, 303);
    return await nonePage(c);
  });

  app.post("/design", async (c) => {
    const tenant = requireEditor(c);
    const form = await readForm(c);
    const source = field(form, "mjml");
    const name = field(form, "name");
    try {
      const row = await createDesignTemplate(deps, tenant.id, { name, mjml: source }, actorOf(c), {
        multiple: c.get("plugins").has(MULTI_DESIGN_PLUGIN),
      });
      await flash.set(c, { kind: "ok", text: t(c.get("locale"), "design.created") });
      return c.redirect(`/design/${row.id}`, 303);
    } catch (e) {
      const issues = mjmlIssuesOf(c, e);
      if (!issues) throw e;
      return await nonePage(c, { source, name, issues, status: 400 });
    }
  });

  /** JSON for the live preview: validation issues (with lines) and the rendered sample. */
  app.post("/design/preview", async (c) => {
    requireTenant(c);
    const l = c.get("locale");
    const source = field(await readForm(c), "mjml").slice(0, 250_000);
    const out = await previewSource(l, source);
    return c.json({ ...out, lines: out.issues.map((i) => issueLine(l, i)) });
  });

  app.get(
    "/design/:id",
    async (c) => templatePage(c, c.req.param("id"), { notice: await flash.take(c) }),
  );

  app.post("/design/:id", async (c) => {
    const tenant = requireEditor(c);
    const l = c.get("locale");
    const id = c.req.param("id");
    const form = await readForm(c);
    const source = field(form, "mjml");
    if (field(form, "action") === "check") {
      const out = await previewSource(l, source);
      const notice = out.valid ? { kind: "ok" as const, text: t(l, "design.valid") } : null;
      return await templatePage(c, id, {
        notice,
        source,
        issues: out.issues,
        html: out.html,
        status: out.valid ? 200 : 400,
      });
    }
    try {
      const v = await addDesignVersion(deps, tenant.id, id, { mjml: source }, actorOf(c));
      await flash.set(c, { kind: "ok", text: t(l, "design.saved", { version: v.version }) });
      return c.redirect(`/design/${id}`, 303);
    } catch (e) {
      const issues = mjmlIssuesOf(c, e);
      if (!issues) throw e;
      return await templatePage(c, id, { source, issues, html: null, status: 400 });
    }
  });
}

/** The problems of a failed save as lines to show, or null when the error is unexpected. */
function mjmlIssuesOf(c: Context, e: unknown): ShownIssue[] | null {
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
