// The import wizard: upload → map columns → dry-run report → run with progress → result.
// Progress pages refresh themselves (no JavaScript needed).
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { formatDateTime, formatNumber, t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { AppError } from "../../core/errors.ts";
import { listCustomFields } from "../../core/people/persons.ts";
import {
  createImport,
  getImport,
  IMPORT_TARGETS,
  type ImportRow,
  listImports,
  previewRows,
  reportCsv,
  setMapping,
  startImport,
  suggestMapping,
} from "../../core/people/import.ts";
import { Csrf, Page } from "./layout.tsx";
import { errorText, field, fields, readForm } from "./forms.ts";
import type { Flash, FlashStore } from "./flash.ts";

export function importPages(app: Hono, deps: AppDeps, flash: FlashStore) {
  async function uploadPage(c: Context, notice: Flash | null, status = 200) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const recent = await listImports(deps, tenant.id);
    return c.html(
      <Page c={c} deps={deps} title={t(l, "import.title")} flash={notice}>
        <p>
          <a href="/people">← {t(l, "people.title")}</a>
        </p>
        <h1>{t(l, "import.title")}</h1>
        <form
          method="post"
          action="/people/import"
          enctype="multipart/form-data"
          class="card stack"
        >
          <Csrf c={c} />
          <p class="muted">{t(l, "import.intro")}</p>
          <label>
            {t(l, "import.file")}
            <input type="file" name="file" accept=".csv,text/csv" required />
          </label>
          <div>
            <button type="submit">{t(l, "import.upload")}</button>
          </div>
        </form>
        {recent.length > 0 && (
          <div class="card">
            <h2>{t(l, "import.recent")}</h2>
            <table class="responsive">
              <tbody>
                {recent.map((r) => (
                  <tr>
                    <td>
                      <a href={`/people/import/${r.id}`}>{r.filename}</a>
                    </td>
                    <td>{t(l, `import.status.${r.status}`)}</td>
                    <td>{formatDateTime(r.created_at, l, tz)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Page>,
      status as 200,
    );
  }

  app.get("/people/import", async (c) => await uploadPage(c, await flash.take(c)));

  app.post("/people/import", async (c) => {
    const tenant = requireTenant(c);
    // The CSRF check parsed the form already; Hono caches it, so this does not read twice.
    const body = await c.req.parseBody();
    const file = body.file;
    try {
      if (!(file instanceof File) || file.size === 0) {
        throw new AppError("validation", {}, [{ path: "file", code: "empty", message: "" }]);
      }
      const imp = await createImport(deps, tenant.id, {
        filename: file.name,
        body: file.stream(),
      }, actorOf(c));
      return c.redirect(`/people/import/${imp.id}`, 303);
    } catch (err) {
      return await uploadPage(c, { kind: "error", text: errorText(c, err) }, 400);
    }
  });

  app.get("/people/import/:id", async (c) => {
    const tenant = requireTenant(c);
    const imp = await getImport(deps, tenant.id, c.req.param("id"));
    const notice = await flash.take(c);
    if (imp.status === "checking" || imp.status === "running") return progressPage(c, imp);
    if (imp.status === "checked" || imp.status === "done") {
      // The real run may also put everyone in the file on a list (which can trigger mail).
      const lists = await deps.db.selectFrom("lists").select(["id", "name"])
        .where("tenant_id", "=", requireTenant(c).id).orderBy("name").limit(500).execute();
      return reportPage(c, imp, notice, lists);
    }
    return await mappingPage(
      c,
      imp,
      notice ??
        (imp.status === "failed"
          ? {
            kind: "error",
            text: t(c.get("locale"), "import.failed", {
              error: importErrorText(c.get("locale"), imp.error ?? ""),
            }),
          }
          : null),
    );
  });

  async function mappingPage(c: Context, imp: ImportRow, notice: Flash | null, status = 200) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const headers = imp.headers ?? [];
    const mapping = imp.mapping ?? await suggestMapping(deps, tenant.id, headers);
    const custom = await listCustomFields(deps, tenant.id);
    const targets = [
      ...IMPORT_TARGETS.map((x) => ({ value: x, label: t(l, `import.target.${x}`) })),
      ...custom.map((f) => ({ value: `custom.${f.key}`, label: f.label })),
      ...deps.registry.addressTypes(c.get("plugins")).map((x) => ({
        value: `email.${x.type}`,
        label: t(l, "import.target.email_typed", {
          type: t(l, `${x.plugin}.address_type.${x.type}`),
        }),
      })),
    ];
    const sample = await previewRows(deps, tenant.id, imp);
    return c.html(
      <Page c={c} deps={deps} title={t(l, "import.map_title")} flash={notice}>
        <p>
          <a href="/people/import">← {t(l, "import.title")}</a>
        </p>
        <h1>{t(l, "import.map_title")}</h1>
        <p class="muted">
          {t(l, "import.file_info", {
            file: imp.filename,
            encoding: imp.encoding ?? "",
            delimiter: imp.delimiter === "\t" ? "tab" : imp.delimiter ?? "",
          })}
        </p>
        <form method="post" action={`/people/import/${imp.id}/mapping`} class="card stack">
          <Csrf c={c} />
          <table class="responsive" data-testid="mapping">
            <thead>
              <tr>
                <th>{t(l, "import.column")}</th>
                <th>{t(l, "import.example")}</th>
                <th>{t(l, "import.goes_to")}</th>
              </tr>
            </thead>
            <tbody>
              {headers.map((h, i) => (
                <tr>
                  <td data-label={t(l, "import.column")}>
                    <strong>{h || `#${i + 1}`}</strong>
                  </td>
                  <td data-label={t(l, "import.example")} class="muted">
                    {sample.map((r) => r[i] ?? "").filter(Boolean).slice(0, 2).join(" · ")}
                  </td>
                  <td data-label={t(l, "import.goes_to")}>
                    <select name="columns" aria-label={h}>
                      {targets.map((x) => (
                        <option value={x.value} selected={mapping.columns[i] === x.value}>
                          {x.label}
                        </option>
                      ))}
                    </select>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <fieldset>
            <legend>{t(l, "import.mode")}</legend>
            {(["add_additional", "overwrite_primary"] as const).map((m) => (
              <label>
                <input type="radio" name="mode" value={m} checked={mapping.mode === m} />{" "}
                {t(l, `import.mode.${m}`)}
              </label>
            ))}
          </fieldset>
          <div>
            <button type="submit">{t(l, "import.check")}</button>
          </div>
        </form>
      </Page>,
      status as 200,
    );
  }

  app.post("/people/import/:id/mapping", async (c) => {
    const tenant = requireTenant(c);
    const form = await readForm(c);
    const imp = await getImport(deps, tenant.id, c.req.param("id"));
    try {
      await setMapping(deps, tenant.id, imp.id, {
        columns: fields(form, "columns"),
        mode: field(form, "mode") as "add_additional",
      });
      await startImport(deps, tenant.id, imp.id, { apply: false }, actorOf(c));
      return c.redirect(`/people/import/${imp.id}`, 303);
    } catch (err) {
      return await mappingPage(c, imp, { kind: "error", text: errorText(c, err) }, 400);
    }
  });

  function progressPage(c: Context, imp: ImportRow) {
    const l = c.get("locale");
    const total = imp.status === "running" ? imp.rows_total : null;
    return c.html(
      <Page c={c} deps={deps} title={t(l, `import.status.${imp.status}`)} refresh={1}>
        <div class="card narrow" data-testid="progress">
          <h1>{t(l, `import.status.${imp.status}`)}</h1>
          {total ? <progress max={total} value={imp.rows_done}></progress> : <progress></progress>}
          <p>
            {t(l, "import.rows_read", {
              rows: formatNumber(imp.rows_done, l),
              total: total ? formatNumber(total, l) : "…",
            })}
          </p>
        </div>
      </Page>,
    );
  }

  function reportPage(
    c: Context,
    imp: ImportRow,
    notice: Flash | null,
    lists: { id: string; name: string }[] = [],
  ) {
    const l = c.get("locale");
    const r = imp.report!;
    const n = (x: number) => formatNumber(x, l);
    const done = imp.status === "done";
    return c.html(
      <Page c={c} deps={deps} title={t(l, "import.report")} flash={notice}>
        <p>
          <a href="/people/import">← {t(l, "import.title")}</a>
        </p>
        <h1>{t(l, done ? "import.done_title" : "import.report")}</h1>
        <div class="card">
          <table data-testid="report">
            <tbody>
              <tr>
                <th>{t(l, "import.r.rows")}</th>
                <td>{n(r.rows)}</td>
              </tr>
              <tr>
                <th>{t(l, done ? "import.r.created" : "import.r.new")}</th>
                <td>{n(r.new_persons)}</td>
              </tr>
              <tr>
                <th>{t(l, done ? "import.r.updated_done" : "import.r.updated")}</th>
                <td>{n(r.updated_persons)}</td>
              </tr>
              <tr>
                <th>{t(l, "import.r.secondary")}</th>
                <td>{n(r.matched_on_secondary)}</td>
              </tr>
              <tr>
                <th>{t(l, "import.r.conflicts")}</th>
                <td>{n(r.conflicts)}</td>
              </tr>
              <tr>
                <th>{t(l, "import.r.invalid")}</th>
                <td>{n(r.invalid)}</td>
              </tr>
            </tbody>
          </table>
          {(r.invalid + r.conflicts) > 0 && (
            <p>
              <a href={`/people/import/${imp.id}/report.csv`}>{t(l, "import.download")}</a>
            </p>
          )}
        </div>
        {r.invalid_rows.length > 0 && (
          <div class="card">
            <h2>{t(l, "import.r.invalid")}</h2>
            <ul>
              {r.invalid_rows.slice(0, 50).map((x) => (
                <li>
                  {t(l, "import.line", { line: x.line })}: {x.column} — {t(l, `issue.${x.reason}`)}
                </li>
              ))}
            </ul>
          </div>
        )}
        {r.conflict_rows.length > 0 && (
          <div class="card">
            <h2>{t(l, "import.r.conflicts")}</h2>
            <ul>
              {r.conflict_rows.slice(0, 50).map((x) => (
                <li>
                  {t(l, "import.line", { line: x.line })}: {x.address} — {x.persons.map((p, i) => (
                    <>
                      {i > 0 && ", "}
                      <a href={`/people/${p}`}>{p.slice(-6)}</a>
                    </>
                  ))}
                </li>
              ))}
            </ul>
          </div>
        )}
        {!done && (
          <form method="post" action={`/people/import/${imp.id}/run`} class="row">
            <Csrf c={c} />
            {lists.length > 0 && (
              <label>
                {t(l, "import.add_to_list")}{" "}
                <select name="list_id" data-testid="import-list">
                  <option value="">{t(l, "import.no_list")}</option>
                  {lists.map((x) => <option value={x.id}>{x.name}</option>)}
                </select>
              </label>
            )}
            <button type="submit">{t(l, "import.run")}</button>
            <a href={`/people/import/${imp.id}/mapping`}>{t(l, "import.change_mapping")}</a>
          </form>
        )}
      </Page>,
    );
  }

  app.get("/people/import/:id/mapping", async (c) => {
    const tenant = requireTenant(c);
    const imp = await getImport(deps, tenant.id, c.req.param("id"));
    if (imp.status === "done" || imp.status === "running") {
      return c.redirect(`/people/import/${imp.id}`, 303);
    }
    return await mappingPage(c, imp, null);
  });

  app.post("/people/import/:id/run", async (c) => {
    const tenant = requireTenant(c);
    const id = c.req.param("id");
    try {
      const listId = field(await readForm(c), "list_id") || undefined;
      await startImport(deps, tenant.id, id, { apply: true, listId }, actorOf(c));
    } catch (err) {
      if (err instanceof AppError && err.code === "not_found") throw err;
      await flash.set(c, { kind: "error", text: errorText(c, err) });
    }
    return c.redirect(`/people/import/${id}`, 303);
  });

  app.get("/people/import/:id/report.csv", async (c) => {
    const tenant = requireTenant(c);
    const imp = await getImport(deps, tenant.id, c.req.param("id"));
    if (!imp.report) throw new AppError("not_found");
    return c.body(reportCsv(imp.report), 200, {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="import-report-${imp.id}.csv"`,
    });
  });
}

/** Import errors are stored as codes ("csv:stray_quote:12"); this says them in the reader's language. */
function importErrorText(l: Parameters<typeof t>[0], error: string): string {
  const [kind, reason, line] = error.split(":");
  if (kind === "csv" && reason && line) return t(l, `csv.${reason}`, { line: Number(line) });
  return error;
}
