// Persons and their addresses: the CRM records every send reads from. Every function takes the
// tenant id first and filters by it; every change runs in one transaction and is audited.
import { jsonb } from "../db/json.ts";
import { type Kysely, sql, type Transaction } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import type { DB, PersonStatus } from "../db/schema.ts";
import { isUuid, uuidv7 } from "../db/ids.ts";
import { AppError, type FieldIssue } from "../errors.ts";
import { audit } from "../tenants/audit.ts";
import { type Page, pageQuery, type PageRequest } from "../http/pagination.ts";
import { normalizeAddress } from "./address.ts";

type Deps = Pick<AppDeps, "db" | "clock">;
type Db = Kysely<DB> | Transaction<DB>;

const LANGUAGES = ["en", "sv", "fi", "da"] as const;
const text = (max: number) => z.string().trim().max(max);
const tag = z.string().trim().min(1).max(60).regex(/^[^,\s][^,]*$/, "No commas");

export const AddressInput = z.object({
  address: z.string().max(320),
  type: z.string().trim().min(1).max(30).nullish(),
});

export const PersonCreate = z.object({
  first_name: text(100).default(""),
  last_name: text(100).default(""),
  organisation: text(200).default(""),
  title: text(200).default(""),
  language: z.enum(LANGUAGES).nullish(),
  custom: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
    .default({}),
  tags: z.array(tag).max(100).default([]),
  /** The first address becomes the primary one. */
  addresses: z.array(AddressInput).max(50).default([]),
});
export type PersonCreate = z.input<typeof PersonCreate>;

export const PersonPatch = PersonCreate.omit({ addresses: true }).partial();
export type PersonPatch = z.input<typeof PersonPatch>;

export const PERSON_COLUMNS = [
  "id",
  "first_name",
  "last_name",
  "organisation",
  "title",
  "language",
  "custom",
  "tags",
  "status",
  "status_changed_at",
  "status_changed_by",
  "created_at",
  "updated_at",
] as const;

export const ADDRESS_COLUMNS = [
  "id",
  "address",
  "is_primary",
  "type",
  "undeliverable_at",
  "undeliverable_reason",
  "cleared_at",
  "cleared_by",
  "created_at",
] as const;

/** Normalises and validates one address, or throws a validation error naming the field. */
export function checkAddress(raw: string, path: string): { address: string; key: string } {
  const r = normalizeAddress(raw);
  if (!r.ok) {
    throw new AppError("address_invalid", { address: raw.trim(), reason: r.reason }, [{
      path,
      code: r.reason,
      message: "",
    }]);
  }
  return { address: r.address, key: r.key };
}

/** Checks custom values against the tenant's field definitions (unknown key or wrong type). */
async function checkCustom(db: Db, tenantId: string, custom: Record<string, unknown>) {
  const keys = Object.keys(custom);
  if (!keys.length) return;
  const defs = await db.selectFrom("custom_fields").select(["key", "type"])
    .where("tenant_id", "=", tenantId).where("key", "in", keys).execute();
  const byKey = new Map(defs.map((d) => [d.key, d.type]));
  const issues: FieldIssue[] = [];
  for (const [key, value] of Object.entries(custom)) {
    const type = byKey.get(key);
    if (!type) {
      issues.push({ path: `custom.${key}`, code: "unknown_field", message: "" });
      continue;
    }
    if (value === null) continue;
    const ok = type === "text"
      ? typeof value === "string"
      : type === "number"
      ? typeof value === "number" && Number.isFinite(value)
      : type === "boolean"
      ? typeof value === "boolean"
      : typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value) &&
        !Number.isNaN(Date.parse(value));
    if (!ok) issues.push({ path: `custom.${key}`, code: `expected_${type}`, message: "" });
  }
  if (issues.length) throw new AppError("validation", {}, issues);
}

function displayName(p: { first_name: string; last_name: string; id: string }): string {
  return `${p.first_name} ${p.last_name}`.trim() || p.id;
}

/**
 * Gives `key` to `personId`. Free → fine. Held by a soft-deleted person → taken over (it leaves
 * the deleted profile, so an undo cannot bring it back). Held by anyone else → address_taken,
 * naming the holder.
 */
