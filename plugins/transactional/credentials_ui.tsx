// Pages under /p/transactional/smtp-credentials: a tenant admin creates SMTP relay credentials
// (the password shown once), sees when each was last used, and revokes them; the relay networks
// the operator set (clients that submit without AUTH) are shown read-only.
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { formatDateTime, t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenantAdmin } from "../../core/http/context.ts";
import { randomToken } from "../../core/crypto.ts";
import { Csrf, Page } from "../../routes/ui/layout.tsx";
import { errorText, field, readForm } from "../../routes/ui/forms.ts";
import { type Flash, flashStore } from "../../routes/ui/flash.ts";
import {
  type CreatedCredential,
  createSmtpCredential,
  listSmtpCredentials,
  revokeSmtpCredential,
} from "./credentials.ts";
import { listRelayNetworks } from "./relay_networks.ts";

const P = "transactional";
const PATH = "/smtp-credentials";
const BASE = `/p/${P}${PATH}`;

export function smtpCredentialsUi(app: Hono, deps: AppDeps): void {
  const flashes = flashStore(deps.secret, deps.config.cookieSecure);

  /** Claims a form's one-time value; false when this form was already submitted. */
  async function firstUse(tenantId: string, once: string): Promise<boolean> {
    if (!/^[\w-]{16,64}$/.test(once)) return true;
    const claimed = await deps.db.insertInto("idempotency_keys").values({
      owner_id: tenantId,
      key: `form:smtp-credential:${once}`,
      method: "POST",
      path: BASE,
      request_hash: "",
      created_at: deps.clock(),
    }).onConflict((oc) => oc.doNothing()).returning("key").executeTakeFirst();
    return claimed !== undefined;
  }

  async function page(
    c: Context,
    extra: { notice?: Flash | null; created?: CreatedCredential; status?: number } = {},
  ) {
    const tenant = requireTenantAdmin(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const rows = await listSmtpCredentials(deps, tenant.id);
    const networks = await listRelayNetworks(deps, tenant.id);
    const host = new URL(deps.config.baseUrl).hostname;
    return c.html(
      <Page c={c} deps={deps} title={t(l, `${P}.smtp_title`)} flash={extra.notice}>
        <h1>{t(l, `${P}.smtp_title`)}</h1>
        <p class="muted">{t(l, `${P}.smtp_intro`)}</p>
        <div class="card">
          <dl data-testid="smtp-settings">
            <dt>{t(l, `${P}.smtp_server`)}</dt>
            <dd>
              <code>{host}</code>
            </dd>
            <dt>{t(l, `${P}.smtp_port`)}</dt>
            <dd>
              <code>{String(deps.config.submissionSmtpPort)}</code>
            </dd>
            <dt>{t(l, `${P}.smtp_security`)}</dt>
            <dd>{t(l, `${P}.smtp_security_value`)}</dd>
          </dl>
          <p class="muted">{t(l, `${P}.smtp_sender_rule`)}</p>
        </div>
        <div class="card" data-testid="relay-networks">
          <h2>{t(l, `${P}.relay_title`)}</h2>
          <p class="muted">{t(l, `${P}.relay_intro`)}</p>
          {networks.length === 0
            ? <p class="muted">{t(l, `${P}.relay_none`)}</p>
            : (
              <table class="responsive">
                <thead>
                  <tr>
                    <th>{t(l, `${P}.relay_network`)}</th>
                    <th>{t(l, `${P}.relay_note`)}</th>
                    <th>{t(l, `${P}.relay_added`)}</th>
                  </tr>
                </thead>
                <tbody>
                  {networks.map((n) => (
                    <tr>
                      <td data-label={t(l, `${P}.relay_network`)}>
                        <code>{n.network}</code>
                      </td>
                      <td data-label={t(l, `${P}.relay_note`)}>{n.note}</td>
                      <td data-label={t(l, `${P}.relay_added`)}>
                        {formatDateTime(n.created_at, l, tz)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
        </div>
        {extra.created && (
          <div class="card" data-testid="new-smtp-credential">
            <p>{t(l, `${P}.smtp_created`)}</p>
            <dl>
              <dt>{t(l, `${P}.smtp_username`)}</dt>
              <dd>
                <code data-testid="smtp-username">{extra.created.username}</code>
              </dd>
              <dt>{t(l, `${P}.smtp_password`)}</dt>
              <dd>
                <code class="secret" data-testid="smtp-password">{extra.created.password}</code>
              </dd>
            </dl>
          </div>
        )}
        <div class="card">
          {rows.length === 0
            ? <p class="muted">{t(l, `${P}.smtp_none`)}</p>
            : (
              <table class="responsive" data-testid="smtp-credentials">
                <thead>
                  <tr>
                    <th>{t(l, `${P}.smtp_name`)}</th>
                    <th>{t(l, `${P}.smtp_username`)}</th>
                    <th>{t(l, `${P}.smtp_created_at`)}</th>
                    <th>{t(l, `${P}.smtp_last_used`)}</th>
                    <th>{t(l, "common.actions")}</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r) => (
                    <tr>
                      <td data-label={t(l, `${P}.smtp_name`)}>{r.name}</td>
                      <td data-label={t(l, `${P}.smtp_username`)}>
                        <code>{r.username}</code>
                      </td>
                      <td data-label={t(l, `${P}.smtp_created_at`)}>
                        {formatDateTime(r.created_at, l, tz)}
                      </td>
                      <td data-label={t(l, `${P}.smtp_last_used`)}>
                        {r.last_used_at
                          ? formatDateTime(r.last_used_at, l, tz)
                          : t(l, `${P}.smtp_never`)}
                      </td>
                      <td>
                        {r.revoked_at
                          ? <span class="badge revoked">{t(l, `${P}.smtp_revoked`)}</span>
                          : (
                            <form method="post" action={`${BASE}/${r.id}/revoke`}>
                              <Csrf c={c} />
                              <button type="submit" class="danger">
                                {t(l, `${P}.smtp_revoke`)}
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
          <form method="post" action={BASE} class="stack">
            <Csrf c={c} />
            <input type="hidden" name="once" value={randomToken(16)} />
            <label>
              {t(l, `${P}.smtp_name`)}
              <input name="name" required maxlength={100} />
            </label>
            <div>
              <button type="submit">{t(l, `${P}.smtp_create`)}</button>
            </div>
          </form>
        </div>
      </Page>,
      (extra.status ?? 200) as 200,
    );
  }

  app.get(PATH, async (c) => page(c, { notice: await (await flashes).take(c) }));

  // The password is rendered in this response only (no redirect): it is never stored to show
  // again. A reload re-posts the form; its one-time field makes that a notice, not a second one.
  app.post(PATH, async (c) => {
    const tenant = requireTenantAdmin(c);
    const form = await readForm(c);
    const auth = c.get("auth");
    c.header("cache-control", "no-store");
    try {
      if (!(await firstUse(tenant.id, field(form, "once")))) {
        const text = t(c.get("locale"), `${P}.smtp_already_created`);
        return await page(c, { notice: { kind: "error", text } });
      }
      const created = await createSmtpCredential(deps, tenant.id, { name: field(form, "name") }, {
        id: auth?.kind === "user" ? auth.user.id : null,
        label: actorOf(c),
      });
      return await page(c, { created });
    } catch (err) {
      return await page(c, { notice: { kind: "error", text: errorText(c, err) }, status: 400 });
    }
  });

  app.post(`${PATH}/:id/revoke`, async (c) => {
    const tenant = requireTenantAdmin(c);
    const row = await revokeSmtpCredential(deps, tenant.id, c.req.param("id"), actorOf(c));
    if (row) {
      const text = t(c.get("locale"), `${P}.smtp_revoked_flash`, { name: row.name });
      await (await flashes).set(c, { kind: "ok", text });
    }
    return c.redirect(BASE, 303);
  });
}
