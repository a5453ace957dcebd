// CSV import of persons: upload (streamed into the database), column mapping (remembered per
// tenant), a dry run that reports what would happen, and an all-or-nothing real run.
//
// Rows are processed in batches: each batch looks up every address it mentions in one query,
// so matching uses all of a person's addresses without loading the tenant's persons.
import { findList, insertActiveMembers } from "./lists.ts";
import { sql } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import type { ImportMode } from "../db/schema.ts";
import { isUuid, uuidv7 } from "../db/ids.ts";
import { jsonb } from "../db/json.ts";
import { AppError } from "../errors.ts";
import { audit } from "../tenants/audit.ts";
import { CsvError, type CsvRecord, readCsv, sniffCsv } from "./csv.ts";
import { normalizeAddress } from "./address.ts";
import { setAddressType } from "./address_types.ts";
import { emitListMembersAdded } from "./list_events.ts";

type Deps = Pick<AppDeps, "db" | "clock" | "database" | "log">;

const CHUNK_BYTES = 1 << 20;
const BATCH_ROWS = 1000;
/** Lists in the report keep this many entries; counts are always complete. */
const REPORT_LIST_LIMIT = 1000;
export const MAX_IMPORT_BYTES = 200 * CHUNK_BYTES;

/** Where a column goes. "email" may be mapped from several columns: the first is the main one. */
export const IMPORT_TARGETS = [
  "ignore",
  "email",
  "first_name",
  "last_name",
  "organisation",
  "title",
  "language",
  "tags",
] as const;
const Target = z.union([
  z.enum(IMPORT_TARGETS),
  z.string().regex(/^custom\.[a-z][a-z0-9_]{0,39}$/, "a known target or custom.<key>"),
  // An address of a type the tenant's plugins give (Plugin.addressTypes), e.g. "email.work".
  z.string().regex(/^email\.[a-z][a-z0-9_]{0,29}$/, "a known target or email.<type>"),
]);

const isEmailTarget = (c: string) => c === "email" || c.startsWith("email.");

export const ImportMapping = z.object({
  /** One target per column, in the file's column order. */
  columns: z.array(Target).min(1).max(200),
  mode: z.enum(["overwrite_primary", "add_additional"]).default("add_additional"),
}).refine((m) => m.columns.some(isEmailTarget), {
  message: "Map at least one column to email",
  path: ["columns"],
});
export type ImportMapping = z.output<typeof ImportMapping>;

export interface ImportReport {
  rows: number;
  new_persons: number;
  updated_persons: number;
  matched_on_secondary: number;
  conflicts: number;
  invalid: number;
  conflict_rows: { line: number; address: string; persons: string[] }[];
  invalid_rows: { line: number; column: string; reason: string }[];
}

function emptyReport(): ImportReport {
  return {
    rows: 0,
    new_persons: 0,
    updated_persons: 0,
    matched_on_secondary: 0,
    conflicts: 0,
    invalid: 0,
    conflict_rows: [],
    invalid_rows: [],
  };
}

// ---- Upload ------------------------------------------------------------------------------------

/** Streams an upload into the database in 1 MiB chunks; memory does not grow with the file. */
export async function createImport(
  deps: Deps,
  tenantId: string,
  input: { filename: string; body: ReadableStream<Uint8Array> },
  actor: string,
) {
  const id = uuidv7();
  const now = deps.clock();
  const filename = input.filename.replace(/[\r\n\\/]/g, "_").slice(0, 200) || "import.csv";
  await deps.db.insertInto("imports").values({
    tenant_id: tenantId,
    id,
    filename,
    created_by: actor,
    created_at: now,
    updated_at: now,
  }).execute();
  let seq = 0;
  let size = 0;
  let first: Uint8Array | null = null;
  try {
    for await (const chunk of rechunk(input.body, CHUNK_BYTES)) {
      size += chunk.length;
      if (size > MAX_IMPORT_BYTES) {
        throw new AppError("validation", {}, [{
          path: "file",
          code: "too_large",
          message: `At most ${MAX_IMPORT_BYTES / CHUNK_BYTES} MiB`,
        }]);
      }
      first ??= chunk;
      await deps.db.insertInto("import_chunks").values({
        tenant_id: tenantId,
        import_id: id,
        seq: seq++,
        data: chunk,
      }).execute();
    }
    if (!first) {
      throw new AppError("validation", {}, [{ path: "file", code: "empty", message: "" }]);
    }
    const sniffed = sniffCsv(first);
    // An all-ASCII start says nothing about the encoding: let the reader decide at the first
    // non-ASCII byte, however far into the file (a Windows-1252 "Ö" on row 90,000).
    const asciiStart = first.every((b) => b < 0x80);
    // The header row: read just the first record.
    let headers: string[] = [];
    for await (
      const rec of readCsv(chunksOf(deps, tenantId, id), {
        delimiter: sniffed.delimiter,
        encoding: asciiStart ? undefined : sniffed.encoding,
      })
    ) {
      headers = rec.fields.map((h) => h.trim());
      break;
    }
    await deps.db.updateTable("imports").set({
      size_bytes: size,
      encoding: asciiStart ? null : sniffed.encoding,
      delimiter: sniffed.delimiter,
      headers,
      updated_at: deps.clock(),
    }).where("tenant_id", "=", tenantId).where("id", "=", id).execute();
  } catch (e) {
    await deps.db.deleteFrom("imports").where("tenant_id", "=", tenantId).where("id", "=", id)
      .execute();
    throw e;
  }
  return await getImport(deps, tenantId, id);
}

