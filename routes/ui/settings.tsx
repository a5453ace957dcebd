// Tenant settings: API keys (create — shown once — list and revoke), for tenant admins.
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { formatDateTime, t } from "../../core/i18n/mod.ts";
import { requireTenantAdmin } from "../../core/http/context.ts";
import { createApiKey, listApiKeys, revokeApiKey, SCOPES } from "../../core/auth/api_keys.ts";
import { ApiKeyCreate } from "../api/tenant_admin.ts";
import { randomToken } from "../../core/crypto.ts";
import { Csrf, Page } from "./layout.tsx";
import { errorText, field, fields, readForm } from "./forms.ts";
import type { Flash, FlashStore } from "./flash.ts";

export function settingsPages(app: Hono, deps: AppDeps, flash: FlashStore) {
  /** Claims a form's one-time value; false when this form was already submitted. */
  async function firstUse(tenantId: string, once: string): Promise<boolean> {
    if (!/^[\w-]{16,64}$/.test(once)) return true; // no value (old page): nothing to dedupe
    const claimed = await deps.db.insertInto("idempotency_keys").values({
      owner_id: tenantId,
      key: `form:api-key:${once}`,
      method: "POST",
      path: "/settings/api-keys",
      request_hash: "",
      created_at: deps.clock(),
    }).onConflict((oc) => oc.doNothing()).returning("key").executeTakeFirst();
    return claimed !== undefined;
  }

  async function keysPage(
    c: Context,
    extra: { notice?: Flash | null; newKey?: string; status?: number } = {},
  ) {
    const tenant = requireTenantAdmin(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const keys = await listApiKeys(deps, tenant.id);
    return c.html(
      <Page c={c} deps={deps} title={t(l, "api_keys.title")} flash={extra.notice}>
        <h1>{t(l, "api_keys.title")}</h1>
        <p class="muted">{t(l, "api_keys.intro")}</p>
        {extra.newKey && (
          <div class="card">
            <p>{t(l, "api_keys.created")}</p>
            <p class="secret" data-testid="new-api-key">{extra.newKey}</p>
          </div>
        )}
        <div class="card">
          {keys.length === 0
            ? <p class="muted">{t(l, "api_keys.none")}</p>
            : (
              <table class="responsive">
                <thead>
                  <tr>
                    <th>{t(l, "api_keys.name")}</th>
                    <th>{t(l, "api_keys.prefix")}</th>
                    <th>{t(l, "api_keys.scopes")}</th>
                    <th>{t(l, "api_keys.last_used")}</th>
                    <th>{t(l, "common.actions")}</th>
                  </tr>
                </thead>
                <tbody>
                  {keys.map((k) => (
                    <tr>
                      <td data-label={t(l, "api_keys.name")}>{k.name}</td>
                      <td data-label={t(l, "api_keys.prefix")}>
                        <code>{`skk_${k.prefix}_…`}</code>
                      </td>
                      <td data-label={t(l, "api_keys.scopes")}>{k.scopes.join(", ")}</td>
                      <td data-label={t(l, "api_keys.last_used")}>
                        {k.last_used_at
                          ? formatDateTime(k.last_used_at, l, tz)
                          : t(l, "users.never")}
                      </td>
                      <td>
                        {k.revoked_at
                          ? <span class="badge revoked">{t(l, "api_keys.revoked")}</span>
                          : (
                            <form method="post" action={`/settings/api-keys/${k.id}/revoke`}>
                              <Csrf c={c} />
                              <button type="submit" class="danger">
                                {t(l, "api_keys.revoke")}
                              </button>
                            </form>
                          )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
        </div>
        <div class="card">
          <form method="post" action="/settings/api-keys" class="stack">
            <Csrf c={c} />
            <input type="hidden" name="once" value={randomToken(16)} />
            <label>
              {t(l, "api_keys.name")}
              <input name="name" required maxlength={100} />
            </label>
            <fieldset>
              <legend>{t(l, "api_keys.scopes")}</legend>
              {SCOPES.map((s) => (
                <label>
                  <input
                    type="checkbox"
                    name="scopes"
                    value={s}
                    checked={s === "read" || s === "write"}
                  />{" "}
                  {s}
                </label>
              ))}
            </fieldset>
            <div>
              <button type="submit">{t(l, "api_keys.create")}</button>
            </div>
          </form>
        </div>
      </Page>,
      (extra.status ?? 200) as 200,
    );
  }

  app.get("/settings/api-keys", async (c) => keysPage(c, { notice: await flash.take(c) }));

  // The key is rendered in this response only (no redirect): it is never stored to show again.
  // A reload re-posts the form; its one-time field makes that a notice, not a second key.
  app.post("/settings/api-keys", async (c) => {
    const tenant = requireTenantAdmin(c);
    const form = await readForm(c);
    const auth = c.get("auth");
    c.header("cache-control", "no-store");
    try {
      if (!(await firstUse(tenant.id, field(form, "once")))) {
        return await keysPage(c, {
          notice: { kind: "error", text: t(c.get("locale"), "api_keys.already_created") },
        });
      }
      const input = ApiKeyCreate.parse({
        name: field(form, "name"),
        scopes: fields(form, "scopes"),
      });
      const created = await createApiKey(deps, {
        tenantId: tenant.id,
        name: input.name,
        scopes: input.scopes,
        createdBy: auth?.kind === "user" ? auth.user.id : null,
      });
      return await keysPage(c, { newKey: created.key });
    } catch (err) {
      return await keysPage(c, { notice: { kind: "error", text: errorText(c, err) }, status: 400 });
    }
  });

  app.post("/settings/api-keys/:id/revoke", async (c) => {
    const tenant = requireTenantAdmin(c);
    const row = await revokeApiKey(deps, tenant.id, c.req.param("id"));
    if (row) {
      await flash.set(c, {
        kind: "ok",
        text: t(c.get("locale"), "api_keys.revoked_flash", { name: row.name }),
      });
    }
    return c.redirect("/settings/api-keys", 303);
  });
}
