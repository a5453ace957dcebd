// Merging duplicate persons, and finding likely duplicates to merge.
import { jsonb } from "../db/json.ts";
import { sql } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import type { DB } from "../db/schema.ts";
import { isUuid, uuidv7 } from "../db/ids.ts";
import { AppError } from "../errors.ts";
import { audit } from "../tenants/audit.ts";
import { getPerson } from "./persons.ts";

type Deps = Pick<AppDeps, "db" | "clock">;

/**
 * Tables whose rows point at a person and must follow a merge (contact notes, list members,
 * and later the send queue and events). Each entry moves rows from `from` to `to`; where a
 * unique key would collide, the surviving person's row wins.
 */
export const PERSON_REFERENCES: {
  table: keyof DB & string;
  /** Columns that together with person_id are unique; rows that would collide are dropped. */
  uniqueWith?: string[];
}[] = [
  { table: "contact_notes", uniqueWith: ["mailing_id"] },
  { table: "list_members", uniqueWith: ["list_id"] },
];

export const MergeInput = z.object({
  /** The person merged away; they are gone afterwards. */
  from: z.string().uuid(),
  /** Whose primary address stays primary: the surviving person's (default) or the other's. */
  primary: z.enum(["keep", "other"]).default("keep"),
});
export type MergeInput = z.input<typeof MergeInput>;

/** Merges person `from` into `into` in one transaction; returns the surviving person. */
export async function mergePersons(
  deps: Deps,
  tenantId: string,
  intoId: string,
  input: MergeInput,
  actor: string,
) {
  const v = MergeInput.parse(input);
  if (!isUuid(intoId)) throw new AppError("not_found");
  if (v.from === intoId) {
    throw new AppError("validation", {}, [{ path: "from", code: "same_person", message: "" }]);
  }
  const now = deps.clock();
  await deps.db.transaction().execute(async (trx) => {
    // Lock both in id order so two merges of the same pair cannot deadlock.
    const rows = await trx.selectFrom("persons").selectAll()
      .where("tenant_id", "=", tenantId).where("id", "in", [intoId, v.from])
      .orderBy("id").forUpdate().execute();
    const into = rows.find((r) => r.id === intoId);
    const from = rows.find((r) => r.id === v.from);
    if (!into || !from) throw new AppError("not_found");
    for (const p of [into, from]) {
      if (p.status !== "active") throw new AppError("person_not_active", { status: p.status });
    }

    // Addresses: all of B's move to A; A's primary stays unless B's was chosen.
    const otherPrimary = v.primary === "other" &&
      await trx.selectFrom("person_addresses").select("id").where("tenant_id", "=", tenantId)
        .where("person_id", "=", from.id).where("is_primary", "=", true).executeTakeFirst();
    if (otherPrimary) {
      await trx.updateTable("person_addresses").set({ is_primary: false })
        .where("tenant_id", "=", tenantId).where("person_id", "=", into.id)
        .where("is_primary", "=", true).execute();
    } else {
      await trx.updateTable("person_addresses").set({ is_primary: false })
        .where("tenant_id", "=", tenantId).where("person_id", "=", from.id).execute();
    }
    const moved = await trx.updateTable("person_addresses").set({ person_id: into.id })
      .where("tenant_id", "=", tenantId).where("person_id", "=", from.id)
      .returning("address").execute();
    // A had no address at all: the first moved one becomes primary.
    const hasPrimary = await trx.selectFrom("person_addresses").select("id")
      .where("tenant_id", "=", tenantId).where("person_id", "=", into.id)
      .where("is_primary", "=", true).executeTakeFirst();
    if (!hasPrimary) {
      await trx.updateTable("person_addresses").set({ is_primary: true })
        .where("tenant_id", "=", tenantId).where(
          "id",
          "=",
          (eb) =>
            eb.selectFrom("person_addresses").select("id").where("tenant_id", "=", tenantId)
              .where("person_id", "=", into.id).orderBy("id").limit(1),
        ).execute();
    }

    for (const ref of PERSON_REFERENCES) {
      if (ref.uniqueWith?.length) {
        const cols = ref.uniqueWith.map((c) => sql.ref(`x.${c}`));
        const same = ref.uniqueWith.map((c) => sql`x.${sql.ref(c)} = y.${sql.ref(c)}`);
        // Drop B's rows that A already has (e.g. both in the same list), then move the rest.
        await sql`
          delete from ${sql.table(ref.table)} x
          where x.tenant_id = ${tenantId} and x.person_id = ${from.id}
            and ${sql.join(cols, sql` is not null and `)} is not null
            and exists (select 1 from ${sql.table(ref.table)} y
              where y.tenant_id = x.tenant_id and y.person_id = ${into.id}
              and ${sql.join(same, sql` and `)})`.execute(trx);
      }
      await sql`update ${sql.table(ref.table)} set person_id = ${into.id}
        where tenant_id = ${tenantId} and person_id = ${from.id}`.execute(trx);
    }

    // Fields: A's values win; B fills what A lacks. Tags are united.
    const pick = (a: string, b: string) => a || b;
    await trx.updateTable("persons").set({
      first_name: pick(into.first_name, from.first_name),
      last_name: pick(into.last_name, from.last_name),
      organisation: pick(into.organisation, from.organisation),
      title: pick(into.title, from.title),
      language: into.language ?? from.language,
      custom: jsonb({ ...from.custom, ...into.custom }),
      tags: [...new Set([...into.tags, ...from.tags])],
      updated_at: now,
    }).where("tenant_id", "=", tenantId).where("id", "=", into.id).execute();

    await trx.insertInto("contact_notes").values({
      tenant_id: tenantId,
      id: uuidv7(),
      person_id: into.id,
      kind: "system",
      body: JSON.stringify({
        event: "merged",
        name: `${from.first_name} ${from.last_name}`.trim(),
        addresses: moved.map((m) => m.address),
      }),
      author: actor,
      created_at: now,
      updated_at: now,
    }).execute();
    await trx.deleteFrom("persons").where("tenant_id", "=", tenantId).where("id", "=", from.id)
      .execute();
    await audit(trx, {
      tenantId,
      actor,
      action: "person.merge",
      target: into.id,
      details: { merged: from.id, addresses: moved.map((m) => m.address), primary: v.primary },
      at: now,
    });
  });
  return await getPerson(deps, tenantId, intoId);
}

