// Preview of a mailing as one chosen recipient (merge applied): the HTML in sandboxed iframes at
// desktop (1024 px) and mobile (375 px) width, and the plain-text part.
import type { Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { t } from "../../core/i18n/mod.ts";
import { requireTenant } from "../../core/http/context.ts";
import { listPersons } from "../../core/people/persons.ts";
import { getMailing } from "../../core/mailings/mailings.ts";
import { type Preview, type PreviewAs, previewMailing } from "../../core/mailings/send.ts";
import { Page } from "./layout.tsx";
import { errorText } from "./forms.ts";

export function previewPages(app: Hono, deps: AppDeps) {
  app.get("/mailings/:id/preview", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const auth = c.get("auth");
    const m = await getMailing(deps, tenant.id, c.req.param("id"));
    const query = c.req.query();
    const q = (query.q ?? "").trim();
    const own = auth?.kind === "user" ? auth.user.email : "";
    // Who to preview as: the one asked for, else the first chosen person or address, else me.
    const as: PreviewAs = query.person
      ? { person_id: query.person }
      : query.address
      ? { address: query.address }
      : m.recipients.persons[0]
      ? { person_id: m.recipients.persons[0] }
      : { address: m.recipients.addresses[0] ?? own };
    let preview: Preview | null = null;
    let problem = "";
    try {
      preview = await previewMailing(deps, tenant.id, m.id, as);
    } catch (err) {
      problem = errorText(c, err);
    }
    const found = q
      ? (await listPersons(deps, tenant.id, { q, status: "active" }, { limit: 20 })).items
      : [];
    const base = `/mailings/${m.id}/preview`;
    return c.html(
      <Page c={c} deps={deps} title={t(l, "mailui.preview")}>
        <p>
          <a href={m.status === "draft" ? `/mailings/${m.id}/review` : `/mailings/${m.id}`}>
            ← {m.subject || t(l, "mailui.no_subject")}
          </a>
        </p>
        <h1>{t(l, "mailui.preview")}</h1>
        <div class="card stack">
          <form method="get" action={base} class="row" role="search">
            <input
              type="search"
              name="q"
              value={q}
              placeholder={t(l, "people.search_hint")}
              aria-label={t(l, "mailui.preview_as_person")}
            />
            <button type="submit" class="secondary">{t(l, "mailui.find_person")}</button>
          </form>
          {q && (
            <ul data-testid="preview-found">
              {found.length === 0 && <li class="muted">{t(l, "mailui.found_none")}</li>}
              {found.map((p) => (
                <li>
                  <a href={`${base}?person=${p.id}`}>
                    {`${p.first_name} ${p.last_name}`.trim() || p.primary_address || p.id}
                  </a>
                </li>
              ))}
            </ul>
          )}
          <form method="get" action={base} class="row">
            <input
              type="email"
              name="address"
              value={query.address ?? ""}
              aria-label={t(l, "mailui.preview_as_address")}
              placeholder={t(l, "mailui.preview_as_address")}
            />
            <button type="submit" class="secondary">{t(l, "mailui.preview_as")}</button>
          </form>
        </div>
        {problem && <p class="field-error" role="alert" data-testid="error">{problem}</p>}
        {preview && (
          <div class="stack">
            <p data-testid="preview-for">
              {t(l, "mailui.preview_for", {
                name: preview.recipient.name || preview.recipient.address,
                address: preview.recipient.address,
              })}
            </p>
            <p>
              <strong>{t(l, "mailui.subject")}:</strong>{" "}
              <span data-testid="preview-subject">{preview.subject}</span>
            </p>
            <div class="preview-frames">
              <figure>
                <figcaption>{t(l, "mailui.desktop")}</figcaption>
                <iframe
                  class="preview-desktop"
                  title={t(l, "mailui.desktop")}
                  sandbox=""
                  width="1024"
                  height="700"
                  srcdoc={preview.html}
                >
                </iframe>
              </figure>
              <figure>
                <figcaption>{t(l, "mailui.mobile")}</figcaption>
                <iframe
                  class="preview-mobile"
                  title={t(l, "mailui.mobile")}
                  sandbox=""
                  width="375"
                  height="700"
                  srcdoc={preview.html}
                >
                </iframe>
              </figure>
            </div>
            <h2>{t(l, "mailui.plain_text")}</h2>
            <pre class="card preview-text" data-testid="preview-text">{preview.text}</pre>
          </div>
        )}
      </Page>,
    );
  });
}
