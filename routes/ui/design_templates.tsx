// Staff UI for the design template: MJML source, validation errors by line, a live preview and
// the list of versions. Admins edit (any staff with the design_templates plugin); others read.
// The editor's parts live in design_editor.tsx (the operator's page uses them too).
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { AppError } from "../../core/errors.ts";
import { BUILTIN_DESIGN_MJML, renderDesign } from "../../core/mailings/design.ts";
import {
  addDesignVersion,
  createDesignTemplate,
  getDesignTemplate,
  getDesignVersion,
  listDesignTemplates,
  MULTI_DESIGN_PLUGIN,
} from "../../core/mailings/design_store.ts";
import { Page } from "./layout.tsx";
import { field, readForm } from "./forms.ts";
import type { Flash, FlashStore } from "./flash.ts";
import {
  DesignForm,
  Issues,
  LiveScript,
  mjmlIssuesOf,
  Preview,
  previewAnswer,
  previewSource,
  sampleSlots,
  type ShownIssue,
  Versions,
} from "./design_editor.tsx";

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
            <DesignForm
              c={c}
              action="/design"
              previewUrl="/design/preview"
              source={source}
              editable
              create={{ name: extra.name ?? "" }}
            />
          )
          : <p>{t(l, "design.read_only")}</p>}
        <Preview l={l} html={preview.html} />
        {edit && <LiveScript />}
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
        <DesignForm
          c={c}
          action={`/design/${tpl.id}`}
          previewUrl="/design/preview"
          source={source}
          editable={edit}
        />
        <Preview l={l} html={html} />
        <Versions
          c={c}
          versions={tpl.versions}
          currentId={tpl.current_version_id}
          href={(v) => `/design/${tpl.id}?version=${v}`}
        />
        {edit && <LiveScript />}
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
    return c.json(await previewAnswer(c.get("locale"), field(await readForm(c), "mjml")));
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