export interface DuplicateGroup {
  reason: "same_name_and_organisation" | "same_local_part";
  persons: {
    id: string;
    first_name: string;
    last_name: string;
    organisation: string;
    primary_address: string | null;
  }[];
}

/**
 * Likely duplicates among active persons: the same name and organisation, or addresses with
 * the same local part at different domains (anna.berg@uni.se and anna.berg@gmail.com).
 */
export async function findDuplicates(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  limit = 50,
): Promise<DuplicateGroup[]> {
  const byName = await sql<{ ids: string[] }>`
    select array_agg(id order by id) as ids from persons
    where tenant_id = ${tenantId} and status = 'active'
      and (first_name <> '' or last_name <> '')
    group by lower(first_name), lower(last_name), lower(organisation)
    having count(*) > 1
    order by min(id::text) limit ${limit}`.execute(deps.db);
  const byLocal = await sql<{ ids: string[] }>`
    select array_agg(distinct a.person_id) as ids
    from person_addresses a join persons p on p.tenant_id = a.tenant_id and p.id = a.person_id
    where a.tenant_id = ${tenantId} and p.status = 'active'
      and length(split_part(a.address_key, '@', 1)) >= 4
    group by split_part(a.address_key, '@', 1)
    having count(distinct a.person_id) > 1
    order by min(a.person_id::text) limit ${limit}`.execute(deps.db);

  const groups: { reason: DuplicateGroup["reason"]; ids: string[] }[] = [
    ...byName.rows.map((r) => ({ reason: "same_name_and_organisation" as const, ids: r.ids })),
    ...byLocal.rows.map((r) => ({ reason: "same_local_part" as const, ids: r.ids })),
  ];
  const allIds = [...new Set(groups.flatMap((g) => g.ids))];
  if (!allIds.length) return [];
  const people = await deps.db.selectFrom("persons as p")
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
      "a.address as primary_address",
    ])
    .where("p.tenant_id", "=", tenantId).where("p.id", "in", allIds).execute();
  const byId = new Map(people.map((p) => [p.id, p]));
  return groups.map((g) => ({
    reason: g.reason,
    persons: g.ids.map((id) => byId.get(id)).filter((p) => p !== undefined),
  }));
}