async function claimAddress(
  trx: Db,
  tenantId: string,
  personId: string,
  a: { address: string; key: string },
  path: string,
): Promise<"free" | "taken_over" | "own"> {
  const holder = await trx.selectFrom("person_addresses as a")
    .innerJoin(
      "persons as p",
      (j) => j.onRef("p.tenant_id", "=", "a.tenant_id").onRef("p.id", "=", "a.person_id"),
    )
    .select(["a.id", "a.person_id", "a.is_primary", "p.first_name", "p.last_name", "p.status"])
    .where("a.tenant_id", "=", tenantId).where("a.address_key", "=", a.key)
    .executeTakeFirst();
  if (!holder) return "free";
  if (holder.person_id === personId) return "own";
  if (holder.status === "deleted") {
    await trx.deleteFrom("person_addresses").where("tenant_id", "=", tenantId)
      .where("id", "=", holder.id).execute();
    return "taken_over";
  }
  throw new AppError(
    "address_taken",
    {
      address: a.address,
      person: displayName({ ...holder, id: holder.person_id }),
    },
    [{ path, code: "taken", message: "" }, {
      path: "person_id",
      code: "holder",
      message: holder.person_id,
    }],
  );
}

async function insertAddress(
  trx: Db,
  tenantId: string,
  personId: string,
  a: { address: string; key: string; type?: string | null; primary: boolean },
  now: Date,
) {
  // One address per type per person (migration 0013): a new address of a type takes it over.
  if (a.type) {
    await trx.updateTable("person_addresses").set({ type: null })
      .where("tenant_id", "=", tenantId).where("person_id", "=", personId)
      .where("type", "=", a.type).execute();
  }
  return await trx.insertInto("person_addresses").values({
    tenant_id: tenantId,
    id: uuidv7(),
    person_id: personId,
    address: a.address,
    address_key: a.key,
    is_primary: a.primary,
    type: a.type ?? null,
    created_at: now,
  }).returning(ADDRESS_COLUMNS).executeTakeFirstOrThrow();
}

export async function createPerson(
  deps: Deps,
  tenantId: string,
  input: PersonCreate,
  actor: string,
) {
  const v = PersonCreate.parse(input);
  const addresses = v.addresses.map((a, i) => ({
    ...checkAddress(a.address, `addresses.${i}.address`),
    type: a.type,
  }));
  const seen = new Set<string>();
  addresses.forEach((a, i) => {
    if (seen.has(a.key)) {
      throw new AppError("validation", {}, [{
        path: `addresses.${i}.address`,
        code: "duplicate",
        message: "",
      }]);
    }
    seen.add(a.key);
  });
  const now = deps.clock();
  return await deps.db.transaction().execute(async (trx) => {
    await checkCustom(trx, tenantId, v.custom);
    const id = uuidv7();
    await trx.insertInto("persons").values({
      tenant_id: tenantId,
      id,
      first_name: v.first_name,
      last_name: v.last_name,
      organisation: v.organisation,
      title: v.title,
      language: v.language ?? null,
      custom: jsonb(v.custom),
      tags: [...new Set(v.tags)],
      created_at: now,
      updated_at: now,
    }).execute();
    for (const [i, a] of addresses.entries()) {
      await claimAddress(trx, tenantId, id, a, `addresses.${i}.address`);
      await insertAddress(trx, tenantId, id, { ...a, primary: i === 0 }, now);
    }
    await audit(trx, { tenantId, actor, action: "person.create", target: id, at: now });
    return await loadPerson(trx, tenantId, id);
  });
}

async function loadPerson(db: Db, tenantId: string, id: string) {
  if (!isUuid(id)) throw new AppError("not_found");
  const person = await db.selectFrom("persons").select(PERSON_COLUMNS)
    .where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst();
  if (!person) throw new AppError("not_found");
  const addresses = await db.selectFrom("person_addresses").select(ADDRESS_COLUMNS)
    .where("tenant_id", "=", tenantId).where("person_id", "=", id)
    .orderBy("is_primary", "desc").orderBy("id").execute();
  return { ...person, addresses };
}
export type Person = Awaited<ReturnType<typeof loadPerson>>;

export async function getPerson(deps: Pick<AppDeps, "db">, tenantId: string, id: string) {
  return await loadPerson(deps.db, tenantId, id);
}

export const PersonQuery = z.object({
  q: z.string().trim().max(200).optional(),
  status: z.enum(["active", "deleted", "deceased", "purged", "any"]).default("active"),
  tag: tag.optional(),
});
export type PersonQuery = z.output<typeof PersonQuery>;

