// The compose form of a draft mailing: sender, subject, design, recipients and the body, as a
// plain form (the body a textarea) that static/compose.js turns into a rich-text editor.
import type { Context } from "hono";
import type { Locale } from "../../core/i18n/mod.ts";
import { t } from "../../core/i18n/mod.ts";
import type { Audience } from "../../core/send/queue.ts";
import { SYSTEM_FIELDS } from "../../core/mailings/merge_fields.ts";
import { Csrf } from "./layout.tsx";
import { field, fields, type Form } from "./forms.ts";

export interface Choices {
  senders: { id: string; name: string; address: string }[];
  designs: { name: string; version_id: string }[];
  segments: { id: string; name: string }[];
  lists: { id: string; name: string }[];
  customs: { key: string; label: string }[];
  /** Names of the persons already chosen, and of those found by the search. */
  persons: Map<string, string>;
  found: { id: string; name: string; address: string | null }[];
}

/** What the form shows: the mailing's stored values, or what was just submitted. */
export interface Draft {
  id: string;
  version: number;
  from_identity_id: string | null;
  from_address: string;
  reply_to: string | null;
  subject: string;
  preheader: string;
  body_html: string;
  design_template_version_id: string | null;
  recipients: Audience;
}

/** The form's fields as a mailing patch (every field, so cleared boxes clear). */
export function draftFields(form: Form) {
  const unique = (name: string) => [...new Set(fields(form, name).filter(Boolean))];
  const addresses = field(form, "addresses").split(/[\s,;]+/).map((s) => s.trim())
    .filter(Boolean);
  return {
    from_identity_id: field(form, "from_identity_id") || null,
    reply_to: field(form, "reply_to").trim() || null,
    subject: field(form, "subject"),
    preheader: field(form, "preheader"),
    body_html: field(form, "body_html"),
    design_template_version_id: field(form, "design_template_version_id") || null,
    recipients: {
      persons: unique("persons"),
      addresses: [...new Set(addresses)],
      segments: unique("segments"),
      lists: unique("lists"),
      exclude_segments: unique("exclude_segments"),
    },
  };
}

/** The merge fields the editor's menu offers: person fields, custom fields, system links. */
export function mergeMenu(l: Locale, customs: Choices["customs"]) {
  return [
    { value: "{{firstname}}", label: t(l, "mailui.field_firstname") },
    { value: "{{lastname}}", label: t(l, "mailui.field_lastname") },
    { value: "{{email}}", label: t(l, "mailui.field_email") },
    ...customs.map((f) => ({ value: `{{${f.key}}}`, label: f.label || f.key })),
    ...SYSTEM_FIELDS.map((f) => ({ value: `{{${f}}}`, label: t(l, `mailui.field_${f}`) })),
  ];
}

function Boxes(
  props: { name: string; items: { id: string; name: string }[]; checked: string[] },
) {
  return (
    <div class="checks">
      {props.items.map((i) => (
        <label class="check">
          <input
            type="checkbox"
            name={props.name}
            value={i.id}
            checked={props.checked.includes(i.id)}
          />{" "}
          {i.name}
        </label>
      ))}
    </div>
  );
}