async function* rechunk(body: ReadableStream<Uint8Array>, size: number) {
  let buf = new Uint8Array(size);
  let used = 0;
  for await (const part of body) {
    let off = 0;
    while (off < part.length) {
      const n = Math.min(size - used, part.length - off);
      buf.set(part.subarray(off, off + n), used);
      used += n;
      off += n;
      if (used === size) {
        yield buf;
        buf = new Uint8Array(size);
        used = 0;
      }
    }
  }
  if (used) yield buf.slice(0, used);
}

/** Reads the stored file back one chunk at a time. */
async function* chunksOf(deps: Pick<AppDeps, "db">, tenantId: string, importId: string) {
  for (let seq = 0;; seq++) {
    const row = await deps.db.selectFrom("import_chunks").select("data")
      .where("tenant_id", "=", tenantId).where("import_id", "=", importId).where("seq", "=", seq)
      .executeTakeFirst();
    if (!row) return;
    yield row.data;
  }
}

const IMPORT_COLUMNS = [
  "id",
  "filename",
  "size_bytes",
  "status",
  "mode",
  "mapping",
  "encoding",
  "delimiter",
  "headers",
  "rows_total",
  "rows_done",
  "report",
  "error",
  "created_by",
  "created_at",
  "updated_at",
] as const;

/** Progress of runs in this process (a running transaction's writes are not visible outside). */
const progress = new Map<string, number>();

export async function getImport(deps: Pick<AppDeps, "db">, tenantId: string, id: string) {
  if (!isUuid(id)) throw new AppError("not_found");
  const row = await deps.db.selectFrom("imports").select(IMPORT_COLUMNS)
    .where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst();
  if (!row) throw new AppError("not_found");
  const live = progress.get(id);
  return {
    ...row,
    rows_done: live ?? row.rows_done,
    mapping: row.mapping as ImportMapping | null,
    report: row.report as ImportReport | null,
  };
}
export type ImportRow = Awaited<ReturnType<typeof getImport>>;

/** The mapping to suggest: the tenant's remembered one by header name, else guessed. */
export async function suggestMapping(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  headers: string[],
): Promise<ImportMapping> {
  const saved = await deps.db.selectFrom("import_mappings").select("mapping")
    .where("tenant_id", "=", tenantId).executeTakeFirst();
  const remembered = (saved?.mapping ?? {}) as {
    byHeader?: Record<string, string>;
    mode?: ImportMode;
  };
  const columns = headers.map((h) => remembered.byHeader?.[h.toLowerCase()] ?? guess(h));
  return {
    columns: columns as ImportMapping["columns"],
    mode: remembered.mode ?? "add_additional",
  };
}

