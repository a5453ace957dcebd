// Staff UI for audiences: static lists (members, add by search, rename, delete) and saved
// segments with a builder (AND/OR of conditions) whose count updates live with JavaScript and
// on a "Count" button without it.
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { PageQuery } from "../../core/http/pagination.ts";
import { AppError, type FieldIssue } from "../../core/errors.ts";
import { localizeIssues, zodMessage } from "../../core/http/errors.ts";
import { z } from "zod";
import { listPersons } from "../../core/people/persons.ts";
import {
  addListMembers,
  createList,
  deleteList,
  getList,
  listLists,
  listMembers,
  removeListMembers,
  renameList,
} from "../../core/people/lists.ts";
import {
  createSegment,
  deleteSegment,
  getSegment,
  listSegments,
  previewSavedSegment,
  updateSegment,
} from "../../core/people/saved_segments.ts";
import { countSegment } from "../../core/people/segments.ts";
import { MATCHES, PERSON_FIELDS, VALUELESS_MATCHES } from "../../core/people/segment_definition.ts";
import { Csrf, Page } from "./layout.tsx";
import { errorText, field, fields, type Form, readForm } from "./forms.ts";
import type { Flash, FlashStore } from "./flash.ts";

type Locale = Parameters<typeof t>[0];
const name = (p: { first_name: string; last_name: string }, l: Locale) =>
  `${p.first_name} ${p.last_name}`.trim() || t(l, "people.unnamed");