/**
 * Lists persons, newest id first is not needed: ids are time-ordered, so pages run oldest →
 * newest. `q` matches any part of the name (trigram index) or the start of any address.
 */
export async function listPersons(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  query: PersonQuery,
  page: PageRequest,
): Promise<Page<PersonSummary>> {
  let qb = deps.db.selectFrom("persons as p")
    .leftJoin(
      "person_addresses as a",
      (j) =>
        j.onRef("a.tenant_id", "=", "p.tenant_id").onRef("a.person_id", "=", "p.id")
          .on("a.is_primary", "=", true),
    )
    .select([
      "p.id",
      "p.first_name",
      "p.last_name",
      "p.organisation",
      "p.status",
      "p.tags",
      "a.address as primary_address",
      "a.undeliverable_at",
    ])
    .where("p.tenant_id", "=", tenantId);
  if (query.status !== "any") qb = qb.where("p.status", "=", query.status);
  if (query.tag) qb = qb.where(sql<boolean>`p.tags @> array[${query.tag}]::text[]`);
  if (query.q) {
    const needle = query.q.toLowerCase();
    const like = `%${escapeLike(needle)}%`;
    const prefix = `${escapeLike(needle)}%`;
    // Two index scans (trigram on the name, prefix on every address) joined by UNION: an OR
    // of both in one WHERE makes PostgreSQL scan every person of the tenant.
    qb = qb.where(
      "p.id",
      "in",
      (eb) =>
        eb.selectFrom("persons as n").select("n.id").where("n.tenant_id", "=", tenantId)
          .where(sql`lower(n.first_name || ' ' || n.last_name)`, "like", like)
          .union(
            eb.selectFrom("person_addresses as s").select("s.person_id as id")
              .where("s.tenant_id", "=", tenantId).where("s.address_key", "like", prefix),
          ),
    );
  }
  // pageQuery orders by "id": alias the person id so the cursor applies to it.
  const page_ = await pageQuery(
    deps.db.selectFrom(qb.as("x")).selectAll(),
    page,
  );
  return page_ as Page<PersonSummary>;
}
export interface PersonSummary {
  id: string;
  first_name: string;
  last_name: string;
  organisation: string;
  status: PersonStatus;
  tags: string[];
  primary_address: string | null;
  undeliverable_at: Date | null;
}

export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (m) => `\\${m}`);
}

async function lockPerson(trx: Db, tenantId: string, id: string) {
  if (!isUuid(id)) throw new AppError("not_found");
  const row = await trx.selectFrom("persons").select(["id", "status", "first_name", "last_name"])
    .where("tenant_id", "=", tenantId).where("id", "=", id).forUpdate().executeTakeFirst();
  if (!row) throw new AppError("not_found");
  return row;
}

function requireActive(p: { status: PersonStatus }) {
  if (p.status !== "active") throw new AppError("person_not_active", { status: p.status });
}

export async function updatePerson(
  deps: Deps,
  tenantId: string,
  id: string,
  patch: PersonPatch,
  actor: string,
) {
  const v = PersonPatch.parse(patch);
  const now = deps.clock();
  return await deps.db.transaction().execute(async (trx) => {
    requireActive(await lockPerson(trx, tenantId, id));
    if (v.custom) await checkCustom(trx, tenantId, v.custom);
    const { custom, tags, ...rest } = v;
    await trx.updateTable("persons").set({
      ...rest,
      ...(custom ? { custom: sql`custom || ${jsonb(custom)}` as never } : {}),
      ...(tags ? { tags: [...new Set(tags)] } : {}),
      updated_at: now,
    }).where("tenant_id", "=", tenantId).where("id", "=", id).execute();
    await audit(trx, {
      tenantId,
      actor,
      action: "person.update",
      target: id,
      details: { fields: Object.keys(v) },
      at: now,
    });
    return await loadPerson(trx, tenantId, id);
  });
}

