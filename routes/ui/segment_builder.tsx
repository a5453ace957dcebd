// The segment builder: the tree model a plain form encodes (c[<path>][<prop>], paths like r.1.0),
// its conversion to and from the core's definition, errors placed by node, and the components
// that draw nested AND/OR groups. static/segment_builder.js makes it count live.
import type { Context } from "hono";
import { z } from "zod";
import type { Locale } from "../../core/i18n/mod.ts";
import { t } from "../../core/i18n/mod.ts";
import { toErrorResponse } from "../../core/http/errors.ts";
import { AppError, type FieldIssue } from "../../core/errors.ts";
import type { listCustomFields } from "../../core/people/persons.ts";
import type { listLists } from "../../core/people/lists.ts";
import {
  type Condition,
  type Group,
  isGroup,
  type Match,
  MATCHES,
  MAX_DEPTH,
  PERSON_FIELDS,
  VALUELESS_MATCHES,
} from "../../core/people/segment_definition.ts";
import type { Form } from "./forms.ts";

export interface Locals {
  lists: Awaited<ReturnType<typeof listLists>>["items"];
  customs: Awaited<ReturnType<typeof listCustomFields>>;
}

// ---- The builder's model: a tree the form encodes as c[<path>][<prop>], paths like r.1.0 ------

const KINDS = ["field", "custom", "tag", "list", "created", "updated", "has_address"] as const;
type Kind = (typeof KINDS)[number];

export interface Cond {
  kind: Kind;
  field: string;
  custom: string;
  match: string;
  value: string;
  tag: string;
  has: boolean;
  list: string;
  member: boolean;
  from: string;
  to: string;
  address: boolean;
  type: string;
}
export interface GroupNode {
  kind: "group";
  op: "and" | "or";
  children: Node[];
}
export type Node = Cond | GroupNode;

export const ROOT = "r";
export const blankCond = (): Cond => ({
  kind: "field",
  field: "name",
  custom: "",
  match: "contains",
  value: "",
  tag: "",
  has: true,
  list: "",
  member: true,
  from: "",
  to: "",
  address: true,
  type: "",
});
export const blankGroup = (): GroupNode => ({ kind: "group", op: "and", children: [blankCond()] });

// Deeper paths than the core accepts cannot come from the builder; they are ignored.
const NAME = new RegExp(`^c\\[(r(?:\\.\\d{1,3}){0,${MAX_DEPTH}})\\]\\[(\\w{1,10})\\]$`);

export function parseTree(form: Form): GroupNode {
  const nodes = new Map<string, Record<string, string>>();
  const kids = new Map<string, number[]>();
  for (const [key, v] of Object.entries(form)) {
    const m = NAME.exec(key);
    if (!m) continue;
    const path = m[1]!;
    let props = nodes.get(path);
    if (!props) {
      // No prototype: a prop named __proto__ is then just a key.
      nodes.set(path, props = Object.create(null) as Record<string, string>);
      const cut = path.lastIndexOf(".");
      if (cut > 0) {
        const parent = path.slice(0, cut);
        kids.set(parent, [...kids.get(parent) ?? [], Number(path.slice(cut + 1))]);
      }
    }
    props[m[2]!] = typeof v === "string" ? v : v[0] ?? "";
  }
  const build = (path: string): Node => {
    const p = nodes.get(path) ?? {};
    if (path !== ROOT && p.kind !== "group") return condOf(p);
    const order = (kids.get(path) ?? []).sort((a, b) => a - b);
    return {
      kind: "group",
      op: p.op === "or" ? "or" : "and",
      children: order.map((i) => build(`${path}.${i}`)),
    };
  };
  return build(ROOT) as GroupNode;
}

function condOf(p: Record<string, string>): Cond {
  const b = blankCond();
  const text = (k: keyof Cond) => p[k] ?? b[k] as string;
  return {
    kind: (KINDS as readonly string[]).includes(p.kind ?? "") ? p.kind as Kind : "field",
    field: text("field"),
    custom: text("custom"),
    match: text("match"),
    value: text("value"),
    tag: text("tag"),
    has: p.has !== "no",
    list: text("list"),
    member: p.member !== "no",
    from: text("from"),
    to: text("to"),
    address: p.address !== "no",
    type: text("type"),
  };
}

/** The tree as the core's definition; nothing is dropped, so issue paths name the same rows. */
export function toDefinition(n: Node): Record<string, unknown> {
  if (n.kind === "group") return { op: n.op, conditions: n.children.map(toDefinition) };
  const text = (field: string) =>
    VALUELESS_MATCHES.has(n.match as Match)
      ? { field, match: n.match }
      : { field, match: n.match, value: n.value };
  const range = { ...(n.from ? { from: n.from } : {}), ...(n.to ? { to: n.to } : {}) };
  switch (n.kind) {
    case "field":
      return text(n.field);
    case "custom":
      return text(`custom.${n.custom}`);
    case "tag":
      return { tag: n.tag, has: n.has };
    case "list":
      return { list: n.list, member: n.member };
    case "created":
      return { created: range };
    case "updated":
      return { updated: range };
    case "has_address":
      return n.type.trim() ? { has_address: n.address, type: n.type } : { has_address: n.address };
  }
}

