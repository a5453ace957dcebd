// Sender identities: the From names and addresses a tenant's staff may send as, once verified.
//
// Verification is an admin's act: a tenant admin confirms (in the UI or over the API with an
// admin key) that the address is the organisation's. Only verified identities can be chosen
// for a mailing (see getVerifiedSender). Changing an identity's address clears its verification.
import { sql, type SqlBool } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { isUuid, uuidv7 } from "../db/ids.ts";
import { AppError } from "../errors.ts";
import { audit } from "../tenants/audit.ts";
import { isUniqueViolation } from "../people/unique_name.ts";
import { normalizeAddress } from "../people/address.ts";
import { Recent } from "../recent.ts";

type Deps = Pick<AppDeps, "db" | "clock">;

// Display names go into a From header: no CR/LF, no control characters.
const DisplayName = z.string().trim().min(1).max(200)
  .transform((s) => s.replace(/\p{Cc}+/gu, " ").trim());

export const SenderCreate = z.object({ name: DisplayName, address: z.string().trim().max(254) });
export type SenderCreate = z.input<typeof SenderCreate>;
export const SenderPatch = z.object({
  name: DisplayName.optional(),
  address: z.string().trim().max(254).optional(),
});
export type SenderPatch = z.input<typeof SenderPatch>;

const COLUMNS = [
  "id",
  "name",
  "address",
  "verified_at",
  "verified_by",
  "created_by",
  "created_at",
  "updated_at",
] as const;