export async function addAddress(
  deps: Deps,
  tenantId: string,
  personId: string,
  input: z.input<typeof AddressInput> & { primary?: boolean },
  actor: string,
) {
  const v = AddressInput.parse(input);
  const a = checkAddress(v.address, "address");
  const now = deps.clock();
  return await deps.db.transaction().execute(async (trx) => {
    requireActive(await lockPerson(trx, tenantId, personId));
    if (await claimAddress(trx, tenantId, personId, a, "address") === "own") {
      throw new AppError("address_taken_self", { address: a.address }, [{
        path: "address",
        code: "duplicate",
        message: "",
      }]);
    }
    const hasPrimary = await trx.selectFrom("person_addresses").select("id")
      .where("tenant_id", "=", tenantId).where("person_id", "=", personId)
      .where("is_primary", "=", true).executeTakeFirst();
    const primary = !hasPrimary || input.primary === true;
    if (primary && hasPrimary) {
      await trx.updateTable("person_addresses").set({ is_primary: false })
        .where("tenant_id", "=", tenantId).where("id", "=", hasPrimary.id).execute();
    }
    await insertAddress(trx, tenantId, personId, { ...a, type: v.type, primary }, now);
    await touch(trx, tenantId, personId, now);
    await audit(trx, {
      tenantId,
      actor,
      action: "person.address.add",
      target: personId,
      details: { address: a.address, primary },
      at: now,
    });
    return await loadPerson(trx, tenantId, personId);
  });
}

async function touch(trx: Db, tenantId: string, personId: string, now: Date) {
  await trx.updateTable("persons").set({ updated_at: now }).where("tenant_id", "=", tenantId)
    .where("id", "=", personId).execute();
}

async function findAddress(trx: Db, tenantId: string, personId: string, addressId: string) {
  if (!isUuid(addressId)) throw new AppError("not_found");
  const row = await trx.selectFrom("person_addresses").select(ADDRESS_COLUMNS)
    .where("tenant_id", "=", tenantId).where("person_id", "=", personId)
    .where("id", "=", addressId).executeTakeFirst();
  if (!row) throw new AppError("not_found");
  return row;
}

type AddressRow = Awaited<ReturnType<typeof findAddress>>;

/**
 * One change to one address, in a transaction with the person locked: `change` returns the
 * audit details, or null when there was nothing to do (then nothing is touched or audited).
 */
async function changeAddress(
  deps: Deps,
  tenantId: string,
  personId: string,
  addressId: string,
  actor: string,
  action: string,
  opts: { activeOnly: boolean },
  change: (trx: Db, a: AddressRow, now: Date) => Promise<Record<string, unknown> | null>,
) {
  const now = deps.clock();
  return await deps.db.transaction().execute(async (trx) => {
    const p = await lockPerson(trx, tenantId, personId);
    if (opts.activeOnly) requireActive(p);
    const a = await findAddress(trx, tenantId, personId, addressId);
    const details = await change(trx, a, now);
    if (details) {
      await touch(trx, tenantId, personId, now);
      await audit(trx, { tenantId, actor, action, target: personId, details, at: now });
    }
    return await loadPerson(trx, tenantId, personId);
  });
}

/** Makes one address the primary (the one used for sending), in one step. */
export async function makePrimary(
  deps: Deps,
  tenantId: string,
  personId: string,
  addressId: string,
  actor: string,
) {
  return await changeAddress(
    deps,
    tenantId,
    personId,
    addressId,
    actor,
    "person.address.primary",
    { activeOnly: true },
    async (trx, a) => {
      if (a.is_primary) return null;
      // Clear first: the partial unique index allows one primary at a time.
      await trx.updateTable("person_addresses").set({ is_primary: false })
        .where("tenant_id", "=", tenantId).where("person_id", "=", personId)
        .where("is_primary", "=", true).execute();
      await trx.updateTable("person_addresses").set({ is_primary: true })
        .where("tenant_id", "=", tenantId).where("id", "=", a.id).execute();
      return { address: a.address };
    },
  );
}

/** Removes an address; removing the primary promotes the oldest remaining one. */
export async function removeAddress(
  deps: Deps,
  tenantId: string,
  personId: string,
  addressId: string,
  actor: string,
) {
  return await changeAddress(
    deps,
    tenantId,
    personId,
    addressId,
    actor,
    "person.address.remove",
    { activeOnly: true },
    async (trx, a) => {
      await trx.deleteFrom("person_addresses").where("tenant_id", "=", tenantId)
        .where("id", "=", a.id).execute();
      if (a.is_primary) {
        const next = await trx.selectFrom("person_addresses").select("id")
          .where("tenant_id", "=", tenantId).where("person_id", "=", personId).orderBy("id")
          .limit(1).executeTakeFirst();
        if (next) {
          await trx.updateTable("person_addresses").set({ is_primary: true })
            .where("tenant_id", "=", tenantId).where("id", "=", next.id).execute();
        }
      }
      return { address: a.address };
    },
  );
}

