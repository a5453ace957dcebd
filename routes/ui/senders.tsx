// Settings → sender identities: admins add, verify and remove the From addresses mailings use.
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { formatDateTime, t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenantAdmin } from "../../core/http/context.ts";
import {
  createSender,
  deleteSender,
  listSenders,
  verifySender,
} from "../../core/mailings/senders.ts";
import { Csrf, Page } from "./layout.tsx";
import { errorText, field, readForm } from "./forms.ts";
import type { Flash, FlashStore } from "./flash.ts";

export function senderPages(app: Hono, deps: AppDeps, flash: FlashStore) {
  async function index(
    c: Context,
    extra: { notice?: Flash | null; name?: string; address?: string; status?: number } = {},
  ) {
    const tenant = requireTenantAdmin(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const rows = await listSenders(deps, tenant.id);
    return c.html(
      <Page c={c} deps={deps} title={t(l, "senders.title")} flash={extra.notice}>
        <h1>{t(l, "senders.title")}</h1>
        <p class="muted">{t(l, "senders.intro")}</p>
        <div class="card">
          {rows.length === 0
            ? <p class="muted">{t(l, "senders.none")}</p>
            : (
              <table class="responsive" data-testid="senders">
                <thead>
                  <tr>
                    <th>{t(l, "senders.name")}</th>
                    <th>{t(l, "senders.address")}</th>
                    <th>{t(l, "senders.status")}</th>
                    <th>{t(l, "common.actions")}</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((s) => (
                    <tr>
                      <td data-label={t(l, "senders.name")}>{s.name}</td>
                      <td data-label={t(l, "senders.address")}>{s.address}</td>
                      <td data-label={t(l, "senders.status")}>
                        {s.verified_at
                          ? (
                            <span class="badge" title={formatDateTime(s.verified_at, l, tz)}>
                              {t(l, "senders.verified")}
                            </span>
                          )
                          : <span class="badge revoked">{t(l, "senders.unverified")}</span>}
                      </td>
                      <td>
                        {!s.verified_at && (
                          <form method="post" action={`/settings/senders/${s.id}/verify`}>
                            <Csrf c={c} />
                            <button type="submit">{t(l, "senders.verify")}</button>
                          </form>
                        )}
                        <form method="post" action={`/settings/senders/${s.id}/delete`}>
                          <Csrf c={c} />
                          <button type="submit" class="danger">{t(l, "senders.delete")}</button>
                        </form>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
        </div>
        <div class="card">
          <form method="post" action="/settings/senders" class="stack">
            <Csrf c={c} />
            <label>
              {t(l, "senders.name")}
              <input name="name" required maxlength={200} value={extra.name ?? ""} />
            </label>
            <label>
              {t(l, "senders.address")}
              <input name="address" type="email" required maxlength={254} value={extra.address} />
            </label>
            <div>
              <button type="submit">{t(l, "senders.add")}</button>
            </div>
          </form>
        </div>
      </Page>,
      (extra.status ?? 200) as 200,
    );
  }

  app.get("/settings/senders", async (c) => index(c, { notice: await flash.take(c) }));

  app.post("/settings/senders", async (c) => {
    const tenant = requireTenantAdmin(c);
    const form = await readForm(c);
    const name = field(form, "name");
    const address = field(form, "address");
    try {
      await createSender(deps, tenant.id, { name, address }, actorOf(c));
    } catch (e) {
      const notice = { kind: "error" as const, text: errorText(c, e) };
      return await index(c, { notice, name, address, status: 400 });
    }
    await flash.set(c, { kind: "ok", text: t(c.get("locale"), "senders.added") });
    return c.redirect("/settings/senders", 303);
  });

  app.post("/settings/senders/:id/verify", async (c) => {
    const tenant = requireTenantAdmin(c);
    const row = await verifySender(deps, tenant.id, c.req.param("id"), actorOf(c));
    await flash.set(c, {
      kind: "ok",
      text: t(c.get("locale"), "senders.verified_done", { address: row.address }),
    });
    return c.redirect("/settings/senders", 303);
  });

  app.post("/settings/senders/:id/delete", async (c) => {
    const tenant = requireTenantAdmin(c);
    await deleteSender(deps, tenant.id, c.req.param("id"), actorOf(c));
    await flash.set(c, { kind: "ok", text: t(c.get("locale"), "senders.deleted") });
    return c.redirect("/settings/senders", 303);
  });
}
