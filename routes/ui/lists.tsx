// Staff UI for static lists: the lists with member counts, a list's members, adding people found
// by search, removing, renaming and deleting. Plain forms; no JavaScript needed.
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { PageQuery } from "../../core/http/pagination.ts";
import { AppError } from "../../core/errors.ts";
import { listPersons } from "../../core/people/persons.ts";
import {
  addListMembers,
  countListMembers,
  createList,
  deleteList,
  getList,
  listLists,
  listMembers,
  removeListMembers,
  renameList,
  segmentsUsingList,
} from "../../core/people/lists.ts";
import { Csrf, Page } from "./layout.tsx";
import { errorText, field, fields, type Form, readForm } from "./forms.ts";
import type { Flash, FlashStore } from "./flash.ts";

type Locale = Parameters<typeof t>[0];
const fullName = (p: { first_name: string; last_name: string }, l: Locale) =>
  `${p.first_name} ${p.last_name}`.trim() || t(l, "people.unnamed");

/** Search results shown at once on a list page; more behind a "next page" link. */
const FOUND_PAGE = 20;

export function listPages(app: Hono, deps: AppDeps, flash: FlashStore) {
  async function index(c: Context, notice: Flash | null, typed = "", status = 200) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const page = await listLists(deps, tenant.id, PageQuery.parse(c.req.query()));
    const counts = await Promise.all(
      page.items.map((x) => countListMembers(deps.db, tenant.id, x.id)),
    );
    return c.html(
      <Page c={c} deps={deps} title={t(l, "lists.title")} flash={notice}>
        <h1>{t(l, "lists.title")}</h1>
        <div class="card">
          {page.items.length === 0
            ? <p class="muted">{t(l, "lists.none")}</p>
            : (
              <table class="responsive" data-testid="lists">
                <thead>
                  <tr>
                    <th>{t(l, "lists.name")}</th>
                    <th>{t(l, "lists.col_members")}</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((x, i) => (
                    <tr>
                      <td data-label={t(l, "lists.name")}>
                        <a href={`/lists/${x.id}`}>{x.name}</a>
                      </td>
                      <td data-label={t(l, "lists.col_members")}>
                        {t(l, "lists.members", { n: counts[i]! })}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          {page.next_cursor && (
            <p>
              <a href={`/lists?cursor=${page.next_cursor}`} rel="next">{t(l, "common.next")}</a>
            </p>
          )}
        </div>
        <form method="post" action="/lists" class="card row">
          <Csrf c={c} />
          <input
            name="name"
            required
            maxlength={200}
            value={typed}
            placeholder={t(l, "lists.name")}
            aria-label={t(l, "lists.name")}
          />
          <button type="submit">{t(l, "lists.create")}</button>
        </form>
      </Page>,
      status as 200,
    );
  }

  app.get("/lists", async (c) => await index(c, await flash.take(c)));

  app.post("/lists", async (c) => {
    const tenant = requireTenant(c);
    const name = field(await readForm(c), "name");
    try {
      const list = await createList(deps, tenant.id, { name }, actorOf(c));
      await flash.set(c, { kind: "ok", text: t(c.get("locale"), "lists.created") });
      return c.redirect(`/lists/${list.id}`, 303);
    } catch (err) {
      return await index(c, { kind: "error", text: errorText(c, err) }, name, 400);
    }
  });

  async function listPage(c: Context, notice: Flash | null, status = 200) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const list = await getList(deps, tenant.id, c.req.param("id")!);
    const members = await listMembers(deps, tenant.id, list.id, {
      limit: 50,
      cursor: c.req.query("cursor") || undefined,
    });
    const q = c.req.query("q")?.trim() ?? "";
    const found = q
      ? await listPersons(deps, tenant.id, { q, status: "active" }, {
        limit: FOUND_PAGE,
        cursor: c.req.query("found") || undefined,
      })
      : null;
    const base = `/lists/${list.id}`;
    return c.html(
      <Page c={c} deps={deps} title={list.name} flash={notice}>
        <p>
          <a href="/lists">← {t(l, "lists.title")}</a>
        </p>
        <h1>{list.name}</h1>
        <div class="card">
          <h2>{t(l, "lists.members", { n: list.member_count })}</h2>
          {members.items.length === 0
            ? <p class="muted">{t(l, "lists.no_members")}</p>
            : (
              <table class="responsive" data-testid="members">
                <thead>
                  <tr>
                    <th>{t(l, "people.name")}</th>
                    <th>{t(l, "people.primary")}</th>
                    <th>{t(l, "common.actions")}</th>
                  </tr>
                </thead>
                <tbody>
                  {members.items.map((m) => (
                    <tr>
                      <td data-label={t(l, "people.name")}>
                        <a href={`/people/${m.id}`}>{fullName(m, l)}</a>
                      </td>
                      <td data-label={t(l, "people.primary")}>{m.primary_address ?? "—"}</td>
                      <td>
                        <form method="post" action={`${base}/remove`}>
                          <Csrf c={c} />
                          <input type="hidden" name="person_ids" value={m.id} />
                          <button
                            type="submit"
                            class="link danger"
                            aria-label={t(l, "lists.remove_person", { name: fullName(m, l) })}
                          >
                            {t(l, "people.remove")}
                          </button>
                        </form>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          {members.next_cursor && (
            <p>
              <a href={`${base}?cursor=${members.next_cursor}`} rel="next">
                {t(l, "common.next")}
              </a>
            </p>
          )}
        </div>

        <div class="card">
          <h2>{t(l, "lists.add")}</h2>
          <form method="get" action={base} class="row search" role="search">
            <input
              type="search"
              name="q"
              value={q}
              placeholder={t(l, "people.search_hint")}
              aria-label={t(l, "people.search")}
            />
            <button type="submit" class="secondary">{t(l, "people.search")}</button>
          </form>
          {found && (
            <form method="post" action={`${base}/add`} class="stack found" data-testid="found">
              <Csrf c={c} />
              {found.items.length === 0 && <p class="muted">{t(l, "people.none")}</p>}
              {found.items.map((p) => (
                <label>
                  <span>
                    <input type="checkbox" name="person_ids" value={p.id} /> {fullName(p, l)}{" "}
                    <span class="muted">{p.primary_address ?? ""}</span>
                  </span>
                </label>
              ))}
              {found.items.length > 0 && (
                <div class="row">
                  <button type="submit">{t(l, "lists.add_checked")}</button>
                  {found.next_cursor && (
                    <a
                      href={`${base}?${new URLSearchParams({ q, found: found.next_cursor })}`}
                      rel="next"
                    >
                      {t(l, "common.next")}
                    </a>
                  )}
                </div>
              )}
            </form>
          )}
        </div>

        <div class="card">
          <form method="post" action={`${base}/rename`} class="row">
            <Csrf c={c} />
            <input
              name="name"
              required
              maxlength={200}
              value={list.name}
              aria-label={t(l, "lists.name")}
            />
            <button type="submit" class="secondary">{t(l, "lists.rename")}</button>
          </form>
          <p>
            <a href={`${base}/delete`} class="button danger">{t(l, "lists.delete")}</a>
          </p>
        </div>
      </Page>,
      status as 200,
    );
  }

  app.get("/lists/:id", async (c) => await listPage(c, await flash.take(c)));

  async function confirmDelete(c: Context, notice: Flash | null, status = 200) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const list = await getList(deps, tenant.id, c.req.param("id")!);
    // Said before the click rather than only after a refusal.
    const users = await segmentsUsingList(deps.db, tenant.id, list.id);
    return c.html(
      <Page c={c} deps={deps} title={t(l, "lists.delete")} flash={notice}>
        <div class="card narrow">
          <h1>{t(l, "lists.delete")}: {list.name}</h1>
          <p>{t(l, "lists.delete_explain")}</p>
          {users.length > 0 && (
            <div data-testid="used-by">
              <p class="field-error">{t(l, "lists.in_use")}</p>
              <ul>
                {users.map((s) => (
                  <li>
                    <a href={`/segments/${s.id}`}>{s.name}</a>
                  </li>
                ))}
              </ul>
            </div>
          )}
          <form method="post" action={`/lists/${list.id}/delete`} class="row">
            <Csrf c={c} />
            <button type="submit" class="danger">{t(l, "lists.delete")}</button>
            <a href={`/lists/${list.id}`}>{t(l, "common.cancel")}</a>
          </form>
        </div>
      </Page>,
      status as 200,
    );
  }

  app.get("/lists/:id/delete", async (c) => await confirmDelete(c, null));

  app.post("/lists/:id/delete", async (c) => {
    const tenant = requireTenant(c);
    try {
      await deleteList(deps, tenant.id, c.req.param("id"), actorOf(c));
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== "conflict") throw err;
      const text = t(c.get("locale"), "lists.in_use");
      return await confirmDelete(c, { kind: "error", text }, 409);
    }
    await flash.set(c, { kind: "ok", text: t(c.get("locale"), "lists.deleted") });
    return c.redirect("/lists", 303);
  });

  /** A change from the list page: back to it with a message, or the page again with the error. */
  function listAction(
    path: string,
    run: (c: Context, tenantId: string, listId: string, form: Form) => Promise<Flash>,
  ) {
    app.post(path, async (c) => {
      const tenant = requireTenant(c);
      const form = await readForm(c);
      const id = c.req.param("id")!;
      try {
        await flash.set(c, await run(c, tenant.id, id, form));
        return c.redirect(`/lists/${id}`, 303);
      } catch (err) {
        if (err instanceof AppError && err.code === "not_found") throw err;
        return await listPage(c, { kind: "error", text: errorText(c, err) }, 400);
      }
    });
  }

  listAction("/lists/:id/add", async (c, tid, id, form) => {
    const l = c.get("locale");
    const ids = fields(form, "person_ids");
    if (ids.length === 0) return { kind: "error", text: t(l, "lists.none_checked") };
    const r = await addListMembers(deps, tid, id, { person_ids: ids }, actorOf(c));
    const skipped = r.not_found.length + r.not_active.length;
    const text = [
      t(l, "lists.added_n", { n: r.added }),
      r.unchanged ? t(l, "lists.already_n", { n: r.unchanged }) : "",
      skipped ? t(l, "lists.skipped_n", { n: skipped }) : "",
    ].filter(Boolean).join(" ");
    return { kind: "ok", text };
  });
  listAction("/lists/:id/remove", async (c, tid, id, form) => {
    const ids = fields(form, "person_ids");
    await removeListMembers(deps, tid, id, { person_ids: ids }, actorOf(c));
    return { kind: "ok", text: t(c.get("locale"), "lists.removed") };
  });
  listAction("/lists/:id/rename", async (c, tid, id, form) => {
    await renameList(deps, tid, id, { name: field(form, "name") }, actorOf(c));
    return { kind: "ok", text: t(c.get("locale"), "lists.renamed") };
  });
}
