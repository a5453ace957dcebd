// Pages under /p/automation: recurring and triggered rules (create, edit, stop), their runs with
// counts, seeds and skip reasons, waiting periods; and the panel on a mailing's page.
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { formatDateTime, formatNumber, type Locale, t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import type { MailingPanelContext } from "../../core/plugin.ts";
import { Csrf, Page } from "../../routes/ui/layout.tsx";
import { errorText, field, fields, type Form, readForm } from "../../routes/ui/forms.ts";
import { type Flash, flashStore } from "../../routes/ui/flash.ts";
import {
  createRule,
  deleteRule,
  getRule,
  getWaitingPeriod,
  listRules,
  listRuns,
  listWaitingPeriods,
  type Rule,
  type RuleInput,
  setRuleActive,
  setWaitingPeriod,
  updateRule,
} from "./store.ts";
import { localized } from "./issues.ts";
import { reasonText } from "./reasons.ts";

const P = "automation";
const BASE = `/p/${P}`;
const DAYS = [1, 2, 3, 4, 5, 6, 7];

/** What the forms choose from: the tenant's mailings, segments and lists. */
async function choices(deps: AppDeps, tenantId: string) {
  const [mailings, segments, lists] = await Promise.all([
    deps.db.selectFrom("mailings").select(["id", "subject", "status"])
      .where("tenant_id", "=", tenantId).where("status", "<>", "cancelled")
      .orderBy("id", "desc").limit(300).execute(),
    deps.db.selectFrom("segments").select(["id", "name"]).where("tenant_id", "=", tenantId)
      .orderBy("name").limit(500).execute(),
    deps.db.selectFrom("lists").select(["id", "name"]).where("tenant_id", "=", tenantId)
      .orderBy("name").limit(500).execute(),
  ]);
  return { mailings, segments, lists };
}
type Choices = Awaited<ReturnType<typeof choices>>;

const num = (s: string) => (s.trim() === "" ? undefined : Number(s));

/** The form's fields as the API's input (validated there, with field-level errors). */
function ruleFromForm(form: Form, kind: "recurring" | "trigger"): RuleInput {
  const base = {
    name: field(form, "name"),
    mailing_id: field(form, "mailing_id"),
    active: field(form, "active") !== "false",
  };
  if (kind === "trigger") return { kind, ...base, list_id: field(form, "list_id") };
  const mode = field(form, "sample_mode");
  const sample = mode === "systematic" || mode === "random"
    ? {
      mode,
      count: num(field(form, "sample_count")),
      percent: num(field(form, "sample_percent")),
      every: num(field(form, "sample_every")),
      start: num(field(form, "sample_start")),
      seed: field(form, "sample_seed").trim() || undefined,
    } as const
    : null;
  return {
    kind,
    ...base,
    segment_ids: fields(form, "segment_ids").filter(Boolean),
    exclude_segment_ids: fields(form, "exclude_segment_ids").filter(Boolean),
    weekdays: fields(form, "weekdays").map(Number),
    times: field(form, "times").split(/[,\s]+/).filter(Boolean),
    lead_minutes: num(field(form, "lead_minutes")) ?? 0,
    sample,
  };
}

function Select(
  { name, items, selected, multiple, empty }: {
    name: string;
    items: { id: string; label: string }[];
    selected: string[];
    multiple?: boolean;
    empty?: string;
  },
) {
  return (
    <select name={name} multiple={multiple} required={!multiple}>
      {empty !== undefined && <option value="">{empty}</option>}
      {items.map((i) => <option value={i.id} selected={selected.includes(i.id)}>{i.label}</option>)}
    </select>
  );
}

function RuleForm(
  { c, l, kind, ch, rule, action }: {
    c: Context;
    l: Locale;
    kind: "recurring" | "trigger";
    ch: Choices;
    rule?: Rule | null;
    action: string;
  },
) {
  const mailings = ch.mailings.map((m) => ({ id: m.id, label: m.subject || m.id }));
  const s = rule?.sample;
  return (
    <form method="post" action={action} class="stack" data-testid={`form-${kind}`}>
      <Csrf c={c} />
      <input type="hidden" name="kind" value={kind} />
      <label>
        {t(l, `${P}.name`)}
        <input name="name" required maxlength={200} value={rule?.name ?? ""} />
      </label>
      <label>
        {t(l, `${P}.mailing`)}
        <Select name="mailing_id" items={mailings} selected={[rule?.mailing_id ?? ""]} />
      </label>
      {kind === "trigger"
        ? (
          <>
            <label>
              {t(l, `${P}.list`)}
              <Select
                name="list_id"
                items={ch.lists.map((x) => ({ id: x.id, label: x.name }))}
                selected={[rule?.list_id ?? ""]}
              />
            </label>
            <p class="muted">{t(l, `${P}.trigger_note`)}</p>
          </>
        )
        : (
          <>
            <label>
              {t(l, `${P}.segments`)}
              <Select
                name="segment_ids"
                multiple
                items={ch.segments.map((x) => ({ id: x.id, label: x.name }))}
                selected={rule?.segment_ids ?? []}
              />
            </label>
            <label>
              {t(l, `${P}.exclude_segments`)}
              <Select
                name="exclude_segment_ids"
                multiple
                items={ch.segments.map((x) => ({ id: x.id, label: x.name }))}
                selected={rule?.exclude_segment_ids ?? []}
              />
            </label>
            <fieldset>
              <legend>{t(l, `${P}.weekdays`)}</legend>
              {DAYS.map((d) => (
                <label class="inline">
                  <input
                    type="checkbox"
                    name="weekdays"
                    value={String(d)}
                    checked={rule?.weekdays.includes(d) ?? false}
                  />{" "}
                  {t(l, `${P}.day.${d}`)}
                </label>
              ))}
            </fieldset>
            <label>
              {t(l, `${P}.times`)}
              <input name="times" required value={(rule?.times ?? []).join(", ")} />
            </label>
            <label>
              {t(l, `${P}.lead_minutes`)}
              <input
                name="lead_minutes"
                type="number"
                min="0"
                max="1440"
                value={String(rule?.lead_minutes ?? 0)}
              />
            </label>
            <fieldset>
              <legend>{t(l, `${P}.sample`)}</legend>
              {(["", "systematic", "random"] as const).map((m) => (
                <label class="inline">
                  <input
                    type="radio"
                    name="sample_mode"
                    value={m}
                    checked={(s?.mode ?? "") === m}
                  />{" "}
                  {t(l, `${P}.sample_${m || "none"}`)}
                </label>
              ))}
              <label>
                {t(l, `${P}.sample_count`)}
                <input name="sample_count" type="number" min="1" value={String(s?.count ?? "")} />
              </label>
              <label>
                {t(l, `${P}.sample_percent`)}
                <input
                  name="sample_percent"
                  type="number"
                  min="0"
                  max="100"
                  step="any"
                  value={String(s?.percent ?? "")}
                />
              </label>
              <label>
                {t(l, `${P}.sample_every`)}
                <input name="sample_every" type="number" min="1" value={String(s?.every ?? "")} />
              </label>
              <label>
                {t(l, `${P}.sample_start`)}
                <input name="sample_start" type="number" min="1" value={String(s?.start ?? "")} />
              </label>
              <label>
                {t(l, `${P}.sample_seed`)}
                <input name="sample_seed" maxlength={64} value={s?.seed ?? ""} />
              </label>
            </fieldset>
            <p class="flash error" role="note" data-testid="weekly-warning">
              {t(l, `${P}.weekly_warning`)}
            </p>
          </>
        )}
      <div>
        <button type="submit">{t(l, rule ? `${P}.save` : `${P}.create`)}</button>
      </div>
    </form>
  );
}

function whenText(r: Rule, l: Locale) {
  return `${r.weekdays.map((d) => t(l, `${P}.day.${d}`)).join(", ")} ${
    r.times.join(", ")
  } (${r.time_zone})`;
}

function Excluded({ l, excluded }: { l: Locale; excluded: Record<string, number> }) {
  const parts = Object.entries(excluded).filter(([, n]) => Number(n) > 0);
  if (!parts.length) return <>0</>;
  return (
    <>
      {parts.map(([k, n]) => {
        const [plugin, reason] = k.includes(".") ? k.split(".", 2) : [null, k];
        const label = plugin ? t(l, `${plugin}.exclusion.${reason}`) : t(l, `send.excluded.${k}`);
        return <div>{label}: {formatNumber(Number(n), l)}</div>;
      })}
    </>
  );
}

export function automationUi(app: Hono, deps: AppDeps): void {
  const flashes = flashStore(deps.secret, deps.config.cookieSecure);

  async function index(c: Context, notice: Flash | null, status = 200) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const [rules, waits, ch] = await Promise.all([
      listRules(deps, tenant.id),
      listWaitingPeriods(deps, tenant.id),
      choices(deps, tenant.id),
    ]);
    const recurring = rules.filter((r) => r.kind === "recurring");
    const triggers = rules.filter((r) => r.kind === "trigger");
    const state = (r: Rule) => (
      <span class={r.active ? "badge" : "badge revoked"} data-testid="rule-state">
        {t(l, r.active ? `${P}.active` : `${P}.stopped`)}
      </span>
    );
    return c.html(
      <Page c={c} deps={deps} title={t(l, `${P}.title`)} flash={notice}>
        <h1>{t(l, `${P}.title`)}</h1>
        <p class="muted">{t(l, `${P}.intro`)}</p>
        <section class="card">
          <h2>{t(l, `${P}.recurring`)}</h2>
          {recurring.some((r) => r.active) && (
            <p class="flash error" role="note">{t(l, `${P}.weekly_warning`)}</p>
          )}
          {recurring.length === 0
            ? <p class="muted">{t(l, `${P}.none`)}</p>
            : (
              <table class="responsive" data-testid="recurring">
                <thead>
                  <tr>
                    <th>{t(l, `${P}.name`)}</th>
                    <th>{t(l, `${P}.mailing`)}</th>
                    <th>{t(l, `${P}.when`)}</th>
                    <th>{t(l, `${P}.next_run`)}</th>
                    <th>{t(l, `${P}.status`)}</th>
                  </tr>
                </thead>
                <tbody>
                  {recurring.map((r) => (
                    <tr>
                      <td data-label={t(l, `${P}.name`)}>
                        <a href={`${BASE}/rules/${r.id}`}>{r.name}</a>
                      </td>
                      <td data-label={t(l, `${P}.mailing`)}>
                        <a href={`/mailings/${r.mailing_id}`}>{r.mailing_subject}</a>
                      </td>
                      <td data-label={t(l, `${P}.when`)}>{whenText(r, l)}</td>
                      <td data-label={t(l, `${P}.next_run`)}>
                        {r.next_run_at ? formatDateTime(new Date(r.next_run_at), l, tz) : "–"}
                      </td>
                      <td data-label={t(l, `${P}.status`)}>{state(r)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
        </section>
        <section class="card">
          <h2>{t(l, `${P}.triggers`)}</h2>
          {triggers.length === 0
            ? <p class="muted">{t(l, `${P}.none`)}</p>
            : (
              <table class="responsive" data-testid="triggers">
                <thead>
                  <tr>
                    <th>{t(l, `${P}.name`)}</th>
                    <th>{t(l, `${P}.mailing`)}</th>
                    <th>{t(l, `${P}.list`)}</th>
                    <th>{t(l, `${P}.status`)}</th>
                  </tr>
                </thead>
                <tbody>
                  {triggers.map((r) => (
                    <tr>
                      <td data-label={t(l, `${P}.name`)}>
                        <a href={`${BASE}/rules/${r.id}`}>{r.name}</a>
                      </td>
                      <td data-label={t(l, `${P}.mailing`)}>{r.mailing_subject}</td>
                      <td data-label={t(l, `${P}.list`)}>
                        {ch.lists.find((x) => x.id === r.list_id)?.name ?? ""}
                      </td>
                      <td data-label={t(l, `${P}.status`)}>{state(r)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
        </section>
        <section class="card">
          <h2>{t(l, `${P}.waiting_periods`)}</h2>
          <p class="muted">{t(l, `${P}.waiting_intro`)}</p>
          {waits.length > 0 && (
            <table data-testid="waiting-periods">
              <tbody>
                {waits.map((w) => (
                  <tr>
                    <td>{w.mailing_subject}</td>
                    <td>{formatNumber(Number(w.days), l)} {t(l, `${P}.days`)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <form method="post" action={`${BASE}/waiting-periods`} class="row">
            <Csrf c={c} />
            <Select
              name="mailing_id"
              items={ch.mailings.map((m) => ({ id: m.id, label: m.subject || m.id }))}
              selected={[]}
            />
            <label>
              {t(l, `${P}.days`)} <input name="days" type="number" min="1" max="3650" />
            </label>
            <button type="submit">{t(l, `${P}.set`)}</button>
          </form>
        </section>
        <details class="card" open={recurring.length === 0}>
          <summary>{t(l, `${P}.new_recurring`)}</summary>
          <RuleForm c={c} l={l} kind="recurring" ch={ch} action={`${BASE}/rules`} />
        </details>
        <details class="card" open={triggers.length === 0}>
          <summary>{t(l, `${P}.new_trigger`)}</summary>
          <RuleForm c={c} l={l} kind="trigger" ch={ch} action={`${BASE}/rules`} />
        </details>
      </Page>,
      status as 200,
    );
  }

  async function rulePage(c: Context, id: string, notice: Flash | null, status = 200) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const tz = c.get("timeZone");
    const rule = await getRule(deps, tenant.id, id);
    const [runs, ch] = await Promise.all([
      listRuns(deps, tenant.id, id),
      choices(deps, tenant.id),
    ]);
    const label = (s: string) => t(l, `${P}.run.${s}`);
    return c.html(
      <Page c={c} deps={deps} title={rule.name} flash={notice}>
        <p>
          <a href={BASE}>{t(l, `${P}.title`)}</a>
        </p>
        <h1>{rule.name}</h1>
        <section class="card row">
          <span class={rule.active ? "badge" : "badge revoked"} data-testid="rule-state">
            {t(l, rule.active ? `${P}.active` : `${P}.stopped`)}
          </span>
          {rule.kind === "recurring" && rule.next_run_at && (
            <span data-testid="next-run">
              {t(l, `${P}.next_run`)}: {formatDateTime(new Date(rule.next_run_at), l, tz)}
            </span>
          )}
          <form method="post" action={`${BASE}/rules/${rule.id}/${rule.active ? "stop" : "start"}`}>
            <Csrf c={c} />
            <button type="submit" class={rule.active ? "danger" : ""} data-testid="toggle">
              {t(
                l,
                rule.active
                  ? (rule.kind === "recurring" ? `${P}.stop` : `${P}.stop_trigger`)
                  : `${P}.start`,
              )}
            </button>
          </form>
          <form method="post" action={`${BASE}/rules/${rule.id}/delete`}>
            <Csrf c={c} />
            <button type="submit" class="danger">{t(l, `${P}.delete`)}</button>
          </form>
        </section>
        <section class="card">
          <h2>{t(l, `${P}.runs`)}</h2>
          {runs.length === 0
            ? <p class="muted">{t(l, `${P}.none`)}</p>
            : (
              <table class="responsive" data-testid="runs">
                <thead>
                  <tr>
                    <th>{t(l, `${P}.occurrence`)}</th>
                    <th>{t(l, `${P}.status`)}</th>
                    <th>{t(l, `${P}.recipients`)}</th>
                    <th>{t(l, `${P}.sent`)}</th>
                    <th>{t(l, `${P}.excluded`)}</th>
                    <th>{t(l, `${P}.seed`)}</th>
                    <th>{t(l, `${P}.reason`)}</th>
                  </tr>
                </thead>
                <tbody>
                  {runs.map((r) => (
                    <tr>
                      <td data-label={t(l, `${P}.occurrence`)}>
                        {r.send_id
                          ? (
                            <a href={`/sends/${r.send_id}/stats`}>
                              {formatDateTime(new Date(r.occurrence_at), l, tz)}
                            </a>
                          )
                          : formatDateTime(new Date(r.occurrence_at), l, tz)}
                      </td>
                      <td data-label={t(l, `${P}.status`)}>
                        {label(r.status)}
                        {"person_id" in r && r.person_id && (
                          <>
                            {" · "}
                            <a href={`/people/${r.person_id}`}>{t(l, `${P}.person`)}</a>
                          </>
                        )}
                      </td>
                      <td data-label={t(l, `${P}.recipients`)}>
                        {r.total === null ? "–" : formatNumber(r.total, l)}
                      </td>
                      <td data-label={t(l, `${P}.sent`)}>
                        {r.sent === null ? "–" : formatNumber(r.sent, l)}
                      </td>
                      <td data-label={t(l, `${P}.excluded`)}>
                        <Excluded l={l} excluded={r.excluded} />
                      </td>
                      <td data-label={t(l, `${P}.seed`)}>
                        {r.seed && <code data-testid="seed">{r.seed}</code>}
                      </td>
                      <td data-label={t(l, `${P}.reason`)} data-testid="reason">
                        {reasonText(l, r.reason, r.reason_params)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
        </section>
        <section class="card">
          <h2>{t(l, `${P}.edit`)}</h2>
          <RuleForm
            c={c}
            l={l}
            kind={rule.kind}
            ch={ch}
            rule={rule}
            action={`${BASE}/rules/${rule.id}`}
          />
        </section>
      </Page>,
      status as 200,
    );
  }

  /** The form's error, its field issues in the reader's language. */
  const problem = (c: Context, e: unknown) => errorText(c, localized(e, c.get("locale")));
  // Whoever may send in the core UI may make rules send (the scope binds API keys only).
  const sender = (c: Context) => requireTenant(c, "send");

  const ok = async (c: Context, key: string, params: Record<string, string> = {}) =>
    await (await flashes).set(c, { kind: "ok", text: t(c.get("locale"), key, params) });

  app.get("/", async (c) => index(c, await (await flashes).take(c)));

  app.post("/rules", async (c) => {
    const tenant = sender(c);
    const form = await readForm(c);
    const kind = field(form, "kind") === "trigger" ? "trigger" : "recurring";
    try {
      const r = await createRule(deps, tenant.id, ruleFromForm(form, kind), actorOf(c));
      await ok(c, `${P}.created`, { name: r.name });
      return c.redirect(`${BASE}/rules/${r.id}`, 303);
    } catch (e) {
      return await index(c, { kind: "error", text: problem(c, e) }, 400);
    }
  });

  app.get("/rules/:id", async (c) => rulePage(c, c.req.param("id"), await (await flashes).take(c)));

  app.post("/rules/:id", async (c) => {
    const tenant = sender(c);
    const id = c.req.param("id");
    const rule = await getRule(deps, tenant.id, id);
    const form = await readForm(c);
    try {
      const input = { ...ruleFromForm(form, rule.kind), active: rule.active } as RuleInput;
      const r = await updateRule(deps, tenant.id, id, input, actorOf(c));
      await ok(c, `${P}.saved`, { name: r.name });
      return c.redirect(`${BASE}/rules/${id}`, 303);
    } catch (e) {
      return await rulePage(c, id, { kind: "error", text: problem(c, e) }, 400);
    }
  });

  for (const [action, active] of [["stop", false], ["start", true]] as const) {
    app.post(`/rules/:id/${action}`, async (c) => {
      const tenant = active ? sender(c) : requireTenant(c);
      const r = await setRuleActive(deps, tenant.id, c.req.param("id"), active, actorOf(c));
      await ok(c, active ? `${P}.started_done` : `${P}.stopped_done`, { name: r.name });
      return c.redirect(`${BASE}/rules/${r.id}`, 303);
    });
  }

  app.post("/rules/:id/delete", async (c) => {
    const tenant = requireTenant(c);
    await deleteRule(deps, tenant.id, c.req.param("id"), actorOf(c));
    await ok(c, `${P}.deleted`);
    return c.redirect(BASE, 303);
  });

  app.post("/waiting-periods", async (c) => {
    const tenant = sender(c);
    const form = await readForm(c);
    try {
      const days = field(form, "days").trim();
      await setWaitingPeriod(deps, tenant.id, {
        mailing_id: field(form, "mailing_id"),
        days: days === "" ? null : Number(days),
      }, actorOf(c));
      await ok(c, `${P}.waiting_saved`);
      return c.redirect(BASE, 303);
    } catch (e) {
      return await index(c, { kind: "error", text: problem(c, e) }, 400);
    }
  });
}

/** On a mailing's page: which rules send it, and its waiting period. */
export async function automationPanel(ctx: MailingPanelContext) {
  const { deps, tenant, mailing: m, locale: l } = ctx;
  // This mailing's rules and waiting period only (a tenant may have more rules than one page).
  const [rules, days] = await Promise.all([
    listRules(deps, tenant.id, { mailingId: m.id }),
    getWaitingPeriod(deps, tenant.id, m.id),
  ]);
  return (
    <section class="card stack" data-testid="automation-panel">
      <h2>{t(l, `${P}.panel_title`)}</h2>
      {rules.length === 0 ? <p class="muted">{t(l, `${P}.panel_none`)}</p> : (
        <>
          <p>{t(l, `${P}.panel_uses`)}</p>
          <ul>
            {rules.map((r) => (
              <li>
                <a href={`${BASE}/rules/${r.id}`}>{r.name}</a>{" "}
                ({t(l, r.active ? `${P}.active` : `${P}.stopped`)})
              </li>
            ))}
          </ul>
          {rules.some((r) => r.active && r.kind === "recurring") && (
            <p class="flash error" role="note">{t(l, `${P}.weekly_warning`)}</p>
          )}
        </>
      )}
      {days !== null && <p>{t(l, `${P}.panel_waiting`, { days })}</p>}
      <p>
        <a href={BASE}>{t(l, `${P}.panel_manage`)}</a>
      </p>
    </section>
  );
}
