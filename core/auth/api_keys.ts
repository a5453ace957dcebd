// Tenant API keys and operator keys: shown once, stored hashed, found by a public prefix.
import type { AppDeps } from "../deps.ts";
import { isUuid, uuidv7 } from "../db/ids.ts";
import { AppError } from "../errors.ts";
import { randomToken, sha256HexSync, timingSafeEqual } from "../crypto.ts";
import { Recent } from "../recent.ts";
import { hashToken } from "./tokens.ts";
import { TENANT_INFO_COLUMNS, type TenantInfo, toTenantInfo } from "./sessions.ts";

type Deps = Pick<AppDeps, "db" | "clock">;

/** read: GET; write: create and change; admin: manage keys and users; send: send mail. */
export const SCOPES = ["read", "write", "admin", "send"] as const;
export type Scope = (typeof SCOPES)[number];

// skk_ = tenant key, sko_ = operator key; prefix is 12 lower-case alphanumerics, secret 32 bytes.
const KEY_FORMAT = /^(skk|sko)_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
// Writing last_used_at on every request would turn reads into writes; once a minute is enough.
const LAST_USED_RESOLUTION_MS = 60_000;
/**
 * A tenant key's row (hash, scopes, revocation, the tenant's plan and status) is reused for this
 * long: integrators send one request per message, and reading it each time cost a quarter of a
 * request. Revoking a key or changing a tenant here forgets it at once; another process's
 * change takes effect within this time.
 */
export const KEY_CACHE_MS = 5_000;

function newPrefix(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

export interface CreatedKey {
  id: string;
  name: string;
  prefix: string;
  /** The whole key: shown to the creator once, never stored. */
  key: string;
}

export async function createApiKey(
  deps: Deps,
  input: { tenantId: string; name: string; scopes: Scope[]; createdBy?: string | null },
): Promise<CreatedKey & { scopes: Scope[] }> {
  const prefix = newPrefix();
  const secret = randomToken(32);
  const id = uuidv7();
  await deps.db.insertInto("api_keys").values({
    tenant_id: input.tenantId,
    id,
    name: input.name,
    prefix,
    key_hash: await hashToken(secret),
    scopes: input.scopes,
    created_by: input.createdBy ?? null,
    created_at: deps.clock(),
  }).execute();
  return { id, name: input.name, prefix, key: `skk_${prefix}_${secret}`, scopes: input.scopes };
}

export async function createOperatorKey(
  deps: Deps,
  input: { operatorId: string; name: string },
): Promise<CreatedKey> {
  const prefix = newPrefix();
  const secret = randomToken(32);
  const id = uuidv7();
  await deps.db.insertInto("operator_api_keys").values({
    id,
    operator_id: input.operatorId,
    name: input.name,
    prefix,
    key_hash: await hashToken(secret),
    created_at: deps.clock(),
  }).execute();
  return { id, name: input.name, prefix, key: `sko_${prefix}_${secret}` };
}

export type KeyAuth =
  | { kind: "api_key"; keyId: string; scopes: Scope[]; tenant: TenantInfo }
  | { kind: "operator_key"; keyId: string; operator: { id: string; email: string } };

/** Resolves "Bearer <key>"; throws api_key_invalid for malformed, unknown or revoked keys. */
export async function verifyApiKey(deps: Deps, key: string): Promise<KeyAuth> {
  const m = KEY_FORMAT.exec(key);
  if (!m) throw new AppError("api_key_invalid");
  const [, kind, prefix, secret] = m as unknown as [string, "skk" | "sko", string, string];
  const hash = sha256HexSync(secret);
  const now = deps.clock();
  if (kind === "sko") {
    const row = await deps.db.selectFrom("operator_api_keys as k")
      .innerJoin("operators as o", "o.id", "k.operator_id")
      .select(["k.id", "k.key_hash", "k.revoked_at", "k.last_used_at", "o.id as oid", "o.email"])
      .where("k.prefix", "=", prefix).executeTakeFirst();
    if (!row || row.revoked_at || !timingSafeEqual(row.key_hash, hash)) {
      throw new AppError("api_key_invalid");
    }
    if (stale(row.last_used_at, now)) {
      await deps.db.updateTable("operator_api_keys").set({ last_used_at: now })
        .where("id", "=", row.id).execute();
    }
    return { kind: "operator_key", keyId: row.id, operator: { id: row.oid, email: row.email } };
  }
  const row = await tenantKeys.get(prefix, () =>
    deps.db.selectFrom("api_keys as k")
      .innerJoin("tenants as t", "t.id", "k.tenant_id")
      .select([
        "k.id",
        "k.key_hash",
        "k.revoked_at",
        "k.last_used_at",
        "k.scopes",
        ...TENANT_INFO_COLUMNS,
      ])
      .where("k.prefix", "=", prefix).executeTakeFirst());
  if (!row) tenantKeys.forget(prefix);
  if (!row || row.revoked_at || !timingSafeEqual(row.key_hash, hash)) {
    throw new AppError("api_key_invalid");
  }
  if (stale(row.last_used_at, now)) {
    row.last_used_at = now;
    await deps.db.updateTable("api_keys").set({ last_used_at: now })
      .where("tenant_id", "=", row.t_id).where("id", "=", row.id).execute();
  }
  return {
    kind: "api_key",
    keyId: row.id,
    scopes: row.scopes as Scope[],
    tenant: toTenantInfo(row),
  };
}

const tenantKeys = new Recent<
  {
    id: string;
    key_hash: string;
    revoked_at: Date | null;
    last_used_at: Date | null;
    scopes: string[];
  } & Parameters<typeof toTenantInfo>[0] | undefined
>(KEY_CACHE_MS);

/** After a change to tenants (plan, status, locale): keys are read again on their next use. */
export function forgetVerifiedKeys(): void {
  tenantKeys.forgetWhere();
}

function stale(lastUsed: Date | null, now: Date): boolean {
  return !lastUsed || now.getTime() - new Date(lastUsed).getTime() > LAST_USED_RESOLUTION_MS;
}

export async function listApiKeys(deps: Pick<AppDeps, "db">, tenantId: string) {
  return await deps.db.selectFrom("api_keys")
    .select(["id", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"])
    .where("tenant_id", "=", tenantId).orderBy("id", "desc").execute();
}

export async function getApiKey(deps: Pick<AppDeps, "db">, tenantId: string, id: string) {
  if (!isUuid(id)) throw new AppError("not_found");
  const row = await deps.db.selectFrom("api_keys")
    .select(["id", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"])
    .where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst();
  if (!row) throw new AppError("not_found");
  return row;
}

/** Revokes a key of this tenant; another tenant's key id is simply not found. */
export async function revokeApiKey(deps: Deps, tenantId: string, id: string) {
  if (!isUuid(id)) throw new AppError("not_found");
  const row = await deps.db.updateTable("api_keys").set({ revoked_at: deps.clock() })
    .where("tenant_id", "=", tenantId).where("id", "=", id).where("revoked_at", "is", null)
    .returning(["id", "name", "prefix"]).executeTakeFirst();
  if (!row) await getApiKey(deps, tenantId, id);
  else tenantKeys.forget(row.prefix);
  return row && { id: row.id, name: row.name };
}
