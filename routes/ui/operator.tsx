// Operator screens: list and create tenants, change tier, add-ons and status, add staff users,
// set up the tenant's design template (operator_design.tsx).
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { formatDateTime, t } from "../../core/i18n/mod.ts";
import { actorOf, requireOperator } from "../../core/http/context.ts";
import {
  createTenant,
  getTenant,
  listTenants,
  type TenantRow,
  TIERS,
  updateTenant,
} from "../../core/tenants/tenants.ts";
import { createUser, listUsers } from "../../core/tenants/users.ts";
import { PageQuery } from "../../core/http/pagination.ts";
import { Csrf, Page } from "./layout.tsx";
import { errorText, field, fields, readForm } from "./forms.ts";
import type { Flash, FlashStore } from "./flash.ts";
import { operatorDesignPages, TenantDesignCard } from "./operator_design.tsx";

export function operatorPages(app: Hono, deps: AppDeps, flash: FlashStore) {
  const pluginNames = () => deps.registry.all().map((p) => p.name).sort();

  function AddonBoxes({ c, selected }: { c: Context; selected: string[] }) {
    const names = pluginNames();
    const l = c.get("locale");
    return (
      <fieldset>
        <legend>{t(l, "tenants.addons")}</legend>
        {names.length === 0 && <span class="muted">—</span>}
        {names.map((n) => (
          <label>
            <input type="checkbox" name="addons" value={n} checked={selected.includes(n)} /> {n}
          </label>
        ))}
      </fieldset>
    );
  }

  function TierSelect({ c, value }: { c: Context; value: string }) {
    const l = c.get("locale");
    return (
      <label>
        {t(l, "tenants.tier")}
        <select name="tier">
          {TIERS.map((tier) => (
            <option value={tier} selected={tier === value}>{t(l, `tier.${tier}`)}</option>
          ))}
        </select>
      </label>
    );
  }

  async function listPage(c: Context, notice?: Flash | null, status = 200) {
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const page = await listTenants(deps, PageQuery.parse(c.req.query()));
    return c.html(
      <Page c={c} deps={deps} title={t(l, "tenants.title")} flash={notice}>
        <h1>{t(l, "tenants.title")}</h1>
        <div class="card">
          {page.items.length === 0
            ? <p class="muted">{t(l, "tenants.none")}</p>
            : (
              <table class="responsive">
                <thead>
                  <tr>
                    <th>{t(l, "tenants.name")}</th>
                    <th>{t(l, "tenants.tier")}</th>
                    <th>{t(l, "tenants.addons")}</th>
                    <th>{t(l, "tenants.status")}</th>
                    <th>{t(l, "tenants.created")}</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((row) => (
                    <tr>
                      <td data-label={t(l, "tenants.name")}>
                        <a href={`/operator/tenants/${row.id}`}>{row.name}</a>{" "}
                        <span class="muted">{row.slug}</span>
                      </td>
                      <td data-label={t(l, "tenants.tier")}>{t(l, `tier.${row.tier}`)}</td>
                      <td data-label={t(l, "tenants.addons")}>{row.addons.join(", ")}</td>
                      <td data-label={t(l, "tenants.status")}>
                        <span class={`badge ${row.status}`}>{t(l, `status.${row.status}`)}</span>
                      </td>
                      <td data-label={t(l, "tenants.created")}>
                        {formatDateTime(row.created_at, l, tz)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          {page.next_cursor && (
            <p>
              <a href={`?cursor=${page.next_cursor}`}>→</a>
            </p>
          )}
        </div>
        <div class="card">
          <h2>{t(l, "tenants.new")}</h2>
          <form method="post" action="/operator/tenants" class="stack">
            <Csrf c={c} />
            <div class="grid2">
              <label>
                {t(l, "tenants.name")}
                <input name="name" required maxlength={200} />
              </label>
              <label>
                {t(l, "tenants.slug")} <span class="hint">{t(l, "tenants.slug_hint")}</span>
                <input name="slug" pattern="[a-z0-9][a-z0-9\-]{1,62}" />
              </label>
            </div>
            <TierSelect c={c} value="light" />
            <AddonBoxes c={c} selected={[]} />
            <div>
              <button type="submit">{t(l, "tenants.create")}</button>
            </div>
          </form>
        </div>
      </Page>,
      status as 200,
    );
  }

  app.get("/operator/tenants", async (c) => {
    requireOperator(c);
    return await listPage(c, await flash.take(c));
  });

  app.post("/operator/tenants", async (c) => {
    requireOperator(c);
    const form = await readForm(c);
    try {
      const tenant = await createTenant(deps, {
        name: field(form, "name"),
        slug: field(form, "slug") || undefined,
        tier: field(form, "tier") as "light",
        addons: fields(form, "addons"),
      }, actorOf(c));
      await flash.set(c, {
        kind: "ok",
        text: t(c.get("locale"), "tenants.created_flash", { name: tenant.name }),
      });
      return c.redirect(`/operator/tenants/${tenant.id}`, 303);
    } catch (err) {
      return await listPage(c, { kind: "error", text: errorText(c, err) }, 400);
    }
  });

  async function detailPage(
    c: Context,
    tenant: TenantRow,
    extra: { notice?: Flash | null; setup?: { email: string; url: string }; status?: number } = {},
  ) {
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const users = await listUsers(deps, tenant.id);
    return c.html(
      <Page c={c} deps={deps} title={tenant.name} flash={extra.notice}>
        <p>
          <a href="/operator/tenants">← {t(l, "tenants.title")}</a>
        </p>
        <h1>
          {tenant.name}{" "}
          <span class={`badge ${tenant.status}`}>{t(l, `status.${tenant.status}`)}</span>
        </h1>
        <div class="card">
          <form method="post" action={`/operator/tenants/${tenant.id}`} class="stack">
            <Csrf c={c} />
            <label>
              {t(l, "tenants.name")}
              <input name="name" required maxlength={200} value={tenant.name} />
            </label>
            <TierSelect c={c} value={tenant.tier} />
            <AddonBoxes c={c} selected={tenant.addons} />
            <div class="row">
              <button type="submit" name="action" value="save">{t(l, "tenants.save")}</button>
              {tenant.status === "active"
                ? (
                  <button type="submit" name="action" value="suspend" class="danger">
                    {t(l, "tenants.suspend")}
                  </button>
                )
                : (
                  <button type="submit" name="action" value="reactivate" class="secondary">
                    {t(l, "tenants.reactivate")}
                  </button>
                )}
            </div>
          </form>
        </div>
        <div class="card">
          <h2>{t(l, "tenants.users")}</h2>
          {extra.setup && (
            <div class="flash ok" role="status">
              <p>{t(l, "tenants.user_created", { email: extra.setup.email })}</p>
              <p class="secret" data-testid="setup-url">{extra.setup.url}</p>
            </div>
          )}
          <table class="responsive">
            <thead>
              <tr>
                <th>{t(l, "users.email")}</th>
                <th>{t(l, "users.role")}</th>
                <th>{t(l, "users.last_login")}</th>
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <tr>
                  <td data-label={t(l, "users.email")}>{u.email}</td>
                  <td data-label={t(l, "users.role")}>{t(l, `role.${u.role}`)}</td>
                  <td data-label={t(l, "users.last_login")}>
                    {u.last_login_at ? formatDateTime(u.last_login_at, l, tz) : t(l, "users.never")}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>{t(l, "tenants.add_user")}</h2>
          <form method="post" action={`/operator/tenants/${tenant.id}/users`} class="stack">
            <Csrf c={c} />
            <div class="grid2">
              <label>
                {t(l, "users.email")}
                <input type="email" name="email" required />
              </label>
              <label>
                {t(l, "users.role")}
                <select name="role">
                  <option value="admin">{t(l, "role.admin")}</option>
                  <option value="user">{t(l, "role.user")}</option>
                </select>
              </label>
            </div>
            <label>
              {t(l, "users.name")}
              <input name="name" maxlength={200} />
            </label>
            <div>
              <button type="submit">{t(l, "tenants.add_user")}</button>
            </div>
          </form>
        </div>
        <TenantDesignCard c={c} deps={deps} tenant={tenant} />
      </Page>,
      (extra.status ?? 200) as 200,
    );
  }

  operatorDesignPages(app, deps, flash);

  app.get("/operator/tenants/:id", async (c) => {
    requireOperator(c);
    const tenant = await getTenant(deps, c.req.param("id"));
    return await detailPage(c, tenant, { notice: await flash.take(c) });
  });

  app.post("/operator/tenants/:id", async (c) => {
    requireOperator(c);
    const tenant = await getTenant(deps, c.req.param("id"));
    const form = await readForm(c);
    const action = field(form, "action");
    try {
      const patch = action === "suspend"
        ? { status: "suspended" as const }
        : action === "reactivate"
        ? { status: "active" as const }
        : {
          name: field(form, "name"),
          tier: field(form, "tier") as "light",
          addons: fields(form, "addons"),
        };
      const row = await updateTenant(deps, tenant.id, patch, actorOf(c));
      await flash.set(c, {
        kind: "ok",
        text: t(c.get("locale"), "tenants.updated_flash", { name: row.name }),
      });
      return c.redirect(`/operator/tenants/${tenant.id}`, 303);
    } catch (err) {
      return await detailPage(c, tenant, {
        notice: { kind: "error", text: errorText(c, err) },
        status: 400,
      });
    }
  });

  app.post("/operator/tenants/:id/users", async (c) => {
    requireOperator(c);
    const tenant = await getTenant(deps, c.req.param("id"));
    const form = await readForm(c);
    try {
      const { user, setupToken } = await createUser(deps, tenant.id, {
        email: field(form, "email"),
        name: field(form, "name"),
        role: field(form, "role") as "admin",
      }, actorOf(c));
      return await detailPage(c, tenant, {
        setup: { email: user.email, url: `${deps.config.baseUrl}/password/setup/${setupToken}` },
      });
    } catch (err) {
      return await detailPage(c, tenant, {
        notice: { kind: "error", text: errorText(c, err) },
        status: 400,
      });
    }
  });
}