function guess(header: string): string {
  const h = header.toLowerCase().replace(/[^a-zåäöæø0-9]+/g, "");
  const table: Record<string, string> = {
    email: "email",
    epost: "email",
    mail: "email",
    emailaddress: "email",
    sähköposti: "email",
    firstname: "first_name",
    förnamn: "first_name",
    etunimi: "first_name",
    fornavn: "first_name",
    givenname: "first_name",
    lastname: "last_name",
    efternamn: "last_name",
    sukunimi: "last_name",
    efternavn: "last_name",
    surname: "last_name",
    organisation: "organisation",
    organization: "organisation",
    organisaatio: "organisation",
    company: "organisation",
    title: "title",
    titel: "title",
    language: "language",
    språk: "language",
    kieli: "language",
    tags: "tags",
  };
  return table[h] ?? (/^(e?mail|epost)\d+$/.test(h) ? "email" : "ignore");
}

export async function setMapping(
  deps: Deps & Partial<Pick<AppDeps, "registry">>,
  tenantId: string,
  id: string,
  input: z.input<typeof ImportMapping>,
) {
  const imp = await getImport(deps, tenantId, id);
  const v = ImportMapping.parse(input);
  if (imp.status === "running" || imp.status === "done") {
    throw new AppError("conflict", {}, [{ path: "status", code: imp.status, message: "" }]);
  }
  const headers = imp.headers ?? [];
  if (v.columns.length !== headers.length) {
    throw new AppError("validation", {}, [{
      path: "columns",
      code: "count",
      message: `${headers.length} columns in the file`,
    }]);
  }
  const typed = v.columns.filter((c) => c.startsWith("email."));
  if (typed.length) {
    const known = new Set(
      deps.registry
        ? deps.registry.addressTypes(await deps.registry.enabledForTenant(deps.db, tenantId))
          .map((x) => x.type)
        : [],
    );
    const issues = v.columns.flatMap((c, i) =>
      c.startsWith("email.") && !known.has(c.slice(6))
        ? [{ path: `columns.${i}`, code: "unknown_address_type", message: "" }]
        : []
    );
    if (issues.length) throw new AppError("validation", {}, issues);
  }
  const customKeys = v.columns.filter((c) => c.startsWith("custom.")).map((c) => c.slice(7));
  if (customKeys.length) {
    const known = new Set(
      (await deps.db.selectFrom("custom_fields").select("key").where("tenant_id", "=", tenantId)
        .where("key", "in", customKeys).execute()).map((r) => r.key),
    );
    const issues = v.columns.flatMap((c, i) =>
      c.startsWith("custom.") && !known.has(c.slice(7))
        ? [{ path: `columns.${i}`, code: "unknown_field", message: "" }]
        : []
    );
    if (issues.length) throw new AppError("validation", {}, issues);
  }
  const now = deps.clock();
  await deps.db.transaction().execute(async (trx) => {
    await trx.updateTable("imports").set({
      mapping: jsonb(v),
      mode: v.mode,
      status: "uploaded",
      report: null,
      updated_at: now,
    }).where("tenant_id", "=", tenantId).where("id", "=", id).execute();
    // Remember by header name, so next month's export from the same system maps itself.
    const byHeader = Object.fromEntries(headers.map((h, i) => [h.toLowerCase(), v.columns[i]!]));
    await trx.insertInto("import_mappings").values({
      tenant_id: tenantId,
      mapping: jsonb({ byHeader, mode: v.mode }),
      updated_at: now,
    }).onConflict((oc) =>
      oc.column("tenant_id").doUpdateSet({
        mapping: jsonb({ byHeader, mode: v.mode }),
        updated_at: now,
      })
    ).execute();
  });
  return await getImport(deps, tenantId, id);
}

// ---- Dry run and real run ------------------------------------------------------------------------

interface Row {
  line: number;
  emails: { address: string; key: string; type?: string }[];
  fields: Record<string, string>;
  custom: Record<string, unknown>;
  tags: string[];
}

type CustomTypes = Map<string, "text" | "number" | "date" | "boolean">;

