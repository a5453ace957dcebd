// Pages under /p/webhooks (admins): the endpoints, a new one (its secret shown once), and per
// endpoint its settings, the delivery log with retry, a test event, a new secret, delete.
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { formatDateTime, formatNumber, t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenantAdmin } from "../../core/http/context.ts";
import { MAIL_EVENT_TYPES } from "../../core/plugin.ts";
import { randomToken } from "../../core/crypto.ts";
import { Csrf, Page } from "../../routes/ui/layout.tsx";
import { errorText, field, fields, readForm } from "../../routes/ui/forms.ts";
import { type Flash, flashStore } from "../../routes/ui/flash.ts";
import {
  createEndpoint,
  deleteEndpoint,
  type Endpoint,
  getEndpoint,
  listEndpoints,
  rotateSecret,
  updateEndpoint,
} from "./store.ts";
import { listDeliveries, retryDelivery, sendTestEvent } from "./deliveries.ts";
import { isSuccess } from "./dispatcher.ts";

const P = "webhooks";
const BASE = `/p/${P}`;

export function webhooksUi(app: Hono, deps: AppDeps): void {
  const flashes = flashStore(deps.secret, deps.config.cookieSecure);

  /**
   * Claims a form's one-time value. Pages that show a secret answer the POST itself (no
   * redirect, so the secret is never stored to show again); a reload re-posts the form, and
   * this turns that into a notice instead of a second endpoint or secret.
   */
  async function firstUse(tenantId: string, once: string): Promise<boolean> {
    if (!/^[\w-]{16,64}$/.test(once)) return false;
    const claimed = await deps.db.insertInto("idempotency_keys").values({
      owner_id: tenantId,
      key: `form:webhooks:${once}`,
      method: "POST",
      path: BASE,
      request_hash: "",
      created_at: deps.clock(),
    }).onConflict((oc) => oc.doNothing()).returning("key").executeTakeFirst();
    return claimed !== undefined;
  }

  const Once = () => <input type="hidden" name="once" value={randomToken(16)} />;

  function EventBoxes({ c, checked }: { c: Context; checked: string[] }) {
    const l = c.get("locale");
    return (
      <fieldset>
        <legend>{t(l, `${P}.events`)}</legend>
        {MAIL_EVENT_TYPES.map((type) => (
          <label>
            <input type="checkbox" name="events" value={type} checked={checked.includes(type)} />
            {" "}
            {t(l, `${P}.event_${type}`)}
          </label>
        ))}
      </fieldset>
    );
  }

  function SecretCard({ c, secret }: { c: Context; secret: string }) {
    const l = c.get("locale");
    return (
      <div class="card" data-testid="webhook-secret">
        <h2>{t(l, `${P}.secret_title`)}</h2>
        <p>{t(l, `${P}.secret_once`)}</p>
        <p class="secret">
          <code>{secret}</code>
        </p>
      </div>
    );
  }

  async function index(
    c: Context,
    extra: {
      notice?: Flash | null;
      url?: string;
      description?: string;
      events?: string[];
      status?: number;
    } = {},
  ) {
    const tenant = requireTenantAdmin(c);
    const l = c.get("locale");
    const rows = await listEndpoints(deps, tenant.id);
    return c.html(
      <Page c={c} deps={deps} title={t(l, `${P}.title`)} flash={extra.notice}>
        <h1>{t(l, `${P}.title`)}</h1>
        <p class="muted">{t(l, `${P}.intro`)}</p>
        <div class="card">
          {rows.length === 0
            ? <p class="muted">{t(l, `${P}.none`)}</p>
            : (
              <table class="responsive" data-testid="webhook-endpoints">
                <thead>
                  <tr>
                    <th>{t(l, `${P}.url`)}</th>
                    <th>{t(l, `${P}.events`)}</th>
                    <th>{t(l, `${P}.status`)}</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r) => (
                    <tr>
                      <td data-label={t(l, `${P}.url`)}>
                        <a href={`${BASE}/${r.id}`}>{r.url}</a>
                        {r.description && <div class="muted">{r.description}</div>}
                      </td>
                      <td data-label={t(l, `${P}.events`)}>
                        {r.events.map((e) => t(l, `${P}.event_${e}`)).join(", ")}
                      </td>
                      <td data-label={t(l, `${P}.status`)}>
                        <span class={r.enabled ? "badge" : "badge revoked"}>
                          {t(l, r.enabled ? `${P}.enabled` : `${P}.disabled`)}
                        </span>
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
            <Once />
            <label>
              {t(l, `${P}.url`)}
              <input
                name="url"
                type="url"
                required
                maxlength={2000}
                placeholder="https://"
                value={extra.url ?? ""}
              />
            </label>
            <label>
              {t(l, `${P}.description`)}
              <input name="description" maxlength={200} value={extra.description ?? ""} />
            </label>
            <EventBoxes c={c} checked={extra.events ?? [...MAIL_EVENT_TYPES]} />
            <div>
              <button type="submit">{t(l, `${P}.create`)}</button>
            </div>
          </form>
        </div>
      </Page>,
      (extra.status ?? 200) as 200,
    );
  }

  async function detail(
    c: Context,
    endpoint: Endpoint,
    extra: { notice?: Flash | null; secret?: string; status?: number } = {},
  ) {
    const tenant = requireTenantAdmin(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const log = await listDeliveries(deps, tenant.id, endpoint.id, { limit: 50 });
    const at = `${BASE}/${endpoint.id}`;
    return c.html(
      <Page c={c} deps={deps} title={t(l, `${P}.title`)} flash={extra.notice}>
        <p>
          <a href={BASE}>← {t(l, `${P}.back`)}</a>
        </p>
        <h1>{endpoint.url}</h1>
        {extra.secret && <SecretCard c={c} secret={extra.secret} />}
        <div class="card">
          <form method="post" action={`${at}/edit`} class="stack">
            <Csrf c={c} />
            <label>
              {t(l, `${P}.url`)}
              <input name="url" type="url" required maxlength={2000} value={endpoint.url} />
            </label>
            <label>
              {t(l, `${P}.description`)}
              <input name="description" maxlength={200} value={endpoint.description} />
            </label>
            <EventBoxes c={c} checked={endpoint.events} />
            <fieldset>
              <legend>{t(l, `${P}.status`)}</legend>
              <label>
                <input type="checkbox" name="enabled" value="true" checked={endpoint.enabled} />
                {" "}
                {t(l, `${P}.enabled`)}
              </label>
            </fieldset>
            <div>
              <button type="submit">{t(l, `${P}.save`)}</button>
            </div>
          </form>
          <div class="actions">
            <form method="post" action={`${at}/test`}>
              <Csrf c={c} />
              <button type="submit" data-testid="send-test">{t(l, `${P}.test`)}</button>
            </form>
            <form method="post" action={`${at}/secret`}>
              <Csrf c={c} />
              <Once />
              <button type="submit">{t(l, `${P}.rotate`)}</button>
            </form>
            <form method="post" action={`${at}/delete`}>
              <Csrf c={c} />
              <button type="submit" class="danger">{t(l, `${P}.delete`)}</button>
            </form>
          </div>
        </div>
        <div class="card">
          <h2>{t(l, `${P}.log`)}</h2>
          {log.length === 0
            ? <p class="muted">{t(l, `${P}.log_none`)}</p>
            : (
              <table class="responsive" data-testid="webhook-log">
                <thead>
                  <tr>
                    <th>{t(l, `${P}.attempted_at`)}</th>
                    <th>{t(l, `${P}.events`)}</th>
                    <th>{t(l, `${P}.http_status`)}</th>
                    <th>{t(l, `${P}.error`)}</th>
                    <th>{t(l, `${P}.duration`)}</th>
                    <th>{t(l, "common.actions")}</th>
                  </tr>
                </thead>
                <tbody>
                  {log.map((d) => (
                    <tr data-testid={`delivery-${d.id}`}>
                      <td data-label={t(l, `${P}.attempted_at`)}>
                        {formatDateTime(d.attempted_at, l, tz)}
                      </td>
                      <td data-label={t(l, `${P}.events`)}>
                        {formatNumber(d.events, l)} ·{" "}
                        {d.event_types.map((e) =>
                          e === "test" ? t(l, `${P}.test_badge`) : t(l, `${P}.event_${e}`)
                        ).join(", ")}
                      </td>
                      <td data-label={t(l, `${P}.http_status`)}>
                        <span class={d.ok ? "badge" : "badge revoked"}>
                          {d.status_code ?? "—"}
                        </span>
                      </td>
                      <td data-label={t(l, `${P}.error`)}>{d.error ?? ""}</td>
                      <td data-label={t(l, `${P}.duration`)}>
                        {t(l, `${P}.duration_ms`, { n: d.duration_ms })}
                      </td>
                      <td>
                        {d.failed > 0 && (
                          <form method="post" action={`${at}/deliveries/${d.id}/retry`}>
                            <Csrf c={c} />
                            <span class="muted">
                              {t(l, `${P}.failed_events`, { n: d.failed })}
                            </span>{" "}
                            <button type="submit">{t(l, `${P}.retry`)}</button>
                          </form>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
        </div>
      </Page>,
      (extra.status ?? 200) as 200,
    );
  }

  const locale = (c: Context) => ({ locale: c.get("locale") });
  const back = async (c: Context, id: string, notice: Flash) => {
    await (await flashes).set(c, notice);
    return c.redirect(`${BASE}/${id}`, 303);
  };

  app.get("/", async (c) => index(c, { notice: await (await flashes).take(c) }));

  app.post("/new", async (c) => {
    const tenant = requireTenantAdmin(c);
    const form = await readForm(c);
    c.header("cache-control", "no-store");
    const input = {
      url: field(form, "url"),
      description: field(form, "description"),
      events: fields(form, "events"),
    };
    if (!(await firstUse(tenant.id, field(form, "once")))) {
      const text = t(c.get("locale"), `${P}.already_done`);
      return await index(c, { notice: { kind: "error", text } });
    }
    try {
      const e = await createEndpoint(
        deps,
        tenant.id,
        input as Parameters<typeof createEndpoint>[2],
        actorOf(c),
        locale(c),
      );
      // The secret is on this page only: no redirect, nothing stored in a cookie.
      const notice = { kind: "ok" as const, text: t(c.get("locale"), `${P}.created`) };
      return await detail(c, e, { notice, secret: e.secret, status: 201 });
    } catch (e) {
      const notice = { kind: "error" as const, text: errorText(c, e) };
      return await index(c, { notice, ...input, status: 400 });
    }
  });

  app.get("/:id", async (c) => {
    const tenant = requireTenantAdmin(c);
    const e = await getEndpoint(deps, tenant.id, c.req.param("id"));
    return await detail(c, e, { notice: await (await flashes).take(c) });
  });

  app.post("/:id/edit", async (c) => {
    const tenant = requireTenantAdmin(c);
    const id = c.req.param("id");
    const form = await readForm(c);
    try {
      await updateEndpoint(
        deps,
        tenant.id,
        id,
        {
          url: field(form, "url"),
          description: field(form, "description"),
          events: fields(form, "events") as Parameters<typeof updateEndpoint>[3]["events"],
          enabled: field(form, "enabled") === "true",
        },
        actorOf(c),
        locale(c),
      );
      return await back(c, id, { kind: "ok", text: t(c.get("locale"), `${P}.saved`) });
    } catch (e) {
      const endpoint = await getEndpoint(deps, tenant.id, id);
      const notice = { kind: "error" as const, text: errorText(c, e) };
      return await detail(c, endpoint, { notice, status: 400 });
    }
  });

  app.post("/:id/test", async (c) => {
    const tenant = requireTenantAdmin(c);
    const id = c.req.param("id");
    const r = await sendTestEvent(deps, tenant.id, id);
    const l = c.get("locale");
    return await back(
      c,
      id,
      isSuccess(r.status_code)
        ? { kind: "ok", text: t(l, `${P}.test_ok`, { status: r.status_code! }) }
        : {
          kind: "error",
          text: t(l, `${P}.test_failed`, { error: r.error ?? `HTTP ${r.status_code}` }),
        },
    );
  });

  app.post("/:id/secret", async (c) => {
    const tenant = requireTenantAdmin(c);
    const id = c.req.param("id");
    c.header("cache-control", "no-store");
    if (!(await firstUse(tenant.id, field(await readForm(c), "once")))) {
      const notice = { kind: "error" as const, text: t(c.get("locale"), `${P}.already_done`) };
      return await detail(c, await getEndpoint(deps, tenant.id, id), { notice });
    }
    const e = await rotateSecret(deps, tenant.id, id, actorOf(c));
    return await detail(c, e, { secret: e.secret });
  });

  app.post("/:id/deliveries/:deliveryId/retry", async (c) => {
    const tenant = requireTenantAdmin(c);
    const id = c.req.param("id");
    const l = c.get("locale");
    try {
      const r = await retryDelivery(
        deps,
        tenant.id,
        id,
        c.req.param("deliveryId"),
        actorOf(c),
        l,
      );
      return await back(c, id, {
        kind: "ok",
        text: t(l, `${P}.retried`, { n: r.requeued }),
      });
    } catch (e) {
      return await back(c, id, { kind: "error", text: errorText(c, e) });
    }
  });

  app.post("/:id/delete", async (c) => {
    const tenant = requireTenantAdmin(c);
    await deleteEndpoint(deps, tenant.id, c.req.param("id"), actorOf(c));
    await (await flashes).set(c, { kind: "ok", text: t(c.get("locale"), `${P}.deleted`) });
    return c.redirect(BASE, 303);
  });
}
