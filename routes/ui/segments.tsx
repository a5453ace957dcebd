// Staff UI for saved segments: the list with current counts, a builder of nested AND/OR groups
// that works as a plain form (buttons re-render it) and counts live with
// static/segment_builder.js, the segment page with a preview, and delete with a confirmation.
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { PageQuery } from "../../core/http/pagination.ts";
import { listCustomFields } from "../../core/people/persons.ts";
import { listLists } from "../../core/people/lists.ts";
import { countSegment } from "../../core/people/segments.ts";
import {
  createSegment,
  deleteSegment,
  getSegment,
  listSegments,
  previewSavedSegment,
  updateSegment,
} from "../../core/people/saved_segments.ts";
import {
  applyAct,
  blankCond,
  blankGroup,
  CondView,
  Errors,
  fromDefinition,
  type GroupNode,
  GroupView,
  type Issue,
  issuesOf,
  type Locals,
  parseTree,
  ROOT,
  toDefinition,
} from "./segment_builder.tsx";
import { MAX_DEPTH } from "../../core/people/segment_definition.ts";
import { Csrf, Page } from "./layout.tsx";
import { field, readForm } from "./forms.ts";
import type { FlashStore } from "./flash.ts";

// ---- Pages ----------------------------------------------------------------------------------

async function loadChoices(deps: AppDeps, tenantId: string): Promise<Locals> {
  const [lists, customs] = await Promise.all([
    listLists(deps, tenantId, { limit: 200 }),
    listCustomFields(deps, tenantId),
  ]);
  return { lists: lists.items, customs };
}

interface View {
  id?: string;
  name: string;
  tree: GroupNode;
  count?: number;
  error?: string;
  issues?: Issue[];
}

