// Staff UI for people: search list, new person, profile with addresses, lifecycle and timeline.
// Plain forms (no JavaScript needed); every change posts, then redirects with a flash message.
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { formatDateTime, t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenant, requireTenantAdmin } from "../../core/http/context.ts";
import { PageQuery } from "../../core/http/pagination.ts";
import { AppError } from "../../core/errors.ts";
import {
  addAddress,
  addNote,
  changeLifecycle,
  CLEAR_NOTE_MAX,
  clearUndeliverable,
  createPerson,
  getPerson,
  LIFECYCLE_ACTIONS,
  type LifecycleAction,
  listCustomFields,
  listNotes,
  listPersons,
  makePrimary,
  type Person,
  PersonQuery,
  removeAddress,
  updatePerson,
} from "../../core/people/persons.ts";
import { findDuplicates, mergePersons } from "../../core/people/merge.ts";
import { undeliverableCsv } from "../../core/feedback/undeliverable.ts";
import { undeliverablePages } from "./undeliverable.tsx";
import { Csrf, Page } from "./layout.tsx";
import {
  MailingNoteStamps,
  personSubscriptionPages,
  subscriptionsCard,
} from "./person_subscriptions.tsx";
import { errorText, field, readForm } from "./forms.ts";
import type { Flash, FlashStore } from "./flash.ts";
import { PluginPanels } from "./plugin_panels.tsx";
import { CSRF_FIELD } from "../../core/http/csrf.ts";

const fullName = (p: { first_name: string; last_name: string }, l: Parameters<typeof t>[0]) =>
  `${p.first_name} ${p.last_name}`.trim() || t(l, "people.unnamed");