/** Turns one CSV record into a row, or an invalid-row entry. */
function toRow(
  rec: CsvRecord,
  mapping: ImportMapping,
  headers: string[],
  types: CustomTypes,
): Row | { line: number; column: string; reason: string } {
  const row: Row = { line: rec.line, emails: [], fields: {}, custom: {}, tags: [] };
  for (const [i, target] of mapping.columns.entries()) {
    const raw = (rec.fields[i] ?? "").trim();
    const column = headers[i] ?? `#${i + 1}`;
    if (target === "ignore" || raw === "") continue;
    if (isEmailTarget(target)) {
      const a = normalizeAddress(raw);
      if (!a.ok) return { line: rec.line, column, reason: a.reason };
      const type = target === "email" ? undefined : target.slice(6);
      // A type goes to one address of the row: the first column of that type wins.
      const free = type && !row.emails.some((e) => e.type === type) ? type : undefined;
      const same = row.emails.find((e) => e.key === a.key);
      if (!same) row.emails.push({ address: a.address, key: a.key, type: free });
      else same.type ??= free;
    } else if (target === "tags") {
      row.tags.push(...raw.split(/[,;|]/).map((s) => s.trim()).filter(Boolean));
    } else if (target === "language") {
      const lang = raw.toLowerCase().slice(0, 2);
      if (!["en", "sv", "fi", "da"].includes(lang)) {
        return { line: rec.line, column, reason: "language" };
      }
      row.fields.language = lang;
    } else if (target.startsWith("custom.")) {
      const key = target.slice(7);
      const type = types.get(key);
      const value = type === "number"
        ? Number(raw.replace(",", "."))
        : type === "boolean"
        ? /^(1|true|yes|ja|kyllä|x)$/i.test(raw)
        : raw;
      if (type === "number" && !Number.isFinite(value)) {
        return { line: rec.line, column, reason: "expected_number" };
      }
      if (type === "date" && !/^\d{4}-\d{2}-\d{2}$/.test(raw)) {
        return { line: rec.line, column, reason: "expected_date" };
      }
      row.custom[key] = value;
    } else {
      row.fields[target] = raw.slice(
        0,
        target === "first_name" || target === "last_name" ? 100 : 200,
      );
    }
  }
  if (!row.emails.length) return { line: rec.line, column: "email", reason: "empty" };
  // The main (primary) address is the first plain email column's, before any typed one.
  row.emails.sort((a, b) => (a.type ? 1 : 0) - (b.type ? 1 : 0));
  return row;
}

/** The result of matching one batch: per row, which existing persons its addresses hit. */
interface Match {
  persons: string[];
  /** True when the match was on an address that is not the person's primary. */
  secondary: boolean;
  /** Keys of the row's addresses that some person already has. */
  known: Map<string, { person: string; primary: boolean }>;
}

async function matchBatch(
  db: Deps["db"],
  tenantId: string,
  rows: Row[],
): Promise<Match[]> {
  const keys = [...new Set(rows.flatMap((r) => r.emails.map((e) => e.key)))];
  const hits = keys.length
    ? await db.selectFrom("person_addresses as a")
      .innerJoin("persons as p", (j) =>
        j.onRef("p.tenant_id", "=", "a.tenant_id").onRef("p.id", "=", "a.person_id"))
      .select(["a.address_key", "a.person_id", "a.is_primary", "p.status"])
      .where("a.tenant_id", "=", tenantId).where("a.address_key", "in", keys).execute()
    : [];
  const byKey = new Map(hits.map((h) => [h.address_key, h]));
  return rows.map((r) => {
    const known = new Map<string, { person: string; primary: boolean }>();
    const persons = new Set<string>();
    let secondary = false;
    for (const e of r.emails) {
      const h = byKey.get(e.key);
      // A soft-deleted person's address is free to take: the row makes a new person.
      if (!h || h.status === "deleted") continue;
      known.set(e.key, { person: h.person_id, primary: h.is_primary });
      persons.add(h.person_id);
      if (!h.is_primary) secondary = true;
    }
    return { persons: [...persons], secondary, known };
  });
}

export interface RunOptions {
  /** Apply the changes (the real run); false = dry run. */
  apply: boolean;
  /** The real run also adds every person of the file (new and updated) to this list. */
  listId?: string;
}

/**
 * Starts a dry run or the real run in the background and returns at once; poll getImport for
 * progress. The real run is one transaction: any failure leaves the database as it was.
 */