export function fromDefinition(g: Group): GroupNode {
  return {
    kind: "group",
    op: g.op,
    children: g.conditions.map((c) => isGroup(c) ? fromDefinition(c) : condFrom(c)),
  };
}

function condFrom(c: Condition): Cond {
  const b = blankCond();
  if ("field" in c) {
    const custom = c.field.startsWith("custom.");
    return {
      ...b,
      kind: custom ? "custom" : "field",
      field: custom ? b.field : c.field,
      custom: custom ? c.field.slice(7) : "",
      match: c.match,
      value: c.value ?? "",
    };
  }
  if ("tag" in c) return { ...b, kind: "tag", tag: c.tag, has: c.has };
  if ("list" in c) return { ...b, kind: "list", list: c.list, member: c.member };
  if ("created" in c) {
    return { ...b, kind: "created", from: c.created.from ?? "", to: c.created.to ?? "" };
  }
  if ("updated" in c) {
    return { ...b, kind: "updated", from: c.updated.from ?? "", to: c.updated.to ?? "" };
  }
  if ("has_address" in c) {
    return { ...b, kind: "has_address", address: c.has_address, type: c.type ?? "" };
  }
  return b; // mailing conditions: the core refuses to save them until mailings exist
}

/** "add:<group>", "group:<group>" or "remove:<node>", from a builder button without JavaScript. */
export function applyAct(root: GroupNode, act: string): void {
  const [verb, path = ""] = act.split(":");
  const at = (p: string): Node | undefined =>
    p.split(".").slice(1).reduce<Node | undefined>(
      (n, i) => n?.kind === "group" ? n.children[Number(i)] : undefined,
      root,
    );
  if (verb === "remove" && path !== ROOT) {
    const parent = at(path.slice(0, path.lastIndexOf(".")));
    if (parent?.kind === "group") parent.children.splice(Number(path.split(".").pop()), 1);
    return;
  }
  const g = at(path);
  if (g?.kind !== "group") return;
  if (verb === "add") g.children.push(blankCond());
  if (verb === "group" && path.split(".").length < MAX_DEPTH) g.children.push(blankGroup());
}

// ---- Errors next to the row they concern -----------------------------------------------------

export interface Issue extends FieldIssue {
  /** The builder node: "r.1.0", or "name" for the segment's name. */
  node: string;
  /** The message with the part of the row it concerns: "Value: This match needs a value". */
  text: string;
}

const PART_LABELS: Record<string, string> = {
  field: "segments.field",
  custom: "segments.kind.custom",
  match: "segments.match",
  value: "segments.value",
  tag: "segments.kind.tag",
  list: "segments.kind.list",
  from: "segments.from",
  to: "segments.to",
  type: "segments.address_type",
};

/** Validation and conflict errors as issues by node; anything else is thrown on. */
export function issuesOf(
  c: Context,
  err: unknown,
): { message: string; status: number; issues: Issue[] } {
  if (!(err instanceof AppError || err instanceof z.ZodError)) throw err;
  if (err instanceof AppError && err.code === "not_found") throw err;
  const l = c.get("locale");
  const { status, body } = toErrorResponse(c, err);
  const details = Array.isArray(body.error.details) ? body.error.details as FieldIssue[] : [];
  const issues = details.map((d) => {
    const rest = d.path.replace(/^definition(\.|$)/, "");
    const steps = /^((?:conditions\.\d+(?:\.|$))*)(.*)$/.exec(rest)!;
    const node = d.path === "name"
      ? "name"
      : [ROOT, ...[...steps[1]!.matchAll(/conditions\.(\d+)/g)].map((m) => m[1])].join(".");
    const label = PART_LABELS[steps[2]!.split(".").pop()!];
    return { ...d, node, text: label ? `${t(l, label)}: ${d.message}` : d.message };
  });
  return { message: body.error.message, status, issues };
}

// ---- Builder components -----------------------------------------------------------------------

export interface Ctx extends Locals {
  l: Locale;
  issues: Issue[];
}

const nameOf = (path: string, prop: string) => `c[${path}][${prop}]`;

export function Errors({ ctx, node }: { ctx: Ctx; node: string }) {
  return (
    <div class="errors" data-errors-for={node}>
      {ctx.issues.filter((i) => i.node === node).map((i) => <p class="field-error">{i.text}</p>)}
    </div>
  );
}

