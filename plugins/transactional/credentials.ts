// SMTP submission credentials: created by a tenant admin, the password shown once and stored only
// hashed, revoked, and checked at AUTH (only for tenants that have the transactional add-on).
import type { Kysely } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../../core/deps.ts";
import type { DB } from "../../core/db/schema.ts";
import { isUuid, uuidv7 } from "../../core/db/ids.ts";
import { AppError } from "../../core/errors.ts";
import { randomToken, timingSafeEqual } from "../../core/crypto.ts";
import { hashToken } from "../../core/auth/tokens.ts";
import { audit } from "../../core/tenants/audit.ts";
import { TENANT_INFO_COLUMNS, toTenantInfo } from "../../core/auth/sessions.ts";

/** The plugin a tenant must have for its credentials to authenticate. */
export const PLUGIN_NAME = "transactional";

export interface SmtpCredentialsTable {
  tenant_id: string;
  id: string;
  name: string;
  username: string;
  secret_hash: string;
  created_by: string | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}
type PluginDB = DB & { smtp_credentials: SmtpCredentialsTable };
const dbOf = (deps: Pick<AppDeps, "db">) => deps.db as unknown as Kysely<PluginDB>;

// "smtp_" + 16 lower-case alphanumerics: easy to paste into a mail server's settings, and
// unguessable enough that knowing one tells nothing about another.
const USERNAME = /^smtp_[a-z0-9]{16}$/;
// Writing last_used_at on every AUTH would make each session a write; once a minute is enough.
const LAST_USED_RESOLUTION_MS = 60_000;

export const CredentialCreate = z.object({ name: z.string().trim().min(1).max(100) });

export interface CreatedCredential {
  id: string;
  name: string;
  username: string;
  /** Shown to the admin once; only its hash is stored. */
  password: string;
}

function newUsername(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "smtp_" + Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

export async function createSmtpCredential(
  deps: Pick<AppDeps, "db" | "clock">,
  tenantId: string,
  input: z.input<typeof CredentialCreate>,
  actor: { id: string | null; label: string },
): Promise<CreatedCredential> {
  const parsed = CredentialCreate.safeParse(input);
  if (!parsed.success) {
    throw new AppError("validation", {}, [{ path: "name", code: "invalid", message: "" }]);
  }
  const id = uuidv7();
  const username = newUsername();
  const password = randomToken(32);
  const now = deps.clock();
  await dbOf(deps).transaction().execute(async (trx) => {
    await trx.insertInto("smtp_credentials").values({
      tenant_id: tenantId,
      id,
      name: parsed.data.name,
      username,
      secret_hash: await hashToken(password),
      created_by: actor.id,
      created_at: now,
      last_used_at: null,
      revoked_at: null,
    }).execute();
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor: actor.label,
      action: "smtp_credential.create",
      target: id,
      details: { username },
      at: now,
    });
  });
  return { id, name: parsed.data.name, username, password };
}

export interface CredentialRow {
  id: string;
  name: string;
  username: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export async function listSmtpCredentials(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
): Promise<CredentialRow[]> {
  return await dbOf(deps).selectFrom("smtp_credentials")
    .select(["id", "name", "username", "created_at", "last_used_at", "revoked_at"])
    .where("tenant_id", "=", tenantId).orderBy("id", "desc").limit(1000).execute();
}

/** Revokes one of this tenant's credentials; null when it was already revoked. */
export async function revokeSmtpCredential(
  deps: Pick<AppDeps, "db" | "clock">,
  tenantId: string,
  id: string,
  actor: string,
): Promise<{ id: string; name: string } | null> {
  if (!isUuid(id)) throw new AppError("not_found");
  const now = deps.clock();
  return await dbOf(deps).transaction().execute(async (trx) => {
    const row = await trx.updateTable("smtp_credentials").set({ revoked_at: now })
      .where("tenant_id", "=", tenantId).where("id", "=", id).where("revoked_at", "is", null)
      .returning(["id", "name"]).executeTakeFirst();
    if (!row) {
      const exists = await trx.selectFrom("smtp_credentials").select("id")
        .where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst();
      if (!exists) throw new AppError("not_found");
      return null;
    }
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "smtp_credential.revoke",
      target: id,
      at: now,
    });
    return row;
  });
}

export type LoginResult =
  | { ok: true; tenantId: string; credentialId: string; username: string }
  | { ok: false; reason: "invalid" | "not_enabled" | "suspended" };

/**
 * Checks an AUTH username and password. Unknown, malformed and revoked credentials and wrong
 * passwords all answer "invalid" (one answer, so nothing is learnt by probing); a right
 * password of a tenant without the add-on, or a suspended one, says so.
 */
export async function verifySmtpLogin(
  deps: Pick<AppDeps, "db" | "clock" | "registry">,
  username: string,
  password: string,
): Promise<LoginResult> {
  if (!USERNAME.test(username) || password.length === 0 || password.length > 512) {
    return { ok: false, reason: "invalid" };
  }
  const hash = await hashToken(password);
  const row = await dbOf(deps).selectFrom("smtp_credentials as k")
    .innerJoin("tenants as t", "t.id", "k.tenant_id")
    .select(["k.id", "k.secret_hash", "k.revoked_at", "k.last_used_at", ...TENANT_INFO_COLUMNS])
    .where("k.username", "=", username).executeTakeFirst();
  if (!row || row.revoked_at || !timingSafeEqual(row.secret_hash, hash)) {
    return { ok: false, reason: "invalid" };
  }
  const tenant = toTenantInfo(row);
  if (tenant.status !== "active") return { ok: false, reason: "suspended" };
  if (!deps.registry.enabledFor(tenant).has(PLUGIN_NAME)) {
    return { ok: false, reason: "not_enabled" };
  }
  const now = deps.clock();
  if (
    !row.last_used_at ||
    now.getTime() - new Date(row.last_used_at).getTime() > LAST_USED_RESOLUTION_MS
  ) {
    await dbOf(deps).updateTable("smtp_credentials").set({ last_used_at: now })
      .where("tenant_id", "=", tenant.id).where("id", "=", row.id).execute();
  }
  return { ok: true, tenantId: tenant.id, credentialId: row.id, username };
}