export function peoplePages(app: Hono, deps: AppDeps, flash: FlashStore) {
  personSubscriptionPages(app, deps, flash);
  undeliverablePages(app, deps, flash); // before /people/:id
  // Undeliverable addresses as CSV, for customers cleaning their own registers (streamed).
  app.get("/people/undeliverable.csv", (c) => {
    const tenant = requireTenant(c);
    return new Response(undeliverableCsv(deps, tenant.id), {
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="undeliverable-${
          deps.clock().toISOString().slice(0, 10)
        }.csv"`,
      },
    });
  });
  app.get("/people", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const raw = c.req.query();
    const query = PersonQuery.parse({ q: raw.q || undefined, status: raw.status || "active" });
    const page = await listPersons(deps, tenant.id, query, PageQuery.parse(raw));
    const keep = (extra: Record<string, string>) =>
      "?" + new URLSearchParams({
        ...(query.q ? { q: query.q } : {}),
        ...(query.status !== "active" ? { status: query.status } : {}),
        ...extra,
      });
    return c.html(
      <Page c={c} deps={deps} title={t(l, "people.title")} flash={await flash.take(c)}>
        <div class="row">
          <h1>{t(l, "people.title")}</h1>
          <span class="row">
            <a class="button secondary" href="/people/duplicates">{t(l, "merge.duplicates")}</a>
            <a class="button secondary" href="/people/import">{t(l, "import.title")}</a>
            <a class="button secondary" href="/people/undeliverable">
              {t(l, "undeliverable.title")}
            </a>
            <a class="button secondary" href="/people/undeliverable.csv" download>
              {t(l, "people.undeliverable_csv")}
            </a>
            <a class="button" href="/people/new">{t(l, "people.new")}</a>
          </span>
        </div>
        <form method="get" action="/people" class="row search" role="search">
          <input
            type="search"
            name="q"
            value={query.q ?? ""}
            placeholder={t(l, "people.search_hint")}
            aria-label={t(l, "people.search")}
          />
          <select name="status" aria-label={t(l, "people.status")}>
            {(["active", "deleted", "deceased", "purged", "any"] as const).map((s) => (
              <option value={s} selected={query.status === s}>{t(l, `status.${s}`)}</option>
            ))}
          </select>
          <button type="submit">{t(l, "people.search")}</button>
        </form>
        <div class="card">
          {page.items.length === 0
            ? <p class="muted">{t(l, "people.none")}</p>
            : (
              <table class="responsive" data-testid="people">
                <thead>
                  <tr>
                    <th>{t(l, "people.name")}</th>
                    <th>{t(l, "people.primary")}</th>
                    <th>{t(l, "people.organisation")}</th>
                    <th>{t(l, "people.status")}</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((p) => (
                    <tr>
                      <td data-label={t(l, "people.name")}>
                        <a href={`/people/${p.id}`}>{fullName(p, l)}</a>
                      </td>
                      <td data-label={t(l, "people.primary")}>
                        {p.primary_address ?? "—"}
                        {p.undeliverable_at && (
                          <span class="badge revoked">{t(l, "people.undeliverable")}</span>
                        )}
                      </td>
                      <td data-label={t(l, "people.organisation")}>{p.organisation}</td>
                      <td data-label={t(l, "people.status")}>{t(l, `status.${p.status}`)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          {page.next_cursor && (
            <p>
              <a href={keep({ cursor: page.next_cursor })} rel="next">{t(l, "common.next")}</a>
            </p>
          )}
        </div>
      </Page>,
    );
  });

  function NewForm(
    { c, error, values }: { c: Context; error?: string; values?: Record<string, string> },
  ) {
    const l = c.get("locale");
    const v = values ?? {};
    return (
      <Page
        c={c}
        deps={deps}
        title={t(l, "people.new")}
        flash={error ? { kind: "error", text: error } : null}
      >
        <h1>{t(l, "people.new")}</h1>
        <form method="post" action="/people" class="card stack">
          <Csrf c={c} />
          <div class="grid2">
            <label>
              {t(l, "people.first_name")}
              <input name="first_name" maxlength={100} value={v.first_name ?? ""} />
            </label>
            <label>
              {t(l, "people.last_name")}
              <input name="last_name" maxlength={100} value={v.last_name ?? ""} />
            </label>
          </div>
          <label>
            {t(l, "people.email")}
            <input type="email" name="address" value={v.address ?? ""} />
          </label>
          <div class="grid2">
            <label>
              {t(l, "people.organisation")}
              <input name="organisation" maxlength={200} value={v.organisation ?? ""} />
            </label>
            <label>
              {t(l, "people.person_title")}
              <input name="title" maxlength={200} value={v.title ?? ""} />
            </label>
          </div>
          <div>
            <button type="submit">{t(l, "people.create")}</button>
          </div>
        </form>
      </Page>
    );
  }

  app.get("/people/new", (c) => {
    requireTenant(c);
    return c.html(<NewForm c={c} />);
  });

  app.post("/people", async (c) => {
    const tenant = requireTenant(c);
    const form = await readForm(c);
    const values = {
      first_name: field(form, "first_name"),
      last_name: field(form, "last_name"),
      organisation: field(form, "organisation"),
      title: field(form, "title"),
      address: field(form, "address"),
    };
    try {
      const { address, ...rest } = values;
      const p = await createPerson(deps, tenant.id, {
        ...rest,
        addresses: address.trim() ? [{ address }] : [],
      }, actorOf(c));
      await flash.set(c, { kind: "ok", text: t(c.get("locale"), "people.created") });
      return c.redirect(`/people/${p.id}`, 303);
    } catch (err) {
      return c.html(<NewForm c={c} error={errorText(c, err)} values={values} />, 400);
    }
  });

  async function profile(c: Context, notice: Flash | null, status = 200) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const p = await getPerson(deps, tenant.id, c.req.param("id")!);
    const notes = p.status === "purged" ? [] : await listNotes(deps, tenant.id, p.id, 50);
    const fields = await listCustomFields(deps, tenant.id);
    const auth = c.get("auth");
    const isAdmin = auth?.kind === "user" && auth.user.role === "admin";
    const base = `/people/${p.id}`;
    const types = deps.registry.addressTypes(c.get("plugins"));
    const typeLabel = (type: string) => {
      const owner = types.find((x) => x.type === type);
      return owner ? t(l, `${owner.plugin}.address_type.${type}`) : type;
    };
    return c.html(
      <Page c={c} deps={deps} title={fullName(p, l)} flash={notice}>
        <p>
          <a href="/people">← {t(l, "people.title")}</a>
        </p>
        <h1>
          {fullName(p, l)}{" "}
          {p.status !== "active" && <span class="badge revoked">{t(l, `status.${p.status}`)}</span>}
        </h1>
        <div class="card">
          <p class="muted">
            {[p.title, p.organisation].filter(Boolean).join(", ")}
          </p>
          {p.status === "active" && <EditForm c={c} p={p} fields={fields} />}
        </div>

        <div class="card">
          <h2>{t(l, "people.addresses")}</h2>
          {p.addresses.length === 0 && <p class="muted">{t(l, "people.no_addresses")}</p>}
          <ul class="addresses" data-testid="addresses">
            {p.addresses.map((a) => (
              <li>
                <strong>{a.address}</strong>{" "}
                {a.is_primary && <span class="badge">{t(l, "people.primary")}</span>}{" "}
                {a.type && <span class="badge" data-type={a.type}>{typeLabel(a.type)}</span>}{" "}
                {a.undeliverable_at && (
                  <span class="badge revoked" title={a.undeliverable_reason ?? ""}>
                    {t(l, "people.undeliverable")}
                  </span>
                )}
                {a.cleared_at && (
                  <span class="muted">
                    {" "}
                    {t(l, "people.cleared_by", {
                      who: a.cleared_by ?? "",
                      when: formatDateTime(a.cleared_at, l, tz),
                    })}
                  </span>
                )}
                {p.status === "active" && (
                  <span class="actions">
                    {!a.is_primary && (
                      <form method="post" action={`${base}/addresses/${a.id}/primary`}>
                        <Csrf c={c} />
                        <button type="submit" class="link">{t(l, "people.make_primary")}</button>
                      </form>
                    )}
                    {a.undeliverable_at && isAdmin && (
                      <form
                        method="post"
                        action={`${base}/addresses/${a.id}/clear`}
                        data-testid="unblock"
                      >
                        <Csrf c={c} />
                        <input
                          type="text"
                          name="note"
                          maxlength={CLEAR_NOTE_MAX}
                          aria-label={t(l, "people.unblock_note")}
                          placeholder={t(l, "people.unblock_note")}
                        />
                        <button type="submit" class="link">{t(l, "people.unblock")}</button>
                      </form>
                    )}
                    <form method="post" action={`${base}/addresses/${a.id}/remove`}>
                      <Csrf c={c} />
                      <button type="submit" class="link danger">{t(l, "people.remove")}</button>
                    </form>
                  </span>
                )}
              </li>
            ))}
          </ul>
          {p.status === "active" && (
            <form method="post" action={`${base}/addresses`} class="row">
              <Csrf c={c} />
              <input
                type="email"
                name="address"
                required
                aria-label={t(l, "people.add_address")}
                placeholder={t(l, "people.add_address")}
              />
              <button type="submit" class="secondary">{t(l, "people.add")}</button>
            </form>
          )}
        </div>

        {auth?.kind === "user" && (
          <PluginPanels
            c={c}
            deps={deps}
            panel={(plugin) => plugin.ui?.personPanel}
            ctx={{
              deps,
              tenant,
              personId: p.id,
              user: { id: auth.user.id, role: auth.user.role },
              locale: l,
              timeZone: tz,
              csrf: { field: CSRF_FIELD, token: c.get("csrfToken") },
            }}
            testId="person-panels"
          />
        )}

        <div class="card">
          <h2>{t(l, "people.timeline")}</h2>
          {p.status !== "purged" && (
            <form method="post" action={`${base}/notes`} class="stack">
              <Csrf c={c} />
              <label>
                {t(l, "people.note")}
                <textarea name="body" rows={3} required maxlength={10000}></textarea>
              </label>
              <div>
                <button type="submit" class="secondary">{t(l, "people.add_note")}</button>
              </div>
            </form>
          )}
          <ol class="timeline" data-testid="timeline">
            {notes.map((n) => (
              <li>
                <span class="muted">{formatDateTime(n.created_at, l, tz)} · {n.author ?? ""}</span>
                <p>{noteText(n, l)}</p>
                {n.kind === "mailing" && <MailingNoteStamps n={n} l={l} tz={tz} />}
              </li>
            ))}
          </ol>
        </div>

        {p.status !== "purged" && await subscriptionsCard(c, deps, p.id)}

        <div class="card">
          <h2>{t(l, "people.lifecycle")}</h2>
          <p class="muted">{t(l, "people.lifecycle_help")}</p>
          <div class="row">
            {allowedActions(p.status, isAdmin).map((action) => (
              <a class="button secondary" href={`${base}/lifecycle/${action}`}>
                {t(l, `lifecycle.${action}`)}
              </a>
            ))}
          </div>
        </div>
      </Page>,
      status as 200,
    );
  }

  function EditForm(
    { c, p, fields }: {
      c: Context;
      p: Person;
      fields: { key: string; label: string; type: string }[];
    },
  ) {
    const l = c.get("locale");
    return (
      <form method="post" action={`/people/${p.id}`} class="stack">
        <Csrf c={c} />
        <div class="grid2">
          <label>
            {t(l, "people.first_name")}
            <input name="first_name" maxlength={100} value={p.first_name} />
          </label>
          <label>
            {t(l, "people.last_name")}
            <input name="last_name" maxlength={100} value={p.last_name} />
          </label>
          <label>
            {t(l, "people.organisation")}
            <input name="organisation" maxlength={200} value={p.organisation} />
          </label>
          <label>
            {t(l, "people.person_title")}
            <input name="title" maxlength={200} value={p.title} />
          </label>
          <label>
            {t(l, "people.language")}
            <select name="language">
              <option value="">—</option>
              {(["en", "sv", "fi", "da"] as const).map((x) => (
                <option value={x} selected={p.language === x}>{t(l, `language.${x}`)}</option>
              ))}
            </select>
          </label>
          <label>
            {t(l, "people.tags")} <span class="hint">{t(l, "people.tags_hint")}</span>
            <input name="tags" value={p.tags.join(", ")} />
          </label>
          {fields.map((f) => {
            const v = p.custom[f.key];
            return (
              <label>
                {f.label}
                {f.type === "boolean"
                  ? (
                    <input
                      type="checkbox"
                      name={`custom.${f.key}`}
                      value="true"
                      checked={v === true}
                    />
                  )
                  : (
                    <input
                      name={`custom.${f.key}`}
                      type={f.type === "number" ? "number" : f.type === "date" ? "date" : "text"}
                      step={f.type === "number" ? "any" : undefined}
                      value={v === undefined || v === null ? "" : String(v)}
                    />
                  )}
              </label>
            );
          })}
        </div>
        <div>
          <button type="submit">{t(l, "common.save")}</button>
        </div>
      </form>
    );
  }

  // Fixed paths before /people/:id, which would otherwise take them as ids.
  // Likely duplicates, each with a link to the merge screen.
  app.get("/people/duplicates", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const groups = await findDuplicates(deps, tenant.id);
    return c.html(
      <Page c={c} deps={deps} title={t(l, "merge.duplicates")} flash={await flash.take(c)}>
        <p>
          <a href="/people">← {t(l, "people.title")}</a>
        </p>
        <h1>{t(l, "merge.duplicates")}</h1>
        {groups.length === 0 && <p class="card muted">{t(l, "merge.none")}</p>}
        {groups.map((g) => (
          <div class="card" data-testid="duplicate-group">
            <p class="muted">{t(l, `merge.reason.${g.reason}`)}</p>
            <ul>
              {g.persons.map((p) => (
                <li>
                  <a href={`/people/${p.id}`}>{fullName(p, l)}</a>{" "}
                  <span class="muted">
                    {[p.organisation, p.primary_address].filter(Boolean).join(" · ")}
                  </span>
                </li>
              ))}
            </ul>
            {g.persons.length >= 2 && (
              <a
                class="button secondary"
                href={`/people/merge?a=${g.persons[0]!.id}&b=${g.persons[1]!.id}`}
              >
                {t(l, "merge.compare")}
              </a>
            )}
          </div>
        ))}
      </Page>,
    );
  });

  // Side by side: choose who stays and whose primary address is kept, then merge.
  app.get("/people/merge", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const a = await getPerson(deps, tenant.id, c.req.query("a") ?? "");
    const b = await getPerson(deps, tenant.id, c.req.query("b") ?? "");
    const Card = ({ p }: { p: Person }) => (
      <div class="card">
        <h2>{fullName(p, l)}</h2>
        <p class="muted">{[p.title, p.organisation].filter(Boolean).join(", ")}</p>
        <ul>
          {p.addresses.map((x) => (
            <li>
              {x.address} {x.is_primary && <span class="badge">{t(l, "people.primary")}</span>}
            </li>
          ))}
        </ul>
        <p class="muted">{p.tags.join(", ")}</p>
      </div>
    );
    return c.html(
      <Page c={c} deps={deps} title={t(l, "merge.title")}>
        <h1>{t(l, "merge.title")}</h1>
        <div class="grid2">
          <Card p={a} />
          <Card p={b} />
        </div>
        <form method="post" action="/people/merge" class="card stack">
          <Csrf c={c} />
          <p>{t(l, "merge.explain")}</p>
          <fieldset>
            <legend>{t(l, "merge.keep")}</legend>
            {[[a, b], [b, a]].map(([keep, gone]) => (
              <label>
                <input
                  type="radio"
                  name="pair"
                  value={`${keep!.id}:${gone!.id}`}
                  checked={keep === a}
                />{" "}
                {t(l, "merge.keep_option", { keep: fullName(keep!, l), gone: fullName(gone!, l) })}
              </label>
            ))}
          </fieldset>
          <label>
            <input type="checkbox" name="primary" value="other" /> {t(l, "merge.use_other_primary")}
          </label>
          <div>
            <button type="submit" class="danger">{t(l, "merge.confirm")}</button>
          </div>
        </form>
      </Page>,
    );
  });

  app.post("/people/merge", async (c) => {
    const tenant = requireTenant(c);
    const form = await readForm(c);
    const [into = "", from = ""] = field(form, "pair").split(":");
    const merged = await mergePersons(deps, tenant.id, into, {
      from,
      primary: field(form, "primary") === "other" ? "other" : "keep",
    }, actorOf(c));
    await flash.set(c, { kind: "ok", text: t(c.get("locale"), "merge.done") });
    return c.redirect(`/people/${merged.id}`, 303);
  });

  app.get("/people/:id", async (c) => await profile(c, await flash.take(c)));

  /** Runs a change from the profile page and comes back with a message. */
  function action(
    path: string,
    run: (
      c: Context,
      tenantId: string,
      form: Record<string, string | string[]>,
    ) => Promise<unknown>,
    okKey: string,
  ) {
    app.post(path, async (c) => {
      const tenant = requireTenant(c);
      const form = await readForm(c);
      try {
        await run(c, tenant.id, form);
        await flash.set(c, { kind: "ok", text: t(c.get("locale"), okKey) });
        return c.redirect(`/people/${c.req.param("id")}`, 303);
      } catch (err) {
        // Not a form mistake: the error page says so with its own status.
        if (err instanceof AppError && ["not_found", "forbidden"].includes(err.code)) throw err;
        return await profile(c, { kind: "error", text: errorText(c, err) }, 400);
      }
    });
  }

  action("/people/:id", async (c, tid, form) => {
    // Custom values come typed from their definitions; an empty input clears the value.
    const custom: Record<string, string | number | boolean | null> = {};
    for (const f of await listCustomFields(deps, tid)) {
      const raw = field(form, `custom.${f.key}`).trim();
      custom[f.key] = f.type === "boolean"
        ? raw === "true"
        : raw === ""
        ? null
        : f.type === "number" && Number.isFinite(Number(raw.replace(",", ".")))
        ? Number(raw.replace(",", "."))
        : raw; // not a number: the core names the field and says what it expected
    }
    const language = field(form, "language");
    return await updatePerson(deps, tid, c.req.param("id")!, {
      first_name: field(form, "first_name"),
      last_name: field(form, "last_name"),
      organisation: field(form, "organisation"),
      title: field(form, "title"),
      language: language ? language as "en" : null,
      tags: field(form, "tags").split(",").map((x) => x.trim()).filter(Boolean),
      custom,
    }, actorOf(c));
  }, "people.saved");
  action(
    "/people/:id/addresses",
    (c, tid, form) =>
      addAddress(deps, tid, c.req.param("id")!, { address: field(form, "address") }, actorOf(c)),
    "people.address_added",
  );
  action(
    "/people/:id/addresses/:aid/primary",
    (c, tid) => makePrimary(deps, tid, c.req.param("id")!, c.req.param("aid")!, actorOf(c)),
    "people.primary_changed",
  );
  action(
    "/people/:id/addresses/:aid/remove",
    (c, tid) => removeAddress(deps, tid, c.req.param("id")!, c.req.param("aid")!, actorOf(c)),
    "people.address_removed",
  );
  action("/people/:id/addresses/:aid/clear", (c, tid, form) => {
    requireTenantAdmin(c);
    return clearUndeliverable(deps, tid, c.req.param("id")!, c.req.param("aid")!, actorOf(c), {
      note: field(form, "note"),
    });
  }, "people.unblocked");
  action(
    "/people/:id/notes",
    (c, tid, form) =>
      addNote(deps, tid, c.req.param("id")!, { body: field(form, "body") }, actorOf(c)),
    "people.note_added",
  );

  // Lifecycle changes ask first: a page that says what will happen, then a POST.
  app.get("/people/:id/lifecycle/:action", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const act = lifecycleParam(c.req.param("action"));
    const p = await getPerson(deps, tenant.id, c.req.param("id"));
    return c.html(
      <Page c={c} deps={deps} title={t(l, `lifecycle.${act}`)}>
        <div class="card narrow">
          <h1>{t(l, `lifecycle.${act}`)}: {fullName(p, l)}</h1>
          <p>{t(l, `lifecycle.${act}_explain`)}</p>
          <form method="post" action={`/people/${p.id}/lifecycle/${act}`} class="row">
            <Csrf c={c} />
            <button type="submit" class={act === "restore" ? "" : "danger"}>
              {t(l, `lifecycle.${act}_confirm`)}
            </button>
            <a href={`/people/${p.id}`}>{t(l, "common.cancel")}</a>
          </form>
        </div>
      </Page>,
    );
  });

  action("/people/:id/lifecycle/:action", (c, tid) => {
    const act = lifecycleParam(c.req.param("action")!);
    if (act === "purge") requireTenantAdmin(c);
    return changeLifecycle(deps, tid, c.req.param("id")!, act, actorOf(c));
  }, "people.lifecycle_done");
}

