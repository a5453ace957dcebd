// The operator sets up a tenant's design template (a Light tenant's only one) with the staff
// design editor's parts: created when the tenant has none, else edited as a new version.
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { t } from "../../core/i18n/mod.ts";
import { actorOf, requireOperator } from "../../core/http/context.ts";
import { AppError } from "../../core/errors.ts";
import { getTenant, type TenantRow } from "../../core/tenants/tenants.ts";
import { BUILTIN_DESIGN_MJML, renderDesign } from "../../core/mailings/design.ts";
import {
  defaultDesignOf,
  getDesignTemplate,
  getDesignVersion,
  saveDefaultDesign,
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

const PREVIEW_URL = "/operator/design/preview";

/** The tenant page's card: which design the tenant has, and the way to set it up. */
export async function TenantDesignCard(
  { c, deps, tenant }: { c: Context; deps: AppDeps; tenant: TenantRow },
) {
  const l = c.get("locale");
  const design = await defaultDesignOf(deps, tenant.id);
  return (
    <div class="card stack" data-testid="tenant-design">
      <h2>{t(l, "design.title")}</h2>
      <p>{design ? design.name : t(l, "design.none")}</p>
      <p>
        <a class="button secondary" href={`/operator/tenants/${tenant.id}/design`}>
          {t(l, design ? "operator_design.edit" : "operator_design.set_up")}
        </a>
      </p>
    </div>
  );
}

interface Shown {
  notice?: Flash | null;
  source?: string;
  name?: string;
  issues?: ShownIssue[];
  html?: string | null;
  status?: number;
}

export function operatorDesignPages(app: Hono, deps: AppDeps, flash: FlashStore) {
  async function designPage(c: Context, tenant: TenantRow, extra: Shown = {}) {
    const l = c.get("locale");
    const base = `/operator/tenants/${tenant.id}/design`;
    const current = await defaultDesignOf(deps, tenant.id);
    const tpl = current ? await getDesignTemplate(deps, tenant.id, current.id) : null;
    const wanted = c.req.query("version");
    const shown = tpl && wanted && wanted !== tpl.current_version_id
      ? await getDesignVersion(deps, tenant.id, wanted)
      : null;
    if (tpl && shown && shown.template_id !== tpl.id) throw new AppError("not_found");
    const source = extra.source ?? shown?.mjml ?? tpl?.mjml ?? BUILTIN_DESIGN_MJML;
    const html = extra.html !== undefined
      ? extra.html
      : tpl
      ? (await renderDesign(deps, tenant.id, shown?.id ?? tpl.current_version_id, sampleSlots(l)))
        .html
      : (await previewSource(l, source)).html;
    const title = t(l, "operator_design.title", { tenant: tenant.name });
    return c.html(
      <Page c={c} deps={deps} title={title} flash={extra.notice}>
        <p>
          <a href={`/operator/tenants/${tenant.id}`}>← {tenant.name}</a>
        </p>
        <h1>{title}</h1>
        <p>{tpl ? tpl.name : t(l, "design.none")}</p>
        <p class="muted">{t(l, "operator_design.intro")}</p>
        {shown && <p>{t(l, "design.viewing_old", { version: shown.version })}</p>}
        <Issues l={l} issues={extra.issues ?? []} />
        <DesignForm
          c={c}
          action={base}
          previewUrl={PREVIEW_URL}
          source={source}
          editable
          create={tpl ? undefined : { name: extra.name ?? "" }}
        />
        <Preview l={l} html={html} />
        {tpl && (
          <Versions
            c={c}
            versions={tpl.versions}
            currentId={tpl.current_version_id}
            href={(v) => `${base}?version=${v}`}
          />
        )}
        <LiveScript />
      </Page>,
      (extra.status ?? 200) as 200,
    );
  }

  app.get("/operator/tenants/:id/design", async (c) => {
    requireOperator(c);
    const tenant = await getTenant(deps, c.req.param("id"));
    return await designPage(c, tenant, { notice: await flash.take(c) });
  });

  app.post("/operator/tenants/:id/design", async (c) => {
    requireOperator(c);
    const l = c.get("locale");
    const tenant = await getTenant(deps, c.req.param("id"));
    const form = await readForm(c);
    const source = field(form, "mjml");
    const name = field(form, "name");
    if (field(form, "action") === "check") {
      const out = await previewSource(l, source);
      const notice = out.valid ? { kind: "ok" as const, text: t(l, "design.valid") } : null;
      return await designPage(c, tenant, {
        notice,
        source,
        name,
        issues: out.issues,
        html: out.html,
        status: out.valid ? 200 : 400,
      });
    }
    try {
      // Every write is the target tenant's, audited with the operator as the actor.
      const r = await saveDefaultDesign(
        deps,
        tenant.id,
        { mjml: source, ...(name ? { name } : {}) },
        actorOf(c),
      );
      await flash.set(c, {
        kind: "ok",
        text: r.created ? t(l, "design.created") : t(l, "design.saved", { version: r.version }),
      });
      return c.redirect(`/operator/tenants/${tenant.id}/design`, 303);
    } catch (e) {
      const issues = mjmlIssuesOf(c, e);
      if (!issues) throw e;
      return await designPage(c, tenant, { source, name, issues, html: null, status: 400 });
    }
  });

  /** JSON for the live preview; nothing is saved, so no tenant is involved. */
  app.post(PREVIEW_URL, async (c) => {
    requireOperator(c);
    return c.json(await previewAnswer(c.get("locale"), field(await readForm(c), "mjml")));
  });
}