export async function startImport(
  deps: Deps,
  tenantId: string,
  id: string,
  opts: RunOptions,
  actor: string,
): Promise<{ done: Promise<void> }> {
  const imp = await getImport(deps, tenantId, id);
  if (!imp.mapping) {
    throw new AppError("validation", {}, [{ path: "mapping", code: "missing", message: "" }]);
  }
  const from = opts.apply ? ["checked"] : ["uploaded", "checked", "failed"];
  const claimed = await deps.db.updateTable("imports").set({
    status: opts.apply ? "running" : "checking",
    rows_done: 0,
    error: null,
    updated_at: deps.clock(),
  }).where("tenant_id", "=", tenantId).where("id", "=", id).where("status", "in", from as never)
    .returning("id").executeTakeFirst();
  if (!claimed) {
    throw new AppError("conflict", {}, [{
      path: "status",
      code: imp.status,
      message: opts.apply ? "Run the dry run first" : "",
    }]);
  }
  const listId = opts.apply ? opts.listId : undefined;
  if (listId) await requireList(deps, tenantId, listId);
  progress.set(id, 0);
  const done = (async () => {
    try {
      const members = listId ? new Set<string>() : null;
      let joined: { ids: string[]; at: Date } | null = null;
      const report = opts.apply
        ? await deps.db.transaction().execute(async (trx) => {
          const r = await process({ ...deps, db: trx }, tenantId, imp, true, members);
          if (listId && members) {
            joined = await joinList(trx, tenantId, listId, members, deps.clock());
          }
          return r;
        })
        : await process(deps, tenantId, imp, false, null);
      await deps.db.updateTable("imports").set({
        status: opts.apply ? "done" : "checked",
        report: jsonb(report),
        rows_total: report.rows,
        rows_done: report.rows,
        updated_at: deps.clock(),
      }).where("tenant_id", "=", tenantId).where("id", "=", id).execute();
      if (opts.apply) {
        await audit(deps.db, {
          tenantId,
          actor,
          action: "import.run",
          target: id,
          details: {
            rows: report.rows,
            new: report.new_persons,
            updated: report.updated_persons,
            ...(listId ? { list: listId } : {}),
          },
          at: deps.clock(),
        });
      }
      const j = joined as { ids: string[]; at: Date } | null;
      if (listId && j) {
        await emitListMembersAdded(deps, { tenantId, listId, personIds: j.ids, at: j.at });
      }
    } catch (e) {
      deps.log.error("import failed", { importId: id, error: String(e) });
      await deps.db.updateTable("imports").set({
        status: "failed",
        // Stored as codes, shown in the reader's language by the UI (importErrorText).
        error: e instanceof CsvError
          ? `csv:${e.reason}:${e.line}`
          : e instanceof AppError
          ? e.code
          : String(e).slice(0, 500),
        updated_at: deps.clock(),
      }).where("tenant_id", "=", tenantId).where("id", "=", id).execute();
    } finally {
      progress.delete(id);
    }
  })();
  return { done };
}

/** The list an import fills must be the tenant's (checked before the run starts). */
async function requireList(deps: Deps, tenantId: string, listId: string) {
  try {
    await findList(deps.db, tenantId, listId);
  } catch (e) {
    if (!(e instanceof AppError && e.code === "not_found")) throw e;
    throw new AppError("validation", {}, [{ path: "list_id", code: "not_found", message: "" }]);
  }
}

/** Adds the file's persons to the list in the run's transaction; answers who was new to it. */
async function joinList(
  db: Deps["db"],
  tenantId: string,
  listId: string,
  members: Set<string>,
  at: Date,
): Promise<{ ids: string[]; at: Date }> {
  const all = [...members];
  const ids: string[] = [];
  for (let i = 0; i < all.length; i += BATCH_ROWS) {
    ids.push(...await insertActiveMembers(db, tenantId, listId, all.slice(i, i + BATCH_ROWS), at));
  }
  return { ids, at };
}

async function process(
  deps: Deps,
  tenantId: string,
  imp: ImportRow,
  apply: boolean,
  members: Set<string> | null,
): Promise<ImportReport> {
  const mapping = imp.mapping!;
  const headers = imp.headers ?? [];
  const types: CustomTypes = new Map(
    (await deps.db.selectFrom("custom_fields").select(["key", "type"])
      .where("tenant_id", "=", tenantId).execute()).map((f) => [f.key, f.type]),
  );
  const report = emptyReport();
  /** Address keys claimed by earlier rows of this file → the person they went to ("new:n"). */
  const claimedInFile = new Map<string, string>();
  let batch: Row[] = [];
  let header = true;
  let seen = 0;
  const flush = async () => {
    if (!batch.length) return;
    await handleBatch(deps, tenantId, batch, mapping.mode, apply, report, claimedInFile, members);
    batch = [];
  };
  for await (
    const rec of readCsv(chunksOf(deps, tenantId, imp.id), {
      encoding: (imp.encoding ?? undefined) as "utf-8" | undefined,
      delimiter: (imp.delimiter ?? ",") as ",",
    })
  ) {
    if (header) {
      header = false;
      continue;
    }
    seen++;
    report.rows++;
    const row = toRow(rec, mapping, headers, types);
    if ("reason" in row) {
      report.invalid++;
      if (report.invalid_rows.length < REPORT_LIST_LIMIT) report.invalid_rows.push(row);
    } else {
      batch.push(row);
    }
    if (batch.length >= BATCH_ROWS) await flush();
    if (seen % 500 === 0) progress.set(imp.id, seen);
  }
  await flush();
  return report;
}