export function audiencePages(app: Hono, deps: AppDeps, flash: FlashStore) {
  // ---- Lists ----------------------------------------------------------------------------------

  app.get("/lists", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const page = await listLists(deps, tenant.id, PageQuery.parse(c.req.query()));
    const counts = await Promise.all(
      page.items.map((x) => getList(deps, tenant.id, x.id).then((g) => g.member_count)),
    );
    return c.html(
      <Page c={c} deps={deps} title={t(l, "lists.title")} flash={await flash.take(c)}>
        <h1>{t(l, "lists.title")}</h1>
        <div class="card">
          {page.items.length === 0
            ? <p class="muted">{t(l, "lists.none")}</p>
            : (
              <table class="responsive" data-testid="lists">
                <tbody>
                  {page.items.map((x, i) => (
                    <tr>
                      <td>
                        <a href={`/lists/${x.id}`}>{x.name}</a>
                      </td>
                      <td>{t(l, "lists.members", { n: counts[i]! })}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          {page.next_cursor && <a href={`?cursor=${page.next_cursor}`}>{t(l, "common.next")}</a>}
        </div>
        <form method="post" action="/lists" class="card row">
          <Csrf c={c} />
          <input name="name" required maxlength={200} aria-label={t(l, "lists.name")} />
          <button type="submit">{t(l, "lists.create")}</button>
        </form>
      </Page>,
    );
  });

  app.post("/lists", async (c) => {
    const tenant = requireTenant(c);
    const form = await readForm(c);
    try {
      const list = await createList(deps, tenant.id, { name: field(form, "name") }, actorOf(c));
      return c.redirect(`/lists/${list.id}`, 303);
    } catch (err) {
      await flash.set(c, { kind: "error", text: errorText(c, err) });
      return c.redirect("/lists", 303);
    }
  });

  async function listPage(c: Context, notice: Flash | null, status = 200) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const list = await getList(deps, tenant.id, c.req.param("id")!);
    const members = await listMembers(deps, tenant.id, list.id, PageQuery.parse(c.req.query()));
    const q = c.req.query("q")?.trim();
    const found = q
      ? await listPersons(deps, tenant.id, { q, status: "active" }, { limit: 20 })
      : null;
    const base = `/lists/${list.id}`;
    return c.html(
      <Page c={c} deps={deps} title={list.name} flash={notice}>
        <p>
          <a href="/lists">← {t(l, "lists.title")}</a>
        </p>
        <h1>{list.name}</h1>
        <p class="muted">{t(l, "lists.members", { n: list.member_count })}</p>
        <div class="card">
          <table class="responsive" data-testid="members">
            <tbody>
              {members.items.map((m) => (
                <tr>
                  <td>
                    <a href={`/people/${m.id}`}>{name(m, l)}</a>
                  </td>
                  <td>{m.primary_address ?? "—"}</td>
                  <td>
                    <form method="post" action={`${base}/remove`}>
                      <Csrf c={c} />
                      <input type="hidden" name="person_ids" value={m.id} />
                      <button type="submit" class="link danger">{t(l, "people.remove")}</button>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {members.next_cursor && (
            <a href={`?cursor=${members.next_cursor}`}>{t(l, "common.next")}</a>
          )}
        </div>
        <div class="card">
          <h2>{t(l, "lists.add")}</h2>
          <form method="get" action={base} class="row" role="search">
            <input
              type="search"
              name="q"
              value={q ?? ""}
              placeholder={t(l, "people.search_hint")}
              aria-label={t(l, "people.search")}
            />
            <button type="submit" class="secondary">{t(l, "people.search")}</button>
          </form>
          {found && (
            <form method="post" action={`${base}/add`} class="stack" data-testid="found">
              <Csrf c={c} />
              {found.items.length === 0 && <p class="muted">{t(l, "people.none")}</p>}
              {found.items.map((p) => (
                <label>
                  <input type="checkbox" name="person_ids" value={p.id} /> {name(p, l)}{" "}
                  <span class="muted">{p.primary_address ?? ""}</span>
                </label>
              ))}
              {found.items.length > 0 && (
                <div>
                  <button type="submit">{t(l, "lists.add_checked")}</button>
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
            <a href={`${base}/delete`} class="button secondary">{t(l, "lists.delete")}</a>
          </p>
        </div>
      </Page>,
      status as 200,
    );
  }

  app.get("/lists/:id", async (c) => await listPage(c, await flash.take(c)));
  app.get("/lists/:id/delete", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const list = await getList(deps, tenant.id, c.req.param("id"));
    return c.html(
      <Page c={c} deps={deps} title={t(l, "lists.delete")}>
        <div class="card narrow">
          <h1>{t(l, "lists.delete")}: {list.name}</h1>
          <p>{t(l, "lists.delete_explain")}</p>
          <form method="post" action={`/lists/${list.id}/delete`} class="row">
            <Csrf c={c} />
            <button type="submit" class="danger">{t(l, "lists.delete")}</button>
            <a href={`/lists/${list.id}`}>{t(l, "common.cancel")}</a>
          </form>
        </div>
      </Page>,
    );
  });

  /** A list change from the list page; back to it with a message. */
  function listAction(
    path: string,
    run: (c: Context, tenantId: string, listId: string, form: Form) => Promise<unknown>,
    okKey: string,
    after: (id: string) => string = (id) => `/lists/${id}`,
  ) {
    app.post(path, async (c) => {
      const tenant = requireTenant(c);
      const form = await readForm(c);
      const id = c.req.param("id")!;
      try {
        await run(c, tenant.id, id, form);
        await flash.set(c, { kind: "ok", text: t(c.get("locale"), okKey) });
        return c.redirect(after(id), 303);
      } catch (err) {
        if (err instanceof AppError && err.code === "not_found") throw err;
        return await listPage(c, { kind: "error", text: errorText(c, err) }, 400);
      }
    });
  }
  listAction(
    "/lists/:id/add",
    (c, tid, id, form) =>
      addListMembers(deps, tid, id, { person_ids: fields(form, "person_ids") }, actorOf(c)),
    "lists.added",
  );
  listAction(
    "/lists/:id/remove",
    (c, tid, id, form) =>
      removeListMembers(deps, tid, id, { person_ids: fields(form, "person_ids") }, actorOf(c)),
    "lists.removed",
  );
  listAction(
    "/lists/:id/rename",
    (c, tid, id, form) => renameList(deps, tid, id, { name: field(form, "name") }, actorOf(c)),
    "lists.renamed",
  );
  listAction(
    "/lists/:id/delete",
    (c, tid, id) => deleteList(deps, tid, id, actorOf(c)),
    "lists.deleted",
    () => "/lists",
  );

  // ---- Segments -------------------------------------------------------------------------------

  app.get("/segments", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const page = await listSegments(deps, tenant.id, PageQuery.parse(c.req.query()));
    const counts = await Promise.all(
      page.items.map((s) => countSegment(deps, tenant.id, s.definition).catch(() => NaN)),
    );
    return c.html(
      <Page c={c} deps={deps} title={t(l, "segments.title")} flash={await flash.take(c)}>
        <div class="row">
          <h1>{t(l, "segments.title")}</h1>
          <a class="button" href="/segments/new">{t(l, "segments.new")}</a>
        </div>
        <div class="card">
          {page.items.length === 0
            ? <p class="muted">{t(l, "segments.none")}</p>
            : (
              <table class="responsive" data-testid="segments">
                <tbody>
                  {page.items.map((s, i) => (
                    <tr>
                      <td>
                        <a href={`/segments/${s.id}`}>{s.name}</a>
                      </td>
                      <td>
                        {Number.isNaN(counts[i]) ? "—" : t(l, "segments.people", { n: counts[i]! })}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
        </div>
      </Page>,
    );
  });

  interface Row {
    kind: "field" | "tag" | "list";
    field: string;
    match: string;
    value: string;
    negate: boolean;
  }

  /** The builder's form → rows → a definition (one group; the API takes deeper trees). */
  function rowsOf(form: Form): Row[] {
    const kinds = fields(form, "kind");
    return kinds.map((kind, i) => ({
      kind: (["field", "tag", "list"].includes(kind) ? kind : "field") as Row["kind"],
      field: fields(form, "field")[i] ?? "name",
      match: fields(form, "match")[i] ?? "contains",
      value: fields(form, "value")[i] ?? "",
      negate: fields(form, "negate")[i] === "yes",
    }));
  }

  function definitionOf(op: string, rows: Row[]) {
    return {
      op: op === "or" ? "or" : "and",
      conditions: rows.map((r) =>
        r.kind === "tag"
          ? { tag: r.value, has: !r.negate }
          : r.kind === "list"
          ? { list: r.value, member: !r.negate }
          : VALUELESS_MATCHES.has(r.match as never)
          ? { field: r.field, match: r.match }
          : { field: r.field, match: r.match, value: r.value }
      ),
    };
  }

  function rowsFromDefinition(def: { op: string; conditions: unknown[] }): Row[] {
    return def.conditions.flatMap((c): Row[] => {
      const x = c as Record<string, unknown>;
      if ("tag" in x) {
        return [{ kind: "tag", field: "", match: "", value: String(x.tag), negate: !x.has }];
      }
      if ("list" in x) {
        return [{ kind: "list", field: "", match: "", value: String(x.list), negate: !x.member }];
      }
      if ("field" in x) {
        return [{
          kind: "field",
          field: String(x.field),
          match: String(x.match),
          value: String(x.value ?? ""),
          negate: false,
        }];
      }
      return []; // other kinds are kept only through the API for now
    });
  }

  /** Issues by condition index, in the reader's language, to show next to each row. */
  function issuesByRow(c: Context, err: unknown): Map<number, string[]> {
    const l = c.get("locale");
    const out = new Map<number, string[]>();
    const add = (path: string, message: string) => {
      const m = /conditions\.(\d+)/.exec(path);
      const i = m ? Number(m[1]) : -1;
      out.set(i, [...(out.get(i) ?? []), message]);
    };
    if (err instanceof z.ZodError) {
      for (const i of err.issues) add(i.path.join("."), zodMessage(i, l));
    } else if (err instanceof AppError && Array.isArray(err.details)) {
      for (const d of localizeIssues(l, err.details as FieldIssue[])) add(d.path, d.message);
    } else throw err;
    return out;
  }

  async function builder(
    c: Context,
    opts: {
      id?: string;
      segName: string;
      op: string;
      rows: Row[];
      count?: number | null;
      issues?: Map<number, string[]>;
      notice?: Flash | null;
      status?: number;
      /** The saved tree has parts this builder cannot show: saving here would drop them. */
      readOnly?: boolean;
    },
  ) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const lists = (await listLists(deps, tenant.id, { limit: 200 })).items;
    const action = opts.id ? `/segments/${opts.id}` : "/segments";
    const preview = opts.id
      ? await previewSavedSegment(deps, tenant.id, opts.id, { limit: 20 }).catch(() => null)
      : null;
    const rowErrors = (i: number) =>
      (opts.issues?.get(i) ?? []).map((m) => <p class="field-error">{m}</p>);
    return c.html(
      <Page
        c={c}
        deps={deps}
        title={opts.segName || t(l, "segments.new")}
        flash={opts.notice}
      >
        <p>
          <a href="/segments">← {t(l, "segments.title")}</a>
        </p>
        <h1>{opts.segName || t(l, "segments.new")}</h1>
        {opts.readOnly && <p class="flash error">{t(l, "segments.read_only")}</p>}
        <form method="post" action={action} class="card stack" id="segment-builder">
          <Csrf c={c} />
          <label>
            {t(l, "segments.name")}
            <input name="name" required maxlength={200} value={opts.segName} />
          </label>
          <label>
            {t(l, "segments.combine")}
            <select name="op">
              <option value="and" selected={opts.op !== "or"}>{t(l, "segments.all")}</option>
              <option value="or" selected={opts.op === "or"}>{t(l, "segments.any")}</option>
            </select>
          </label>
          {rowErrors(-1)}
          <table class="responsive" data-testid="conditions">
            <tbody>
              {opts.rows.map((r, i) => (
                <tr>
                  <td>
                    <select name="kind" aria-label={t(l, "segments.kind")}>
                      {(["field", "tag", "list"] as const).map((k) => (
                        <option value={k} selected={r.kind === k}>
                          {t(l, `segments.kind.${k}`)}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <select name="field" aria-label={t(l, "segments.field")}>
                      {PERSON_FIELDS.map((f) => (
                        <option value={f} selected={r.field === f}>
                          {t(l, `segments.field.${f}`)}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <select name="match" aria-label={t(l, "segments.match")}>
                      {MATCHES.map((m) => (
                        <option value={m} selected={r.match === m}>
                          {t(l, `segments.match.${m}`)}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    {r.kind === "list"
                      ? (
                        <select name="value" aria-label={t(l, "segments.value")}>
                          {lists.map((x) => (
                            <option value={x.id} selected={r.value === x.id}>{x.name}</option>
                          ))}
                        </select>
                      )
                      : <input name="value" value={r.value} aria-label={t(l, "segments.value")} />}
                    {rowErrors(i)}
                  </td>
                  <td>
                    <select name="negate" aria-label={t(l, "segments.negate")}>
                      <option value="no" selected={!r.negate}>{t(l, "segments.is")}</option>
                      <option value="yes" selected={r.negate}>{t(l, "segments.is_not")}</option>
                    </select>
                  </td>
                  <td>
                    <button type="submit" name="remove" value={String(i)} class="link danger">
                      {t(l, "people.remove")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div class="row">
            <button type="submit" name="add" value="1" class="secondary">
              {t(l, "segments.add_condition")}
            </button>
            <button type="submit" name="count" value="1" class="secondary">
              {t(l, "segments.count")}
            </button>
            <strong data-testid="live-count" aria-live="polite">
              {opts.count === null || opts.count === undefined
                ? ""
                : t(l, "segments.people", { n: opts.count })}
            </strong>
            {!opts.readOnly && (
              <button type="submit" name="save" value="1">{t(l, "common.save")}</button>
            )}
          </div>
        </form>
        {preview && (
          <div class="card">
            <h2>{t(l, "segments.preview")}</h2>
            <ul data-testid="preview">
              {preview.items.map((p) => (
                <li>
                  <a href={`/people/${p.id}`}>{name(p, l)}</a>{" "}
                  <span class="muted">{p.primary_address ?? ""}</span>
                </li>
              ))}
            </ul>
          </div>
        )}
        {opts.id && (
          <form method="post" action={`/segments/${opts.id}/delete`} class="card">
            <Csrf c={c} />
            <button type="submit" class="danger">{t(l, "segments.delete")}</button>
          </form>
        )}
        <script src="/static/segment_builder.js" defer></script>
      </Page>,
      (opts.status ?? 200) as 200,
    );
  }

  app.get("/segments/new", (c) =>
    builder(c, {
      segName: "",
      op: "and",
      rows: [{ kind: "field", field: "name", match: "contains", value: "", negate: false }],
    }));

  // The live count: the builder's form as it is now → JSON (for static/segment_builder.js).
  app.post("/segments/count", async (c) => {
    const tenant = requireTenant(c);
    const form = await readForm(c);
    const l = c.get("locale");
    try {
      const n = await countSegment(deps, tenant.id, definitionOf(field(form, "op"), rowsOf(form)));
      return c.json({ count: n, text: t(l, "segments.people", { n }) });
    } catch (err) {
      const issues = issuesByRow(c, err);
      return c.json({ error: [...issues.values()].flat().join(" ") }, 400);
    }
  });

  /** Create or update from the builder; add/remove/count re-render without saving. */
  async function submit(c: Context, id?: string) {
    const tenant = requireTenant(c);
    const form = await readForm(c);
    let rows = rowsOf(form);
    const op = field(form, "op");
    const segName = field(form, "name");
    if (field(form, "add")) {
      rows = [...rows, {
        kind: "field",
        field: "name",
        match: "contains",
        value: "",
        negate: false,
      }];
      return await builder(c, { id, segName, op, rows });
    }
    const remove = field(form, "remove");
    if (remove !== "") {
      rows = rows.filter((_, i) => String(i) !== remove);
      return await builder(c, { id, segName, op, rows });
    }
    const definition = definitionOf(op, rows);
    try {
      if (field(form, "count")) {
        const count = await countSegment(deps, tenant.id, definition);
        return await builder(c, { id, segName, op, rows, count });
      }
      const saved = id
        ? await updateSegment(deps, tenant.id, id, { name: segName, definition }, actorOf(c))
        : await createSegment(deps, tenant.id, { name: segName, definition }, actorOf(c));
      await flash.set(c, { kind: "ok", text: t(c.get("locale"), "segments.saved") });
      return c.redirect(`/segments/${saved.id}`, 303);
    } catch (err) {
      if (err instanceof AppError && err.code === "not_found") throw err;
      const issues = err instanceof AppError && !Array.isArray(err.details)
        ? new Map([[-1, [errorText(c, err)]]])
        : issuesByRow(c, err);
      return await builder(c, { id, segName, op, rows, issues, status: 400 });
    }
  }

  app.post("/segments", (c) => submit(c));

  app.get("/segments/:id", async (c) => {
    const tenant = requireTenant(c);
    const seg = await getSegment(deps, tenant.id, c.req.param("id"));
    const count = await countSegment(deps, tenant.id, seg.definition).catch(() => null);
    const rows = rowsFromDefinition(seg.definition);
    return await builder(c, {
      id: seg.id,
      segName: seg.name,
      op: seg.definition.op,
      rows,
      count,
      notice: await flash.take(c),
      readOnly: rows.length !== seg.definition.conditions.length,
    });
  });

  app.post("/segments/:id", (c) => submit(c, c.req.param("id")));

  app.post("/segments/:id/delete", async (c) => {
    const tenant = requireTenant(c);
    await deleteSegment(deps, tenant.id, c.req.param("id"), actorOf(c));
    await flash.set(c, { kind: "ok", text: t(c.get("locale"), "segments.deleted") });
    return c.redirect("/segments", 303);
  });
}