export function GroupView({ ctx, g, path }: { ctx: Ctx; g: GroupNode; path: string }) {
  const l = ctx.l;
  const level = path.split(".").length;
  return (
    <fieldset class="group" data-node="group" data-path={path}>
      <input type="hidden" name={nameOf(path, "kind")} data-prop="kind" value="group" />
      <legend>
        <select name={nameOf(path, "op")} data-prop="op" aria-label={t(l, "segments.combine")}>
          <option value="and" selected={g.op === "and"}>{t(l, "segments.all")}</option>
          <option value="or" selected={g.op === "or"}>{t(l, "segments.any")}</option>
        </select>
      </legend>
      <Errors ctx={ctx} node={path} />
      <div class="children">
        {g.children.map((n, i) =>
          n.kind === "group"
            ? <GroupView ctx={ctx} g={n} path={`${path}.${i}`} />
            : <CondView ctx={ctx} n={n} path={`${path}.${i}`} />
        )}
      </div>
      <div class="row">
        <ActButton act="add" path={path} label={t(l, "segments.add_condition")} />
        <ActButton
          act="group"
          path={path}
          label={t(l, "segments.add_group")}
          hidden={level >= MAX_DEPTH}
        />
        {path !== ROOT && (
          <ActButton act="remove" path={path} label={t(l, "segments.remove_group")} danger />
        )}
      </div>
    </fieldset>
  );
}

function ActButton(
  props: { act: string; path: string; label: string; hidden?: boolean; danger?: boolean },
) {
  return (
    <button
      type="submit"
      name="act"
      value={`${props.act}:${props.path}`}
      data-act={props.act}
      formnovalidate
      hidden={props.hidden}
      class={props.danger ? "link danger" : "secondary"}
    >
      {props.label}
    </button>
  );
}

export function CondView({ ctx, n, path }: { ctx: Ctx; n: Cond; path: string }) {
  const l = ctx.l;
  const name = (prop: string) => ({ name: nameOf(path, prop), "data-prop": prop });
  const yesNo = (prop: string, on: boolean, yes: string, no: string) => (
    <select {...name(prop)} aria-label={t(l, "segments.negate")}>
      <option value="yes" selected={on}>{t(l, yes)}</option>
      <option value="no" selected={!on}>{t(l, no)}</option>
    </select>
  );
  const date = (prop: "from" | "to") => (
    <input
      {...name(prop)}
      // A date-time saved through the API would be lost by a date input: shown as text.
      type={n[prop] === "" || /^\d{4}-\d{2}-\d{2}$/.test(n[prop]) ? "date" : "text"}
      value={n[prop]}
      aria-label={t(l, `segments.${prop}`)}
      title={t(l, `segments.${prop}`)}
    />
  );
  // A value not among the choices (a list past the first 200) stays selected, shown by its id.
  const customs = ctx.customs.some((f) => f.key === n.custom) || !n.custom
    ? ctx.customs
    : [...ctx.customs, { key: n.custom, label: n.custom }];
  const lists = ctx.lists.some((x) => x.id === n.list) || !n.list
    ? ctx.lists
    : [...ctx.lists, { id: n.list, name: n.list }];
  return (
    <div class="cond" data-node="cond" data-path={path}>
      <select {...name("kind")} class="kind" aria-label={t(l, "segments.kind")}>
        {KINDS.map((k) => (
          <option value={k} selected={n.kind === k}>{t(l, `segments.kind.${k}`)}</option>
        ))}
      </select>
      <span data-for="field">
        <select {...name("field")} aria-label={t(l, "segments.field")}>
          {PERSON_FIELDS.map((f) => (
            <option value={f} selected={n.field === f}>{t(l, `segments.field.${f}`)}</option>
          ))}
        </select>
      </span>
      <span data-for="custom">
        <select {...name("custom")} aria-label={t(l, "segments.kind.custom")}>
          {customs.length === 0 && <option value="">{t(l, "segments.no_custom_fields")}</option>}
          {customs.map((f) => <option value={f.key} selected={n.custom === f.key}>{f.label}
          </option>)}
        </select>
      </span>
      <span data-for="field custom">
        <select {...name("match")} aria-label={t(l, "segments.match")}>
          {MATCHES.map((m) => (
            <option value={m} selected={n.match === m}>{t(l, `segments.match.${m}`)}</option>
          ))}
        </select>
      </span>
      <span data-for="field custom">
        <input {...name("value")} value={n.value} aria-label={t(l, "segments.value")} />
      </span>
      <span data-for="tag">
        {yesNo("has", n.has, "segments.tag_has", "segments.tag_has_not")}
        <input {...name("tag")} value={n.tag} aria-label={t(l, "segments.kind.tag")} />
      </span>
      <span data-for="list">
        {yesNo("member", n.member, "segments.list_member", "segments.list_not_member")}
        <select {...name("list")} aria-label={t(l, "segments.kind.list")}>
          {lists.length === 0 && <option value="">{t(l, "segments.no_lists")}</option>}
          {lists.map((x) => <option value={x.id} selected={n.list === x.id}>{x.name}</option>)}
        </select>
      </span>
      <span data-for="created updated">
        {date("from")} – {date("to")}
      </span>
      <span data-for="has_address">
        {yesNo("address", n.address, "segments.address_has", "segments.address_has_not")}
        <input
          {...name("type")}
          value={n.type}
          placeholder={t(l, "segments.address_type")}
          aria-label={t(l, "segments.address_type")}
        />
      </span>
      <ActButton act="remove" path={path} label={t(l, "people.remove")} danger />
      <Errors ctx={ctx} node={path} />
    </div>
  );
}