async function handleBatch(
  deps: Deps,
  tenantId: string,
  rows: Row[],
  mode: ImportMode,
  apply: boolean,
  report: ImportReport,
  claimedInFile: Map<string, string>,
  members: Set<string> | null,
) {
  const matches = await matchBatch(deps.db, tenantId, rows);
  const now = deps.clock();
  const fresh: { id: string; row: Row }[] = [];
  for (const [i, row] of rows.entries()) {
    const m = matches[i]!;
    // Rows earlier in this file may already own an address (a person created by the file).
    const inFile = new Set(row.emails.map((e) => claimedInFile.get(e.key)).filter(Boolean));
    const targets = new Set([...m.persons, ...inFile]);
    if (targets.size > 1) {
      report.conflicts++;
      if (report.conflict_rows.length < REPORT_LIST_LIMIT) {
        report.conflict_rows.push({
          line: row.line,
          address: row.emails[0]!.address,
          persons: [...targets].filter((p): p is string => !!p && !p.startsWith("new:")),
        });
      }
      continue;
    }
    const target = [...targets][0];
    if (!target) {
      report.new_persons++;
      const id = apply ? uuidv7() : `new:${row.line}`;
      fresh.push({ id, row });
      members?.add(id);
      for (const e of row.emails) claimedInFile.set(e.key, id);
      continue;
    }
    report.updated_persons++;
    if (m.secondary) report.matched_on_secondary++;
    if (!target.startsWith("new:")) members?.add(target);
    for (const e of row.emails) claimedInFile.set(e.key, target);
    if (apply) {
      // A later row for a person this file created: insert what we have, then update it.
      if (fresh.some((f) => f.id === target)) await insertPersons(deps, tenantId, fresh, now);
      await updateFromRow(deps, tenantId, target, row, mode, now);
    }
  }
  if (apply) await insertPersons(deps, tenantId, fresh, now);
}

/** Inserts the batch's new persons set-based (three statements for the whole batch). */
async function insertPersons(
  deps: Deps,
  tenantId: string,
  fresh: { id: string; row: Row }[],
  now: Date,
) {
  if (!fresh.length) return;
  const items = fresh.splice(0);
  await deps.db.insertInto("persons").values(items.map(({ id, row }) => ({
    tenant_id: tenantId,
    id,
    first_name: row.fields.first_name ?? "",
    last_name: row.fields.last_name ?? "",
    organisation: row.fields.organisation ?? "",
    title: row.fields.title ?? "",
    language: row.fields.language ?? null,
    custom: jsonb(row.custom),
    tags: [...new Set(row.tags)],
    created_at: now,
    updated_at: now,
  }))).execute();
  const emails = items.flatMap(({ id, row }) =>
    row.emails.map((e, i) => ({
      tenant_id: tenantId,
      id: uuidv7(),
      person_id: id,
      address: e.address,
      address_key: e.key,
      is_primary: i === 0,
      type: e.type ?? null,
      created_at: now,
    }))
  );
  // Soft-deleted persons may hold some of these addresses: the new persons take them over.
  await deps.db.deleteFrom("person_addresses").where("tenant_id", "=", tenantId)
    .where("address_key", "in", emails.map((e) => e.address_key)).execute();
  await deps.db.insertInto("person_addresses").values(emails).execute();
}

