// The link_stats card on a send's statistics page, and its CSV download under /p/link_stats.
import type { Hono } from "hono";
import { z } from "zod";
import type { AppDeps } from "../../core/deps.ts";
import type { SendStatsPanelContext } from "../../core/plugin.ts";
import { requireTenant } from "../../core/http/context.ts";
import { AppError } from "../../core/errors.ts";
import { formatNumber, t } from "../../core/i18n/mod.ts";
import { linkStats, linkStatsCsv } from "./stats.ts";

const k = (key: string) => `link_stats.${key}`;

export async function linkStatsPanel(ctx: SendStatsPanelContext) {
  const { locale: l } = ctx;
  const rows = await linkStats(ctx.deps, ctx.tenantId, ctx.sendId);
  const n = (v: number) => formatNumber(v, l);
  return (
    <div class="card" data-testid="link-stats">
      <h2>{t(l, k("title"))}</h2>
      <p class="muted">{t(l, k("intro"))}</p>
      {rows.length === 0 ? <p class="muted">{t(l, k("none"))}</p> : (
        <>
          <table class="responsive">
            <thead>
              <tr>
                <th>#</th>
                <th>{t(l, k("col_link"))}</th>
                <th>{t(l, k("col_url"))}</th>
                <th>{t(l, k("col_people"))}</th>
                <th>{t(l, k("col_machines"))}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr data-link={String(r.index)}>
                  <td>{n(r.index + 1)}</td>
                  <td data-label={t(l, k("col_link"))}>
                    {r.label || <span class="muted">{t(l, k("no_label"))}</span>}
                  </td>
                  <td data-label={t(l, k("col_url"))}>
                    <a href={r.url} rel="noopener noreferrer" target="_blank">{r.url}</a>
                  </td>
                  <td data-label={t(l, k("col_people"))} data-human>
                    <strong>{n(r.human.unique)}</strong> {t(l, k("unique"))} · {n(r.human.total)}
                    {" "}
                    {t(l, k("total"))}
                  </td>
                  <td data-label={t(l, k("col_machines"))} data-machine class="muted">
                    {n(r.machine.unique)} {t(l, k("unique"))} · {n(r.machine.total)}{" "}
                    {t(l, k("total"))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p>
            <a href={`/p/link_stats/sends/${ctx.sendId}/links.csv`} download>{t(l, k("csv"))}</a>
          </p>
        </>
      )}
    </div>
  );
}

export function linkStatsUi(app: Hono, deps: AppDeps): void {
  app.get("/sends/:id/links.csv", async (c) => {
    const tenant = requireTenant(c);
    const id = z.uuid().safeParse(c.req.param("id"));
    if (!id.success) throw new AppError("not_found");
    const csv = linkStatsCsv(await linkStats(deps, tenant.id, id.data));
    return c.body(csv, 200, {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="links-${id.data}.csv"`,
    });
  });
}
