// Pages under /p/design_templates: all of the tenant's designs, a new one, default and archive.
// Editing a design's source happens on the core design page (/design/<id>).
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { BUILTIN_DESIGN_MJML } from "../../core/mailings/design.ts";
import {
  archiveDesignTemplate,
  createDesignTemplate,
  listDesignTemplates,
  setDefaultDesign,
} from "../../core/mailings/design_store.ts";
import { Csrf, Page } from "../../routes/ui/layout.tsx";
import { errorText, field, readForm } from "../../routes/ui/forms.ts";
import { type Flash, flashStore } from "../../routes/ui/flash.ts";

const P = "design_templates";
const BASE = `/p/${P}`;

export function designTemplatesUi(app: Hono, deps: AppDeps): void {
  const flashes = flashStore(deps.secret, deps.config.cookieSecure);

  async function index(
    c: Context,
    extra: { notice?: Flash | null; name?: string; source?: string; status?: number } = {},
  ) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const rows = await listDesignTemplates(deps, tenant.id, { includeArchived: true });
    return c.html(
      <Page c={c} deps={deps} title={t(l, `${P}.title`)} flash={extra.notice}>
        <h1>{t(l, `${P}.title`)}</h1>
        <p class="muted">{t(l, `${P}.intro`)}</p>
        <div class="card">
          {rows.length === 0
            ? <p class="muted">{t(l, `${P}.none`)}</p>
            : (
              <table class="responsive" data-testid="design-templates">
                <thead>
                  <tr>
                    <th>{t(l, `${P}.name`)}</th>
                    <th>{t(l, "common.actions")}</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r) => (
                    <tr>
                      <td data-label={t(l, `${P}.name`)}>
                        <a href={`/design/${r.id}`}>{r.name}</a>{" "}
                        {r.is_default && <span class="badge">{t(l, `${P}.default`)}</span>}
                        {r.archived_at && (
                          <span class="badge revoked">{t(l, `${P}.archived`)}</span>
                        )}
                      </td>
                      <td>
                        {!r.archived_at && !r.is_default && (
                          <>
                            <form method="post" action={`${BASE}/${r.id}/default`}>
                              <Csrf c={c} />
                              <button type="submit">{t(l, `${P}.make_default`)}</button>
                            </form>
                            <form method="post" action={`${BASE}/${r.id}/archive`}>
                              <Csrf c={c} />
                              <button type="submit" class="danger">{t(l, `${P}.archive`)}</button>
                            </form>
                          </>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
        </div>
        <div class="card">
          <h2>{t(l, `${P}.new`)}</h2>
          <form method="post" action={`${BASE}/new`} class="stack">
            <Csrf c={c} />
            <label>
              {t(l, `${P}.name`)}
              <input name="name" required maxlength={200} value={extra.name ?? ""} />
            </label>
            <label>
              {t(l, "design.source")}
              <textarea
                name="mjml"
                rows={16}
                spellcheck={false}
                class="code"
                style="font-family:ui-monospace,monospace;font-weight:normal;font-size:.85rem"
              >
                {extra.source ?? BUILTIN_DESIGN_MJML}
              </textarea>
            </label>
            <div>
              <button type="submit">{t(l, `${P}.create`)}</button>
            </div>
          </form>
        </div>
      </Page>,
      (extra.status ?? 200) as 200,
    );
  }

  app.get("/", async (c) => index(c, { notice: await (await flashes).take(c) }));

  app.post("/new", async (c) => {
    const tenant = requireTenant(c);
    const form = await readForm(c);
    const name = field(form, "name");
    const source = field(form, "mjml");
    try {
      const row = await createDesignTemplate(deps, tenant.id, { name, mjml: source }, actorOf(c), {
        multiple: true,
      });
      await (await flashes).set(c, { kind: "ok", text: t(c.get("locale"), `${P}.created`) });
      return c.redirect(`/design/${row.id}`, 303);
    } catch (e) {
      const notice = { kind: "error" as const, text: errorText(c, e) };
      return await index(c, { notice, name, source, status: 400 });
    }
  });

  app.post("/:id/default", async (c) => {
    const tenant = requireTenant(c);
    const row = await setDefaultDesign(deps, tenant.id, c.req.param("id"), actorOf(c));
    const text = t(c.get("locale"), `${P}.default_set`, { name: row.name });
    await (await flashes).set(c, { kind: "ok", text });
    return c.redirect(BASE, 303);
  });

  app.post("/:id/archive", async (c) => {
    const tenant = requireTenant(c);
    try {
      const row = await archiveDesignTemplate(deps, tenant.id, c.req.param("id"), actorOf(c));
      const text = t(c.get("locale"), `${P}.archived_done`, { name: row.name });
      await (await flashes).set(c, { kind: "ok", text });
    } catch (e) {
      await (await flashes).set(c, { kind: "error", text: errorText(c, e) });
    }
    return c.redirect(BASE, 303);
  });
}