async function updateFromRow(
  deps: Deps,
  tenantId: string,
  personId: string,
  row: Row,
  mode: ImportMode,
  now: Date,
) {
  const set: Record<string, unknown> = { updated_at: now };
  for (const [k, v] of Object.entries(row.fields)) set[k] = v;
  await deps.db.updateTable("persons").set({
    ...set,
    ...(Object.keys(row.custom).length
      ? { custom: sql`custom || ${jsonb(row.custom)}` as never }
      : {}),
    ...(row.tags.length
      ? { tags: sql`array(select distinct unnest(tags || ${row.tags}::text[]))` as never }
      : {}),
  }).where("tenant_id", "=", tenantId).where("id", "=", personId).execute();

  // Addresses the person does not have yet are added (read now: earlier rows of this file may
  // have given the person addresses); with overwrite_primary the row's first address becomes
  // the sending one.
  const have = new Map(
    (await deps.db.selectFrom("person_addresses").select(["address_key", "is_primary", "type"])
      .where("tenant_id", "=", tenantId).where("person_id", "=", personId).execute())
      .map((a) => [a.address_key, a.is_primary]),
  );
  // A typed column types the address the person already has, too (one address per type).
  for (const e of row.emails.filter((e) => e.type && have.has(e.key))) {
    await setAddressType(deps.db, tenantId, personId, { key: e.key }, e.type!);
  }
  const fresh = row.emails.filter((e) => !have.has(e.key));
  if (fresh.length) {
    // A fresh typed address takes its type over from the person's other addresses.
    const freshTypes = fresh.flatMap((e) => e.type ? [e.type] : []);
    if (freshTypes.length) {
      await deps.db.updateTable("person_addresses").set({ type: null })
        .where("tenant_id", "=", tenantId).where("person_id", "=", personId)
        .where("type", "in", freshTypes).execute();
    }
    // Only soft-deleted persons can hold these (matching ruled out everyone else).
    await deps.db.deleteFrom("person_addresses").where("tenant_id", "=", tenantId)
      .where("address_key", "in", fresh.map((e) => e.key)).execute();
    await deps.db.insertInto("person_addresses").values(fresh.map((e) => ({
      tenant_id: tenantId,
      id: uuidv7(),
      person_id: personId,
      address: e.address,
      address_key: e.key,
      is_primary: have.size === 0 && e === row.emails[0],
      type: e.type ?? null,
      created_at: now,
    }))).execute();
  }
  const main = row.emails[0]!;
  if (mode === "overwrite_primary" && have.size > 0 && !have.get(main.key)) {
    await deps.db.updateTable("person_addresses").set({ is_primary: false })
      .where("tenant_id", "=", tenantId).where("person_id", "=", personId)
      .where("is_primary", "=", true).execute();
    await deps.db.updateTable("person_addresses").set({ is_primary: true })
      .where("tenant_id", "=", tenantId).where("person_id", "=", personId)
      .where("address_key", "=", main.key).execute();
  }
}

/** The report as CSV, for download: one line per listed row. */
export function reportCsv(report: ImportReport): string {
  const q = (s: string) => /[",\n;]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  const lines = ["line,outcome,detail"];
  for (const r of report.invalid_rows) {
    lines.push(`${r.line},invalid,${q(`${r.column}: ${r.reason}`)}`);
  }
  for (const r of report.conflict_rows) {
    lines.push(`${r.line},conflict,${q(`${r.address} matches ${r.persons.join(" ")}`)}`);
  }
  lines.sort((a, b) => Number(a.split(",")[0]) - Number(b.split(",")[0]));
  return lines.join("\r\n") + "\r\n";
}

/** The first `n` data rows of an upload, for the mapping screen. */
export async function previewRows(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  imp: ImportRow,
  n = 3,
): Promise<string[][]> {
  const out: string[][] = [];
  try {
    for await (
      const rec of readCsv(chunksOf(deps, tenantId, imp.id), {
        encoding: (imp.encoding ?? undefined) as "utf-8" | undefined,
        delimiter: (imp.delimiter ?? ",") as ",",
      })
    ) {
      out.push(rec.fields); // the header row first, then data rows
      if (out.length > n) break;
    }
  } catch {
    // A malformed row shows up in the dry run with its line number; the preview just stops.
  }
  return out.slice(1, n + 1);
}

/** Recent imports of a tenant, newest first. */
export async function listImports(deps: Pick<AppDeps, "db">, tenantId: string, limit = 20) {
  return await deps.db.selectFrom("imports")
    .select(["id", "filename", "status", "rows_total", "created_at", "created_by"])
    .where("tenant_id", "=", tenantId).orderBy("id", "desc").limit(limit).execute();
}
