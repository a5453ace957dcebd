// Staff and operator sessions: a random cookie token, stored hashed, with an absolute expiry.
import type { AppDeps } from "../deps.ts";
import type { Tier } from "../db/schema.ts";
import { hashToken, issueToken } from "./tokens.ts";

export type Subject =
  | { kind: "operator"; operatorId: string }
  | { kind: "user"; tenantId: string; userId: string };

export interface TenantInfo {
  id: string;
  slug: string;
  name: string;
  tier: Tier;
  addons: string[];
  status: "active" | "suspended";
  locale: string;
  time_zone: string;
  updated_at: Date;
}

/** The tenant columns every authenticated request needs, selected from a join aliased "t". */
export const TENANT_INFO_COLUMNS = [
  "t.id as t_id",
  "t.slug as t_slug",
  "t.name as t_name",
  "t.tier as t_tier",
  "t.addons as t_addons",
  "t.status as t_status",
  "t.locale as t_locale",
  "t.time_zone as t_time_zone",
  "t.updated_at as t_updated_at",
] as const;

export function toTenantInfo(row: {
  t_id: string;
  t_slug: string;
  t_name: string;
  t_tier: Tier;
  t_addons: string[];
  t_status: "active" | "suspended";
  t_locale: string;
  t_time_zone: string;
  t_updated_at: Date;
}): TenantInfo {
  return {
    id: row.t_id,
    slug: row.t_slug,
    name: row.t_name,
    tier: row.t_tier,
    addons: row.t_addons,
    status: row.t_status,
    locale: row.t_locale,
    time_zone: row.t_time_zone,
    updated_at: row.t_updated_at,
  };
}

export type SessionAuth =
  | {
    kind: "operator";
    sessionId: string;
    operator: {
      id: string;
      email: string;
      name: string;
      locale: string | null;
      time_zone: string | null;
    };
  }
  | {
    kind: "user";
    sessionId: string;
    tenant: TenantInfo;
    user: {
      id: string;
      email: string;
      name: string;
      role: "admin" | "user";
      locale: string | null;
      time_zone: string | null;
    };
  };

type Deps = Pick<AppDeps, "db" | "clock" | "config">;

export async function createSession(
  deps: Deps,
  subject: Subject,
  meta: { ip?: string; userAgent?: string } = {},
): Promise<string> {
  const { token, hash } = await issueToken();
  const now = deps.clock();
  await deps.db.insertInto("sessions").values({
    id: hash,
    operator_id: subject.kind === "operator" ? subject.operatorId : null,
    tenant_id: subject.kind === "user" ? subject.tenantId : null,
    user_id: subject.kind === "user" ? subject.userId : null,
    created_at: now,
    expires_at: new Date(now.getTime() + deps.config.sessionTtlMs),
    ip: meta.ip?.slice(0, 64) ?? null,
    user_agent: meta.userAgent?.slice(0, 300) ?? null,
  }).execute();
  const table = subject.kind === "operator" ? "operators" : "users";
  const id = subject.kind === "operator" ? subject.operatorId : subject.userId;
  await deps.db.updateTable(table).set({ last_login_at: now }).where("id", "=", id).execute();
  return token;
}

/** Resolves a session cookie; expired sessions, disabled users and suspended tenants get null. */
export async function readSession(deps: Deps, token: string): Promise<SessionAuth | null> {
  if (!token || token.length > 100) return null;
  const id = await hashToken(token);
  const row = await deps.db.selectFrom("sessions").selectAll().where("id", "=", id)
    .where("expires_at", ">", deps.clock()).executeTakeFirst();
  if (!row) return null;
  if (row.operator_id) {
    const operator = await deps.db.selectFrom("operators")
      .select(["id", "email", "name", "locale", "time_zone"])
      .where("id", "=", row.operator_id).executeTakeFirst();
    return operator ? { kind: "operator", sessionId: id, operator } : null;
  }
  const found = await deps.db.selectFrom("users as u")
    .innerJoin("tenants as t", "t.id", "u.tenant_id")
    .select([
      "u.id",
      "u.email",
      "u.name",
      "u.role",
      "u.locale",
      "u.time_zone",
      "u.disabled_at",
      ...TENANT_INFO_COLUMNS,
    ])
    .where("u.tenant_id", "=", row.tenant_id!).where("u.id", "=", row.user_id!)
    .executeTakeFirst();
  if (!found || found.disabled_at) return null;
  return {
    kind: "user",
    sessionId: id,
    tenant: toTenantInfo(found),
    user: {
      id: found.id,
      email: found.email,
      name: found.name,
      role: found.role,
      locale: found.locale,
      time_zone: found.time_zone,
    },
  };
}

export async function deleteSession(deps: Pick<AppDeps, "db">, sessionId: string): Promise<void> {
  await deps.db.deleteFrom("sessions").where("id", "=", sessionId).execute();
}

/** Removes expired sessions; cheap thanks to the index on expires_at. */
export async function pruneSessions(deps: Pick<AppDeps, "db" | "clock">): Promise<void> {
  await deps.db.deleteFrom("sessions").where("expires_at", "<=", deps.clock()).execute();
}
