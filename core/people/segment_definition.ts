// The condition tree a segment is made of: what the API accepts and segments.definition stores.
import { z } from "zod";

/** Groups nest at most this deep (the root group is level 1). */
export const MAX_DEPTH = 4;
/** Conditions in a whole tree, groups not counted. */
export const MAX_CONDITIONS = 100;

export const MATCHES = [
  "equals",
  "not_equals",
  "contains",
  "not_contains",
  "starts_with",
  "is_empty",
  "is_not_empty",
] as const;
export type Match = (typeof MATCHES)[number];
export const VALUELESS_MATCHES: ReadonlySet<Match> = new Set(["is_empty", "is_not_empty"]);

/** Person columns a field condition may name; "name" is first and last name together. */
export const PERSON_FIELDS = [
  "name",
  "first_name",
  "last_name",
  "organisation",
  "title",
  "language",
] as const;
export type PersonField = (typeof PERSON_FIELDS)[number];

const FIELD = new RegExp(`^(?:${PERSON_FIELDS.join("|")}|custom\\.[a-z][a-z0-9_]{0,39})$`);

export const FieldCondition = z.strictObject({
  field: z.string().regex(FIELD, `Expected ${PERSON_FIELDS.join(", ")} or custom.<key>`),
  match: z.enum(MATCHES),
  value: z.string().max(500).optional(),
}).superRefine((c, ctx) => {
  if (!VALUELESS_MATCHES.has(c.match) && !c.value) {
    ctx.addIssue({ code: "custom", path: ["value"], message: "This match needs a value" });
  }
});

export const TagCondition = z.strictObject({
  tag: z.string().trim().min(1).max(60),
  has: z.boolean(),
});

export const ListCondition = z.strictObject({ list: z.uuid(), member: z.boolean() });

const isoDate = z.iso.date();
const isoDateTime = z.iso.datetime({ offset: true });
const IsoDate = z.string().refine(
  (s) => isoDate.safeParse(s).success || isoDateTime.safeParse(s).success,
  "Expected a date (YYYY-MM-DD) or a date-time with offset",
);

/** A day (YYYY-MM-DD, in the tenant's time zone, both ends included) or an exact instant. */
export const DateRange = z.strictObject({ from: IsoDate.optional(), to: IsoDate.optional() })
  .superRefine((r, ctx) => {
    if (r.from === undefined && r.to === undefined) {
      ctx.addIssue({ code: "custom", path: [], message: "Give from, to or both" });
    } else if (r.from && r.to && Date.parse(r.from) > Date.parse(r.to)) {
      ctx.addIssue({ code: "custom", path: ["to"], message: "Must not be before from" });
    }
  });

export const CreatedCondition = z.strictObject({ created: DateRange });
export const UpdatedCondition = z.strictObject({ updated: DateRange });

/** `type` matches person_addresses.type (typed-address add-on); without it any address counts. */
export const AddressCondition = z.strictObject({
  has_address: z.boolean(),
  type: z.string().trim().min(1).max(30).optional(),
});

/** Reserved for feedback conditions: parses, then compiling refuses it until mailings exist. */
export const MailingCondition = z.strictObject({
  mailing: z.uuid(),
  event: z.enum(["received", "opened", "clicked"]),
});

export type FieldCondition = z.output<typeof FieldCondition>;
export type TagCondition = z.output<typeof TagCondition>;
export type ListCondition = z.output<typeof ListCondition>;
export type DateRange = z.output<typeof DateRange>;
export type CreatedCondition = z.output<typeof CreatedCondition>;
export type UpdatedCondition = z.output<typeof UpdatedCondition>;
export type AddressCondition = z.output<typeof AddressCondition>;
export type MailingCondition = z.output<typeof MailingCondition>;
export type Condition =
  | FieldCondition
  | TagCondition
  | ListCondition
  | CreatedCondition
  | UpdatedCondition
  | AddressCondition
  | MailingCondition;

/** AND of no conditions matches everyone, OR of none matches no one. */
export interface Group {
  op: "and" | "or";
  conditions: (Condition | Group)[];
}
export type SegmentDefinition = Group;

/** The key that tells each condition shape apart, with its schema; used for docs too. */
export const CONDITION_SCHEMAS = {
  field: FieldCondition,
  tag: TagCondition,
  list: ListCondition,
  created: CreatedCondition,
  updated: UpdatedCondition,
  has_address: AddressCondition,
  mailing: MailingCondition,
} as const;
const KINDS = Object.keys(CONDITION_SCHEMAS) as (keyof typeof CONDITION_SCHEMAS)[];

export function isGroup(node: Condition | Group): node is Group {
  return "op" in node;
}

// A plain z.union would answer "invalid input" for the whole node; choosing the shape by its key
// first lets every issue name its exact path (conditions.1.match).
function nodeSchema(depth: number): z.ZodType<Condition | Group> {
  const group = depth < MAX_DEPTH ? groupSchema(depth + 1) : null;
  return z.unknown().transform((v, ctx) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      ctx.addIssue({ code: "custom", message: "Expected a condition or a group" });
      return z.NEVER;
    }
    let schema: z.ZodType<Condition | Group> | undefined;
    if ("op" in v) {
      if (!group) {
        ctx.addIssue({
          code: "custom",
          path: ["op"],
          message: `Groups nest at most ${MAX_DEPTH} levels deep`,
        });
        return z.NEVER;
      }
      schema = group;
    } else {
      const kind = KINDS.find((k) => k in v);
      schema = kind && CONDITION_SCHEMAS[kind];
    }
    if (!schema) {
      ctx.addIssue({
        code: "custom",
        message: `Expected a group (op) or a condition (${KINDS.join(", ")})`,
      });
      return z.NEVER;
    }
    const r = schema.safeParse(v);
    if (r.success) return r.data;
    for (const issue of r.error.issues) ctx.addIssue({ ...issue } as z.core.$ZodRawIssue);
    return z.NEVER;
  });
}

function groupSchema(depth: number): z.ZodType<Group> {
  return z.strictObject({
    op: z.enum(["and", "or"]),
    conditions: z.array(nodeSchema(depth)).max(MAX_CONDITIONS),
  });
}

export function countConditions(g: Group): number {
  return g.conditions.reduce((n, c) => n + (isGroup(c) ? countConditions(c) : 1), 0);
}

// Runs even when parts of the tree failed to parse, so it must not trust the shape.
function countLoose(g: unknown): number {
  const list = (g as { conditions?: unknown })?.conditions;
  if (!Array.isArray(list)) return 0;
  return list.reduce<number>(
    (n, c) => n + (c !== null && typeof c === "object" && "op" in c ? countLoose(c) : 1),
    0,
  );
}

export const SegmentDefinition: z.ZodType<Group> = groupSchema(1).superRefine((g, ctx) => {
  if (countLoose(g) > MAX_CONDITIONS) {
    ctx.addIssue({
      code: "custom",
      path: ["conditions"],
      message: `At most ${MAX_CONDITIONS} conditions in a segment`,
    });
  }
});