function lifecycleParam(s: string): LifecycleAction {
  if (!(LIFECYCLE_ACTIONS as readonly string[]).includes(s)) throw new AppError("not_found");
  return s as LifecycleAction;
}

function allowedActions(status: string, isAdmin: boolean): LifecycleAction[] {
  const all: Record<string, LifecycleAction[]> = {
    active: ["delete", "deceased", "purge"],
    deleted: ["restore", "deceased", "purge"],
    deceased: ["purge"],
    purged: [],
  };
  return (all[status] ?? []).filter((a) => a !== "purge" || isAdmin);
}

function noteText(
  n: { kind: string; body: string; subject: string | null },
  l: Parameters<typeof t>[0],
): string {
  if (n.kind === "system") {
    // System notes are structured so they can be shown in the reader's language.
    try {
      const e = JSON.parse(n.body) as {
        event?: string;
        address?: string;
        reason?: string;
        note?: string;
      };
      if (e.event === "undeliverable_cleared") {
        const params = { address: e.address ?? "", reason: e.reason ?? "", note: e.note ?? "" };
        return t(l, e.note ? "people.note_unblocked_with_note" : "people.note_unblocked", params);
      }
    } catch { /* a plain text system note */ }
  }
  if (n.kind === "mailing") return t(l, "people.note_mailing", { subject: n.subject ?? "" });
  return n.body;
}