export interface SenderRow {
  id: string;
  name: string;
  address: string;
  verified_at: Date | null;
  verified_by: string | null;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

function normaliseAddress(raw: string): string {
  const r = normalizeAddress(raw);
  if (!r.ok) {
    throw new AppError("address_invalid", { address: raw }, [
      { path: "address", code: r.reason, message: "" },
    ]);
  }
  return r.address;
}

function taken(address: string): AppError {
  return new AppError("conflict", { address }, [
    { path: "address", code: "taken", message: "" },
  ]);
}

export async function listSenders(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  opts: { verifiedOnly?: boolean } = {},
): Promise<SenderRow[]> {
  let q = deps.db.selectFrom("sender_identities").select(COLUMNS)
    .where("tenant_id", "=", tenantId);
  if (opts.verifiedOnly) q = q.where("verified_at", "is not", null);
  return await q.orderBy("name").orderBy("address").limit(1000).execute();
}

/** How long a tenant's verified senders are reused by {@link verifiedSenders}. */
export const VERIFIED_SENDERS_CACHE_MS = 5_000;
const verified = new Recent<{ addresses: Set<string>; domains: Set<string> }>(
  VERIFIED_SENDERS_CACHE_MS,
);

/**
 * The tenant's verified sender addresses and their domains (lower-cased), for checks on every
 * message of the sending API: reused for a few seconds; a change made here is seen at once.
 */
export function verifiedSenders(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
): Promise<{ addresses: Set<string>; domains: Set<string> }> {
  return verified.get(tenantId, async () => {
    const rows = await deps.db.selectFrom("sender_identities").select("address")
      .where("tenant_id", "=", tenantId).where("verified_at", "is not", null).execute();
    const addresses = new Set(rows.map((r) => r.address.toLowerCase()));
    const domains = new Set([...addresses].map((a) => a.slice(a.lastIndexOf("@") + 1)));
    return { addresses, domains };
  });
}

export async function getSender(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  id: string,
): Promise<SenderRow> {
  if (!isUuid(id)) throw new AppError("not_found");
  const row = await deps.db.selectFrom("sender_identities").select(COLUMNS)
    .where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst();
  if (!row) throw new AppError("not_found");
  return row;
}

/** The identity a mailing may send as; refuses unverified ones (field `sender_id`). */
export async function getVerifiedSender(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  id: string,
): Promise<SenderRow> {
  const row = await getSender(deps, tenantId, id);
  if (!row.verified_at) {
    throw new AppError("validation", {}, [
      { path: "sender_id", code: "sender_unverified", message: "" },
    ]);
  }
  return row;
}

export async function createSender(
  deps: Deps,
  tenantId: string,
  input: SenderCreate,
  actor: string,
): Promise<SenderRow> {
  const v = SenderCreate.parse(input);
  const address = normaliseAddress(v.address);
  const now = deps.clock();
  try {
    return await changing(
      tenantId,
      deps.db.transaction().execute(async (trx) => {
        const dupe = await trx.selectFrom("sender_identities").select("id")
          .where("tenant_id", "=", tenantId)
          .where(sql<SqlBool>`lower(address) = lower(${address})`).executeTakeFirst();
        if (dupe) throw taken(address);
        const row = await trx.insertInto("sender_identities").values({
          tenant_id: tenantId,
          id: uuidv7(),
          name: v.name,
          address,
          created_by: actor,
          created_at: now,
          updated_at: now,
        }).returning(COLUMNS).executeTakeFirstOrThrow();
        await audit(trx, {
          tenantId,
          actor,
          action: "sender.create",
          target: row.id,
          details: { address },
          at: now,
        });
        return row;
      }),
    );
  } catch (e) {
    throw isUniqueViolation(e) ? taken(address) : e;
  }
}

export async function updateSender(
  deps: Deps,
  tenantId: string,
  id: string,
  input: SenderPatch,
  actor: string,
): Promise<SenderRow> {
  const v = SenderPatch.parse(input);
  const address = v.address === undefined ? undefined : normaliseAddress(v.address);
  const now = deps.clock();
  try {
    return await changing(
      tenantId,
      deps.db.transaction().execute(async (trx) => {
        const before = await getSender({ db: trx }, tenantId, id);
        const moved = address !== undefined &&
          address.toLowerCase() !== before.address.toLowerCase();
        const row = await trx.updateTable("sender_identities").set({
          ...(v.name !== undefined ? { name: v.name } : {}),
          ...(address !== undefined ? { address } : {}),
          // A new address has not been confirmed by anyone.
          ...(moved ? { verified_at: null, verified_by: null } : {}),
          updated_at: now,
        }).where("tenant_id", "=", tenantId).where("id", "=", id).returning(COLUMNS)
          .executeTakeFirstOrThrow();
        await audit(trx, {
          tenantId,
          actor,
          action: "sender.update",
          target: id,
          details: v,
          at: now,
        });
        return row;
      }),
    );
  } catch (e) {
    throw isUniqueViolation(e) ? taken(address ?? "") : e;
  }
}

/** An admin confirms the address belongs to the organisation. */
export async function verifySender(
  deps: Deps,
  tenantId: string,
  id: string,
  actor: string,
): Promise<SenderRow> {
  const now = deps.clock();
  return await changing(
    tenantId,
    deps.db.transaction().execute(async (trx) => {
      const before = await getSender({ db: trx }, tenantId, id);
      if (before.verified_at) return before;
      const row = await trx.updateTable("sender_identities")
        .set({ verified_at: now, verified_by: actor, updated_at: now })
        .where("tenant_id", "=", tenantId).where("id", "=", id).returning(COLUMNS)
        .executeTakeFirstOrThrow();
      await audit(trx, { tenantId, actor, action: "sender.verify", target: id, at: now });
      return row;
    }),
  );
}

export async function deleteSender(
  deps: Deps,
  tenantId: string,
  id: string,
  actor: string,
): Promise<void> {
  const now = deps.clock();
  await changing(
    tenantId,
    deps.db.transaction().execute(async (trx) => {
      await getSender({ db: trx }, tenantId, id);
      await trx.deleteFrom("sender_identities").where("tenant_id", "=", tenantId)
        .where("id", "=", id).execute();
      await audit(trx, { tenantId, actor, action: "sender.delete", target: id, at: now });
    }),
  );
}

/** After a change to the tenant's senders has settled (either way), they are read again. */
async function changing<T>(tenantId: string, change: Promise<T>): Promise<T> {
  try {
    return await change;
  } finally {
    verified.forget(tenantId);
  }
}
