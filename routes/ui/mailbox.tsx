// The local mailbox of the `capture` delivery target: what Skicka would have sent, viewable by
// the tenant's staff. HTML is shown in a sandboxed frame (no scripts, no same-origin access).
import type { Hono } from "hono";
import { simpleParser } from "mailparser";
import type { AppDeps } from "../../core/deps.ts";
import { formatDateTime, t } from "../../core/i18n/mod.ts";
import { requireTenant } from "../../core/http/context.ts";
import { PageQuery, pageQuery } from "../../core/http/pagination.ts";
import { isUuid } from "../../core/db/ids.ts";
import { AppError } from "../../core/errors.ts";
import { Page } from "./layout.tsx";

export function mailboxPages(app: Hono, deps: AppDeps) {
  app.get("/mailbox", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const page = await pageQuery(
      deps.db.selectFrom("captured_mail").select(["id", "rcpt_to", "subject", "created_at"])
        .where("tenant_id", "=", tenant.id),
      PageQuery.parse(c.req.query()),
      { newestFirst: true },
    );
    return c.html(
      <Page c={c} deps={deps} title={t(l, "mailbox.title")}>
        <h1>{t(l, "mailbox.title")}</h1>
        <p class="muted">{t(l, "mailbox.intro")}</p>
        <div class="card">
          {page.items.length === 0
            ? <p class="muted">{t(l, "mailbox.empty")}</p>
            : (
              <table class="responsive" data-testid="mailbox">
                <thead>
                  <tr>
                    <th>{t(l, "mailbox.to")}</th>
                    <th>{t(l, "mailbox.subject")}</th>
                    <th>{t(l, "mailbox.when")}</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((m) => (
                    <tr>
                      <td data-label={t(l, "mailbox.to")}>{m.rcpt_to}</td>
                      <td data-label={t(l, "mailbox.subject")}>
                        <a href={`/mailbox/${m.id}`}>{m.subject || "—"}</a>
                      </td>
                      <td data-label={t(l, "mailbox.when")}>
                        {formatDateTime(m.created_at, l, tz)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          {page.next_cursor && (
            <p>
              <a href={`?cursor=${page.next_cursor}`} rel="next">{t(l, "common.next")}</a>
            </p>
          )}
        </div>
      </Page>,
    );
  });

  app.get("/mailbox/:id", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const id = c.req.param("id");
    if (!isUuid(id)) throw new AppError("not_found");
    const m = await deps.db.selectFrom("captured_mail").selectAll().where(
      "tenant_id",
      "=",
      tenant.id,
    )
      .where("id", "=", id).executeTakeFirst();
    if (!m) throw new AppError("not_found");
    const parsed = await simpleParser(m.raw);
    return c.html(
      <Page c={c} deps={deps} title={m.subject}>
        <p>
          <a href="/mailbox">← {t(l, "mailbox.title")}</a>
        </p>
        <h1>{parsed.subject ?? m.subject}</h1>
        <div class="card">
          <table>
            <tbody>
              <tr>
                <th>{t(l, "mailbox.from")}</th>
                <td>{parsed.from?.text ?? m.mail_from}</td>
              </tr>
              <tr>
                <th>{t(l, "mailbox.to")}</th>
                <td>{m.rcpt_to}</td>
              </tr>
              <tr>
                <th>{t(l, "mailbox.when")}</th>
                <td>{formatDateTime(m.created_at, l, tz)}</td>
              </tr>
            </tbody>
          </table>
        </div>
        {parsed.html && (
          <div class="card">
            <iframe
              title={t(l, "mailbox.html")}
              sandbox=""
              srcdoc={parsed.html}
              style="width:100%;min-height:32rem;border:0"
            >
            </iframe>
          </div>
        )}
        {parsed.text && (
          <div class="card">
            <h2>{t(l, "mailbox.text")}</h2>
            <pre class="wrap">{parsed.text}</pre>
          </div>
        )}
        <details class="card">
          <summary>{t(l, "mailbox.raw")}</summary>
          <pre class="wrap" data-testid="raw">{m.raw}</pre>
        </details>
      </Page>,
    );
  });
}