export function ComposeForm(
  props: { c: Context; d: Draft; ch: Choices; q: string; error?: string },
) {
  const { c, d, ch } = props;
  const l = c.get("locale");
  const r = d.recipients;
  const designKnown = !d.design_template_version_id ||
    ch.designs.some((x) => x.version_id === d.design_template_version_id);
  const foundNew = ch.found.filter((p) => !r.persons.includes(p.id));
  return (
    <form
      method="post"
      action={`/mailings/${d.id}`}
      id="compose"
      class="card stack compose"
      data-autosave={`/mailings/${d.id}/autosave`}
    >
      <button type="submit" name="act" value="save" class="default-submit" tabindex={-1}>
        {t(l, "mailui.save")}
      </button>
      <Csrf c={c} />
      <input type="hidden" name="version" value={String(d.version)} />
      {props.error && <p class="field-error" role="alert" data-testid="error">{props.error}</p>}
      <p class="autosave-status muted" role="status" aria-live="polite" data-testid="autosave">
      </p>
      <label>
        {t(l, "mailui.from")}
        <select name="from_identity_id">
          <option value="">
            {d.from_identity_id || !d.from_address ? t(l, "mailui.choose_sender") : d.from_address}
          </option>
          {ch.senders.map((s) => (
            <option value={s.id} selected={s.id === d.from_identity_id}>
              {`${s.name} <${s.address}>`}
            </option>
          ))}
        </select>
      </label>
      {ch.senders.length === 0 && (
        <p class="muted">
          {t(l, "mailui.no_senders")} <a href="/settings/senders">{t(l, "nav.senders")}</a>
        </p>
      )}
      <label>
        {t(l, "mailui.reply_to")}
        <input type="email" name="reply_to" value={d.reply_to ?? ""} maxlength={320} />
      </label>
      <label>
        {t(l, "mailui.subject")}
        <input name="subject" value={d.subject} maxlength={998} />
      </label>
      <label>
        {t(l, "mailui.preheader")}
        <input name="preheader" value={d.preheader} maxlength={500} />
        <small class="muted">{t(l, "mailui.preheader_help")}</small>
      </label>
      <label>
        {t(l, "mailui.design")}
        <select name="design_template_version_id">
          <option value="">{t(l, "mailui.design_default")}</option>
          {!designKnown && (
            <option value={d.design_template_version_id!} selected>
              {t(l, "mailui.design_kept")}
            </option>
          )}
          {ch.designs.map((x) => (
            <option value={x.version_id} selected={x.version_id === d.design_template_version_id}>
              {x.name}
            </option>
          ))}
        </select>
      </label>

      <fieldset id="recipients" class="stack">
        <legend>{t(l, "mailui.recipients")}</legend>
        <div>
          <strong>{t(l, "mailui.persons")}</strong>
          <Boxes
            name="persons"
            items={[
              ...r.persons.map((id) => ({ id, name: ch.persons.get(id) ?? id })),
              ...foundNew.map((p) => ({
                id: p.id,
                name: p.address ? `${p.name} <${p.address}>` : p.name,
              })),
            ]}
            checked={r.persons}
          />
          <div class="row">
            <input
              type="search"
              name="q"
              value={props.q}
              placeholder={t(l, "people.search_hint")}
              aria-label={t(l, "mailui.find_person")}
            />
            <button type="submit" name="act" value="search" class="secondary">
              {t(l, "mailui.find_person")}
            </button>
          </div>
          {props.q && (
            <p class="muted" data-testid="found">
              {foundNew.length ? t(l, "mailui.found_help") : t(l, "mailui.found_none")}
            </p>
          )}
        </div>
        <label>
          {t(l, "mailui.addresses")}
          <textarea name="addresses" rows={2}>{r.addresses.join("\n")}</textarea>
          <small class="muted">{t(l, "mailui.addresses_help")}</small>
        </label>
        {ch.segments.length > 0 && (
          <div>
            <strong>{t(l, "mailui.segments")}</strong>
            <Boxes name="segments" items={ch.segments} checked={r.segments} />
          </div>
        )}
        {ch.lists.length > 0 && (
          <div>
            <strong>{t(l, "mailui.lists")}</strong>
            <Boxes name="lists" items={ch.lists} checked={r.lists} />
          </div>
        )}
        {ch.segments.length > 0 && (
          <div>
            <strong>{t(l, "mailui.exclude")}</strong>
            <Boxes name="exclude_segments" items={ch.segments} checked={r.exclude_segments} />
          </div>
        )}
      </fieldset>

      <div class="editor-field">
        <label for="body_html">{t(l, "mailui.body")}</label>
        <div class="editor-tools row" hidden>
          <select class="merge-menu" aria-label={t(l, "mailui.insert_field")}>
            <option value="">{t(l, "mailui.insert_field")}</option>
            {mergeMenu(l, ch.customs).map((f) => <option value={f.value}>{f.label}</option>)}
          </select>
          <button type="button" class="secondary html-toggle" aria-pressed="false">
            {t(l, "mailui.html_mode")}
          </button>
        </div>
        <div class="editor" hidden></div>
        <textarea id="body_html" name="body_html" rows={16} class="code">{d.body_html}</textarea>
        <small class="muted">{t(l, "mailui.body_help")}</small>
      </div>
      <div class="row">
        <button type="submit" name="act" value="save">{t(l, "mailui.save")}</button>
        <a class="button secondary" href={`/mailings/${d.id}/review`}>{t(l, "mailui.review")}</a>
      </div>
    </form>
  );
}