/** Flags an address undeliverable (bounce handling calls this by address key). */
export async function markUndeliverable(
  deps: Deps,
  tenantId: string,
  address: string,
  reason: string,
): Promise<boolean> {
  const key = checkAddress(address, "address").key;
  const rows = await deps.db.updateTable("person_addresses").set({
    undeliverable_at: deps.clock(),
    undeliverable_reason: reason.slice(0, 500),
    cleared_at: null,
    cleared_by: null,
  }).where("tenant_id", "=", tenantId).where("address_key", "=", key)
    .where("undeliverable_at", "is", null).returning("id").execute();
  return rows.length > 0;
}

/** Longest note an admin can give when clearing an undeliverable flag. */
export const CLEAR_NOTE_MAX = 1000;
const ClearNote = z.string().trim().max(CLEAR_NOTE_MAX);

/** An admin's note on clearing an undeliverable flag: trimmed, at most CLEAR_NOTE_MAX. */
export function parseClearNote(input: string | null | undefined): string {
  const parsed = ClearNote.safeParse(input ?? "");
  if (!parsed.success) {
    throw new AppError("validation", {}, [{ path: "note", code: "note_too_long", message: "" }]);
  }
  return parsed.data.replace(/\r\n?/g, "\n");
}

/**
 * Clears the undeliverable flag: admins only (checked by the caller), noting who and when, and
 * why when the admin says (the note goes to the audit log and the person's timeline).
 */
export async function clearUndeliverable(
  deps: Deps,
  tenantId: string,
  personId: string,
  addressId: string,
  actor: string,
  input: { note?: string | null } = {},
) {
  const note = parseClearNote(input.note);
  return await changeAddress(
    deps,
    tenantId,
    personId,
    addressId,
    actor,
    "person.address.clear_undeliverable",
    { activeOnly: false },
    async (trx, a, now) => {
      if (!a.undeliverable_at) return null;
      await trx.updateTable("person_addresses").set({
        undeliverable_at: null,
        cleared_at: now,
        cleared_by: actor,
      }).where("tenant_id", "=", tenantId).where("id", "=", a.id).execute();
      await addNoteIn(trx, tenantId, personId, {
        kind: "system",
        body: JSON.stringify({
          event: "undeliverable_cleared",
          address: a.address,
          reason: a.undeliverable_reason ?? "",
          ...(note ? { note } : {}),
        }),
        author: actor,
      }, now);
      return { address: a.address, reason: a.undeliverable_reason, ...(note ? { note } : {}) };
    },
  );
}

// ---- Lifecycle -------------------------------------------------------------------------------

export const LIFECYCLE_ACTIONS = ["delete", "restore", "deceased", "purge"] as const;
export type LifecycleAction = (typeof LIFECYCLE_ACTIONS)[number];

/**
 * deleted: soft, addresses kept, undoable. deceased: addresses removed, profile and history kept.
 * purged: addresses and personal data removed, an anonymous stub keeps statistics whole.
 * None of the three ever receives mail (sends only take status 'active').
 */
export async function changeLifecycle(
  deps: Deps,
  tenantId: string,
  personId: string,
  action: LifecycleAction,
  actor: string,
) {
  const now = deps.clock();
  return await deps.db.transaction().execute(async (trx) => {
    const p = await lockPerson(trx, tenantId, personId);
    const allowed: Record<LifecycleAction, PersonStatus[]> = {
      delete: ["active"],
      restore: ["deleted"],
      deceased: ["active", "deleted"],
      purge: ["active", "deleted", "deceased"],
    };
    if (!allowed[action].includes(p.status)) {
      throw new AppError("lifecycle_not_allowed", { action, status: p.status });
    }
    const status: PersonStatus = action === "delete"
      ? "deleted"
      : action === "restore"
      ? "active"
      : action === "deceased"
      ? "deceased"
      : "purged";
    const base = { status, status_changed_at: now, status_changed_by: actor, updated_at: now };
    if (action === "deceased" || action === "purge") {
      await trx.deleteFrom("person_addresses").where("tenant_id", "=", tenantId)
        .where("person_id", "=", personId).execute();
    }
    if (action === "purge") {
      // Personal data goes; mailing notes stay (without text) so statistics still add up.
      await trx.deleteFrom("contact_notes").where("tenant_id", "=", tenantId)
        .where("person_id", "=", personId).where("kind", "!=", "mailing").execute();
      await trx.updateTable("contact_notes").set({ body: "", author: null })
        .where("tenant_id", "=", tenantId).where("person_id", "=", personId).execute();
      await trx.deleteFrom("list_members").where("tenant_id", "=", tenantId)
        .where("person_id", "=", personId).execute();
      await trx.updateTable("persons").set({
        ...base,
        first_name: "",
        last_name: "",
        organisation: "",
        title: "",
        language: null,
        custom: jsonb({}),
        tags: [],
        status_changed_by: actor,
      }).where("tenant_id", "=", tenantId).where("id", "=", personId).execute();
    } else {
      await trx.updateTable("persons").set(base).where("tenant_id", "=", tenantId)
        .where("id", "=", personId).execute();
    }
    await audit(trx, {
      tenantId,
      actor,
      action: `person.${action}`,
      target: personId,
      at: now,
    });
    return await loadPerson(trx, tenantId, personId);
  });
}

