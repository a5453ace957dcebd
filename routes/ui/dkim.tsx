// Settings → DKIM keys: tenant admins generate signing keys per domain, copy the DNS records to
// publish, and deactivate or delete keys.
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { formatDateTime, t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenantAdmin } from "../../core/http/context.ts";
import {
  deleteTenantDkimKey,
  DKIM_ALGORITHMS,
  DkimKeyCreate,
  generateTenantDkimKey,
  listTenantDkimKeys,
  setTenantDkimKeyActive,
} from "../../core/send/dkim_keys.ts";
import { Csrf, Page } from "./layout.tsx";
import { errorText, field, readForm } from "./forms.ts";
import type { Flash, FlashStore } from "./flash.ts";

const PATH = "/settings/dkim";

export function dkimPages(app: Hono, deps: AppDeps, flash: FlashStore) {
  async function keysPage(
    c: Context,
    extra: { notice?: Flash | null; status?: number; form?: Record<string, string> } = {},
  ) {
    const tenant = requireTenantAdmin(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const keys = await listTenantDkimKeys(deps, tenant.id);
    const form = extra.form ?? {};
    return c.html(
      <Page c={c} deps={deps} title={t(l, "dkim.title")} flash={extra.notice}>
        <h1>{t(l, "dkim.title")}</h1>
        <p class="muted">{t(l, "dkim.intro")}</p>
        <div class="card">
          {keys.length === 0 ? <p class="muted">{t(l, "dkim.none")}</p> : (
            <table class="responsive">
              <thead>
                <tr>
                  <th>{t(l, "dkim.domain")}</th>
                  <th>{t(l, "dkim.algorithm")}</th>
                  <th>{t(l, "dkim.dns_record")}</th>
                  <th>{t(l, "dkim.status")}</th>
                  <th>{t(l, "common.actions")}</th>
                </tr>
              </thead>
              <tbody>
                {keys.map((k) => (
                  <tr data-testid={`dkim-key-${k.id}`}>
                    <td data-label={t(l, "dkim.domain")}>
                      {k.domain}
                      <br />
                      <span class="muted">{formatDateTime(k.created_at, l, tz)}</span>
                    </td>
                    <td data-label={t(l, "dkim.algorithm")}>{k.algorithm}</td>
                    <td data-label={t(l, "dkim.dns_record")}>
                      <code data-testid="dns-name">{k.dns_name}</code>
                      <p class="secret" data-testid="dns-value">{k.dns_txt_value}</p>
                    </td>
                    <td data-label={t(l, "dkim.status")}>
                      <span class={k.active ? "badge" : "badge revoked"}>
                        {t(l, k.active ? "dkim.active" : "dkim.inactive")}
                      </span>
                    </td>
                    <td>
                      <form method="post" action={`${PATH}/${k.id}/active`}>
                        <Csrf c={c} />
                        <input type="hidden" name="active" value={k.active ? "false" : "true"} />
                        <button type="submit">
                          {t(l, k.active ? "dkim.deactivate" : "dkim.activate")}
                        </button>
                      </form>
                      <form method="post" action={`${PATH}/${k.id}/delete`}>
                        <Csrf c={c} />
                        <button type="submit" class="danger">{t(l, "dkim.delete")}</button>
                      </form>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
        <div class="card">
          <form method="post" action={PATH} class="stack">
            <Csrf c={c} />
            <label>
              {t(l, "dkim.domain")}
              <input name="domain" required maxlength={253} value={form.domain ?? ""} />
            </label>
            <label>
              {t(l, "dkim.algorithm")}
              <select name="algorithm">
                {DKIM_ALGORITHMS.map((a) => (
                  <option value={a} selected={(form.algorithm ?? "rsa") === a}>
                    {t(l, `dkim.algorithm.${a}`)}
                  </option>
                ))}
              </select>
            </label>
            <label>
              {t(l, "dkim.selector")}
              <input name="selector" maxlength={63} value={form.selector ?? ""} />
              <span class="muted">{t(l, "dkim.selector_hint")}</span>
            </label>
            <div>
              <button type="submit">{t(l, "dkim.generate")}</button>
            </div>
          </form>
        </div>
      </Page>,
      (extra.status ?? 200) as 200,
    );
  }

  app.get(PATH, async (c) => keysPage(c, { notice: await flash.take(c) }));

  app.post(PATH, async (c) => {
    const tenant = requireTenantAdmin(c);
    const raw = await readForm(c);
    const form = {
      domain: field(raw, "domain"),
      algorithm: field(raw, "algorithm"),
      selector: field(raw, "selector"),
    };
    try {
      const input = DkimKeyCreate.parse({ ...form, selector: form.selector.trim() || undefined });
      const key = await generateTenantDkimKey(deps, tenant.id, input, actorOf(c));
      await flash.set(c, {
        kind: "ok",
        text: t(c.get("locale"), "dkim.created_flash", { name: key.dns_name }),
      });
      return c.redirect(PATH, 303);
    } catch (err) {
      return await keysPage(c, {
        notice: { kind: "error", text: errorText(c, err) },
        status: 400,
        form,
      });
    }
  });

  app.post(`${PATH}/:id/active`, async (c) => {
    const tenant = requireTenantAdmin(c);
    const active = field(await readForm(c), "active") === "true";
    const key = await setTenantDkimKeyActive(
      deps,
      tenant.id,
      c.req.param("id"),
      active,
      actorOf(c),
    );
    await flash.set(c, {
      kind: "ok",
      text: t(c.get("locale"), "dkim.updated_flash", { name: key.dns_name }),
    });
    return c.redirect(PATH, 303);
  });

  app.post(`${PATH}/:id/delete`, async (c) => {
    const tenant = requireTenantAdmin(c);
    await deleteTenantDkimKey(deps, tenant.id, c.req.param("id"), actorOf(c));
    await flash.set(c, { kind: "ok", text: t(c.get("locale"), "dkim.deleted_flash") });
    return c.redirect(PATH, 303);
  });
}
