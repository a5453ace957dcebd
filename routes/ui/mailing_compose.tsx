// The compose page of a draft: the form (mailing_form.tsx), Save draft, version-checked autosave
// for static/compose.js, attachments (upload within core's limits, list, remove). A mailing
// that is no longer a draft opens its status page instead (mailing_send.tsx).
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { formatNumber, t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { AppError, ERRORS } from "../../core/errors.ts";
import { listCustomFields, listPersons } from "../../core/people/persons.ts";
import { listSegments } from "../../core/people/saved_segments.ts";
import { listLists } from "../../core/people/lists.ts";
import { getMailing, type Mailing, patchMailing } from "../../core/mailings/mailings.ts";
import { listSenders } from "../../core/mailings/senders.ts";
import { listDesignTemplates } from "../../core/mailings/design_store.ts";
import {
  addAttachment,
  deleteAttachment,
  limitsOf,
  listAttachments,
} from "../../core/mailings/attachments.ts";
import { Csrf, Page } from "./layout.tsx";
import { errorText, field, readForm } from "./forms.ts";
import type { Flash, FlashStore } from "./flash.ts";
import { type Choices, ComposeForm, type Draft, draftFields } from "./mailing_form.tsx";
import { statusPage } from "./mailing_send.tsx";

const personName = (p: { first_name: string; last_name: string }) =>
  `${p.first_name} ${p.last_name}`.trim();

async function loadChoices(deps: AppDeps, tenantId: string, d: Draft, q: string) {
  const page = { limit: 200 };
  const [senders, designs, segments, lists, customs, found] = await Promise.all([
    listSenders(deps, tenantId, { verifiedOnly: true }),
    listDesignTemplates(deps, tenantId),
    listSegments(deps, tenantId, page),
    listLists(deps, tenantId, page),
    listCustomFields(deps, tenantId),
    q ? listPersons(deps, tenantId, { q, status: "active" }, { limit: 20 }) : null,
  ]);
  const ids = d.recipients.persons.slice(0, 1000);
  const chosen = ids.length
    ? await deps.db.selectFrom("persons").select(["id", "first_name", "last_name"])
      .where("tenant_id", "=", tenantId).where("id", "in", ids).execute()
    : [];
  const ch: Choices = {
    senders,
    designs: designs.filter((x) => x.current_version_id)
      .map((x) => ({ name: x.name, version_id: x.current_version_id! })),
    segments: segments.items,
    lists: lists.items,
    customs: customs.map((f) => ({ key: f.key, label: f.label })),
    persons: new Map(chosen.map((p) => [p.id, personName(p) || p.id])),
    found: (found?.items ?? []).map((p) => ({
      id: p.id,
      name: personName(p) || p.primary_address || p.id,
      address: p.primary_address,
    })),
  };
  return ch;
}

const draftOf = (m: Mailing): Draft => ({ ...m });

export function composePages(app: Hono, deps: AppDeps, flash: FlashStore) {
  async function compose(
    c: Context,
    d: Draft,
    opts: { flash?: Flash | null; error?: string; status?: number } = {},
  ) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const q = (c.req.query("q") ?? "").trim();
    const [ch, attachments] = await Promise.all([
      loadChoices(deps, tenant.id, d, q),
      listAttachments(deps, tenant.id, d.id),
    ]);
    const limits = limitsOf(deps.config);
    const mb = (n: number) => formatNumber(Math.round(n / 1024 / 1024 * 10) / 10, l);
    const title = d.subject || t(l, "mailui.no_subject");
    return c.html(
      <Page c={c} deps={deps} title={title} flash={opts.flash}>
        <link rel="stylesheet" href="/mailings/assets/quill.snow.css" />
        <p>
          <a href="/mailings">← {t(l, "mailui.title")}</a>
        </p>
        <div class="row">
          <h1>{title}</h1>
          <span class="badge status-draft">{t(l, "mailui.status.draft")}</span>
        </div>
        <ComposeForm c={c} d={d} ch={ch} q={q} error={opts.error} />
        <section class="card stack" id="attachments">
          <h2>{t(l, "mailui.attachments")}</h2>
          {attachments.length === 0
            ? <p class="muted">{t(l, "mailui.no_attachments")}</p>
            : (
              <ul data-testid="attachments">
                {attachments.map((a) => (
                  <li class="row">
                    <span>{a.filename}</span>
                    <span class="muted">
                      {a.content_type} · {t(l, "mailui.kb", {
                        n: Math.max(1, Math.round(Number(a.size) / 1024)),
                      })}
                    </span>
                    <form method="post" action={`/mailings/${d.id}/attachments/${a.id}/delete`}>
                      <Csrf c={c} />
                      <button type="submit" class="link">{t(l, "mailui.remove")}</button>
                    </form>
                  </li>
                ))}
              </ul>
            )}
          <form
            method="post"
            action={`/mailings/${d.id}/attachments`}
            enctype="multipart/form-data"
            class="row"
          >
            <Csrf c={c} />
            <input type="file" name="file" required aria-label={t(l, "mailui.attach")} />
            <button type="submit" class="secondary">{t(l, "mailui.attach")}</button>
          </form>
          <small class="muted">
            {t(l, "mailui.attach_limits", { file: mb(limits.perFile), total: mb(limits.total) })}
          </small>
        </section>
        <form
          method="post"
          action={`/mailings/${d.id}/delete`}
          class="row"
          data-confirm={t(l, "mailui.delete_confirm")}
        >
          <Csrf c={c} />
          <button type="submit" class="danger">{t(l, "mailui.delete")}</button>
        </form>
        <script src="/mailings/assets/quill.js" defer></script>
        <script
          src="/mailings/assets/compose.js"
          defer
          data-saved={t(l, "mailui.autosaved")}
          data-failed={t(l, "mailui.autosave_failed")}
          data-image-prompt={t(l, "mailui.image_prompt")}
          data-link-prompt={t(l, "mailui.link_prompt")}
        >
        </script>
      </Page>,
      (opts.status ?? 200) as 200,
    );
  }

  app.get("/mailings/:id", async (c) => {
    const tenant = requireTenant(c);
    const m = await getMailing(deps, tenant.id, c.req.param("id"));
    if (m.status !== "draft") return await statusPage(c, deps, m, await flash.take(c));
    return await compose(c, draftOf(m), { flash: await flash.take(c) });
  });

  /** Save draft (and Find person, which saves first so nothing typed is lost). */
  app.post("/mailings/:id", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const m = await getMailing(deps, tenant.id, c.req.param("id"));
    const form = await readForm(c);
    const input = draftFields(form);
    const version = Number(field(form, "version"));
    try {
      await patchMailing(deps, tenant.id, m.id, { ...input, version }, actorOf(c));
    } catch (err) {
      const shown: Draft = { ...m, ...input, version: Number.isInteger(version) ? version : 0 };
      return await compose(c, shown, { error: errorText(c, err), status: statusOf(err) });
    }
    const q = field(form, "q").trim();
    if (field(form, "act") === "search" && q) {
      return c.redirect(`/mailings/${m.id}?q=${encodeURIComponent(q)}#recipients`, 303);
    }
    await flash.set(c, { kind: "ok", text: t(l, "mailui.saved") });
    return c.redirect(`/mailings/${m.id}`, 303);
  });

  /** compose.js: the form as it is now and the version it last saw → the new version. */
  app.post("/mailings/:id/autosave", async (c) => {
    const tenant = requireTenant(c);
    const form = await readForm(c);
    try {
      const m = await patchMailing(deps, tenant.id, c.req.param("id"), {
        ...draftFields(form),
        version: Number(field(form, "version")),
      }, actorOf(c));
      return c.json({ version: m.version });
    } catch (err) {
      const status = statusOf(err);
      if (status === 500) throw err;
      const conflict = err instanceof AppError && err.code === "conflict";
      return c.json({ error: { message: errorText(c, err), conflict } }, status as 400);
    }
  });

  app.post("/mailings/:id/attachments", async (c) => {
    const tenant = requireTenant(c);
    const id = c.req.param("id");
    await getMailing(deps, tenant.id, id);
    const file = (await c.req.parseBody())["file"];
    try {
      if (!(file instanceof File)) {
        throw new AppError("validation", {}, [{ path: "file", code: "empty_file", message: "" }]);
      }
      await addAttachment(deps, tenant.id, id, {
        filename: file.name,
        data: new Uint8Array(await file.arrayBuffer()),
      }, actorOf(c));
      await flash.set(c, { kind: "ok", text: t(c.get("locale"), "mailui.attached") });
    } catch (err) {
      await flash.set(c, { kind: "error", text: errorText(c, err) });
    }
    return c.redirect(`/mailings/${id}#attachments`, 303);
  });

  app.post("/mailings/:id/attachments/:aid/delete", async (c) => {
    const tenant = requireTenant(c);
    const id = c.req.param("id");
    try {
      await deleteAttachment(deps, tenant.id, id, c.req.param("aid"), actorOf(c));
      await flash.set(c, { kind: "ok", text: t(c.get("locale"), "mailui.removed") });
    } catch (err) {
      if (err instanceof AppError && err.code === "not_found") throw err;
      await flash.set(c, { kind: "error", text: errorText(c, err) });
    }
    return c.redirect(`/mailings/${id}#attachments`, 303);
  });
}

/** The HTTP status an error maps to in a form answer; 500 for anything unexpected. */
function statusOf(err: unknown): number {
  if (err instanceof AppError) return ERRORS[err.code].status;
  if (err instanceof Error && err.name === "ZodError") return 400;
  return 500;
}