export function segmentPages(app: Hono, deps: AppDeps, flash: FlashStore) {
  app.get("/segments", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const page = await listSegments(deps, tenant.id, PageQuery.parse(c.req.query()));
    // A segment that no longer compiles is listed without a count; its page says why.
    const counts = await Promise.all(
      page.items.map((s) => countSegment(deps, tenant.id, s.definition).catch(() => null)),
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
                <thead>
                  <tr>
                    <th>{t(l, "segments.name")}</th>
                    <th>{t(l, "segments.col_count")}</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((s, i) => (
                    <tr>
                      <td data-label={t(l, "segments.name")}>
                        <a href={`/segments/${s.id}`}>{s.name}</a>
                      </td>
                      <td data-label={t(l, "segments.col_count")}>
                        {counts[i] === null ? "—" : t(l, "segments.people", { n: counts[i]! })}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          {page.next_cursor && (
            <p>
              <a href={`/segments?cursor=${page.next_cursor}`} rel="next">{t(l, "common.next")}</a>
            </p>
          )}
        </div>
      </Page>,
    );
  });

  async function builder(c: Context, v: View, status = 200) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const ctx = { l, ...await loadChoices(deps, tenant.id), issues: v.issues ?? [] };
    const title = v.id ? t(l, "segments.edit_title", { name: v.name }) : t(l, "segments.new");
    return c.html(
      <Page c={c} deps={deps} title={title}>
        <p>
          <a href={v.id ? `/segments/${v.id}` : "/segments"}>← {t(l, "segments.title")}</a>
        </p>
        <h1>{title}</h1>
        <form
          method="post"
          action={v.id ? `/segments/${v.id}` : "/segments"}
          id="segment-builder"
          class="card stack builder"
          data-max-depth={String(MAX_DEPTH)}
        >
          {/* First, so Enter in a field counts instead of pressing "Remove" on the first row. */}
          <button
            type="submit"
            name="act"
            value="count"
            formnovalidate
            class="default-submit"
            tabindex={-1}
            aria-hidden="true"
          >
            {t(l, "segments.count")}
          </button>
          <Csrf c={c} />
          <label>
            {t(l, "segments.name")}
            <input name="name" required maxlength={200} value={v.name} />
          </label>
          <Errors ctx={ctx} node="name" />
          <p class="muted">{t(l, "segments.builder_help")}</p>
          <GroupView ctx={ctx} g={v.tree} path={ROOT} />
          <div class="row">
            <button type="submit" name="act" value="count" formnovalidate class="secondary">
              {t(l, "segments.count")}
            </button>
            <output
              data-testid="live-count"
              aria-live="polite"
              class={v.error ? "field-error" : "live-count"}
            >
              {v.error ?? (v.count === undefined ? "" : t(l, "segments.people", { n: v.count }))}
            </output>
            <button type="submit" name="act" value="save">{t(l, "common.save")}</button>
          </div>
        </form>
        {/* Blank rows for segment_builder.js to add without a round trip. */}
        <template id="segment-cond">
          <CondView ctx={{ ...ctx, issues: [] }} n={blankCond()} path={`${ROOT}.0`} />
        </template>
        <template id="segment-group">
          <GroupView ctx={{ ...ctx, issues: [] }} g={blankGroup()} path={`${ROOT}.0`} />
        </template>
        <script src="/static/segment_builder.js" defer></script>
      </Page>,
      status as 200,
    );
  }

  app.get(
    "/segments/new",
    (c) => builder(c, { name: "", tree: { kind: "group", op: "and", children: [blankCond()] } }),
  );

  /** Builder buttons re-render the form; Count counts; Save creates or updates. */
  async function submit(c: Context, id?: string) {
    const tenant = requireTenant(c);
    if (id) await getSegment(deps, tenant.id, id);
    const form = await readForm(c);
    const v: View = { id, name: field(form, "name"), tree: parseTree(form) };
    const act = field(form, "act") || "save";
    if (act !== "save" && act !== "count") {
      applyAct(v.tree, act);
      return await builder(c, v);
    }
    const definition = toDefinition(v.tree);
    try {
      if (act === "count") {
        return await builder(c, { ...v, count: await countSegment(deps, tenant.id, definition) });
      }
      const input = { name: v.name, definition };
      const saved = id
        ? await updateSegment(deps, tenant.id, id, input, actorOf(c))
        : await createSegment(deps, tenant.id, input, actorOf(c));
      await flash.set(c, { kind: "ok", text: t(c.get("locale"), "segments.saved") });
      return c.redirect(`/segments/${saved.id}`, 303);
    } catch (err) {
      const { message, issues } = issuesOf(c, err);
      return await builder(c, { ...v, error: message, issues }, 400);
    }
  }

  app.post("/segments", (c) => submit(c));

  // The live count: the builder's form as it is now → { count, text } or { error }.
  app.post("/segments/count", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const definition = toDefinition(parseTree(await readForm(c)));
    try {
      const n = await countSegment(deps, tenant.id, definition);
      return c.json({ count: n, text: t(l, "segments.people", { n }) });
    } catch (err) {
      const { message, status, issues } = issuesOf(c, err);
      return c.json({ error: { message, details: issues } }, status as 400);
    }
  });

  app.get("/segments/:id", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const seg = await getSegment(deps, tenant.id, c.req.param("id"));
    let problem = "";
    const [count, preview] = await Promise.all([
      countSegment(deps, tenant.id, seg.definition),
      previewSavedSegment(deps, tenant.id, seg.id, { limit: 20 }),
    ]).catch((err) => {
      const { message, issues } = issuesOf(c, err);
      problem = issues.map((i) => i.text).join(" ") || message;
      return [null, null];
    });
    const base = `/segments/${seg.id}`;
    return c.html(
      <Page c={c} deps={deps} title={seg.name} flash={await flash.take(c)}>
        <p>
          <a href="/segments">← {t(l, "segments.title")}</a>
        </p>
        <h1>{seg.name}</h1>
        <div class="card row">
          <strong data-testid="count">
            {count === null ? "—" : t(l, "segments.people", { n: count })}
          </strong>
          {problem && <span class="field-error">{problem}</span>}
          <a class="button secondary" href={`${base}/edit`}>{t(l, "segments.edit")}</a>
          <a class="button danger" href={`${base}/delete`}>{t(l, "segments.delete")}</a>
        </div>
        <div class="card">
          <h2>{t(l, "segments.preview")}</h2>
          {preview?.items.length === 0 && <p class="muted">{t(l, "segments.preview_none")}</p>}
          {preview && preview.items.length > 0 && (
            <table class="responsive" data-testid="preview">
              <thead>
                <tr>
                  <th>{t(l, "people.name")}</th>
                  <th>{t(l, "people.primary")}</th>
                  <th>{t(l, "people.organisation")}</th>
                </tr>
              </thead>
              <tbody>
                {preview.items.map((p) => (
                  <tr>
                    <td data-label={t(l, "people.name")}>
                      <a href={`/people/${p.id}`}>
                        {`${p.first_name} ${p.last_name}`.trim() || t(l, "people.unnamed")}
                      </a>
                    </td>
                    <td data-label={t(l, "people.primary")}>{p.primary_address ?? "—"}</td>
                    <td data-label={t(l, "people.organisation")}>{p.organisation}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </Page>,
    );
  });

  app.get("/segments/:id/edit", async (c) => {
    const tenant = requireTenant(c);
    const seg = await getSegment(deps, tenant.id, c.req.param("id"));
    const count = await countSegment(deps, tenant.id, seg.definition).catch(() => undefined);
    return await builder(c, {
      id: seg.id,
      name: seg.name,
      tree: fromDefinition(seg.definition),
      count,
    });
  });

  app.post("/segments/:id", (c) => submit(c, c.req.param("id")));

  app.get("/segments/:id/delete", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const seg = await getSegment(deps, tenant.id, c.req.param("id"));
    return c.html(
      <Page c={c} deps={deps} title={t(l, "segments.delete")}>
        <div class="card narrow">
          <h1>{t(l, "segments.delete")}: {seg.name}</h1>
          <p>{t(l, "segments.delete_explain")}</p>
          <form method="post" action={`/segments/${seg.id}/delete`} class="row">
            <Csrf c={c} />
            <button type="submit" class="danger">{t(l, "segments.delete")}</button>
            <a href={`/segments/${seg.id}`}>{t(l, "common.cancel")}</a>
          </form>
        </div>
      </Page>,
    );
  });

  app.post("/segments/:id/delete", async (c) => {
    const tenant = requireTenant(c);
    await deleteSegment(deps, tenant.id, c.req.param("id"), actorOf(c));
    await flash.set(c, { kind: "ok", text: t(c.get("locale"), "segments.deleted") });
    return c.redirect("/segments", 303);
  });
}