// ---- Contact notes ---------------------------------------------------------------------------

export const NoteCreate = z.object({ body: z.string().trim().min(1).max(10_000) });

async function addNoteIn(
  trx: Db,
  tenantId: string,
  personId: string,
  note: { kind: "manual" | "system"; body: string; author: string },
  now: Date,
) {
  return await trx.insertInto("contact_notes").values({
    tenant_id: tenantId,
    id: uuidv7(),
    person_id: personId,
    kind: note.kind,
    body: note.body,
    author: note.author,
    created_at: now,
    updated_at: now,
  }).returning(NOTE_COLUMNS).executeTakeFirstOrThrow();
}

export const NOTE_COLUMNS = [
  "id",
  "kind",
  "body",
  "author",
  "mailing_id",
  "subject",
  "delivered_at",
  "opened_at",
  "clicked_at",
  "bounced_at",
  "unsubscribed_at",
  "sent_at",
  "complained_at",
  "details",
  "created_at",
  "updated_at",
] as const;

export async function addNote(
  deps: Deps,
  tenantId: string,
  personId: string,
  input: z.input<typeof NoteCreate>,
  actor: string,
) {
  const v = NoteCreate.parse(input);
  const now = deps.clock();
  return await deps.db.transaction().execute(async (trx) => {
    const p = await lockPerson(trx, tenantId, personId);
    if (p.status === "purged") throw new AppError("person_not_active", { status: p.status });
    return await addNoteIn(trx, tenantId, personId, {
      kind: "manual",
      body: v.body,
      author: actor,
    }, now);
  });
}

/** The person's timeline, newest first. */
export async function listNotes(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  personId: string,
  limit = 100,
) {
  await loadPerson(deps.db, tenantId, personId);
  return await deps.db.selectFrom("contact_notes").select(NOTE_COLUMNS)
    .where("tenant_id", "=", tenantId).where("person_id", "=", personId)
    .orderBy("id", "desc").limit(limit).execute();
}

// ---- Custom fields ---------------------------------------------------------------------------

export const CustomFieldCreate = z.object({
  key: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, "Lower-case letters, digits and _"),
  label: z.string().trim().min(1).max(100),
  type: z.enum(["text", "number", "date", "boolean"]),
});

export async function createCustomField(
  deps: Deps,
  tenantId: string,
  input: z.input<typeof CustomFieldCreate>,
  actor: string,
) {
  const v = CustomFieldCreate.parse(input);
  const now = deps.clock();
  return await deps.db.transaction().execute(async (trx) => {
    const row = await trx.insertInto("custom_fields").values({
      tenant_id: tenantId,
      ...v,
      created_at: now,
    }).onConflict((oc) => oc.doNothing()).returning(["key", "label", "type", "created_at"])
      .executeTakeFirst();
    if (!row) {
      throw new AppError("conflict", {}, [{ path: "key", code: "taken", message: "" }]);
    }
    await audit(trx, { tenantId, actor, action: "custom_field.create", target: v.key, at: now });
    return row;
  });
}

export async function listCustomFields(deps: Pick<AppDeps, "db">, tenantId: string) {
  return await deps.db.selectFrom("custom_fields").select(["key", "label", "type", "created_at"])
    .where("tenant_id", "=", tenantId).orderBy("key").execute();
}
