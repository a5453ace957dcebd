// Kysely table types for the core schema (migrations/); plugins declare their own.
import type { ColumnType, Generated } from "kysely";

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<
  Date | null,
  Date | string | null | undefined,
  Date | string | null
>;

export type Tier = "light" | "standard" | "advanced";

export interface TenantsTable {
  id: string;
  slug: string;
  name: string;
  tier: Tier;
  addons: ColumnType<string[], string[] | undefined, string[]>;
  status: Generated<"active" | "suspended">;
  locale: Generated<string>;
  time_zone: Generated<string>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface OperatorsTable {
  id: string;
  email: string;
  name: Generated<string>;
  password_hash: string | null;
  locale: string | null;
  time_zone: string | null;
  created_at: Timestamp;
  last_login_at: NullableTimestamp;
}

export interface UsersTable {
  tenant_id: string;
  id: string;
  email: string;
  name: Generated<string>;
  role: "admin" | "user";
  password_hash: string | null;
  locale: string | null;
  time_zone: string | null;
  disabled_at: NullableTimestamp;
  created_at: Timestamp;
  last_login_at: NullableTimestamp;
}

export interface SessionsTable {
  id: string;
  tenant_id: string | null;
  user_id: string | null;
  operator_id: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  ip: string | null;
  user_agent: string | null;
}

export interface LoginTokensTable {
  id: string;
  purpose: "login" | "setup";
  tenant_id: string | null;
  user_id: string | null;
  operator_id: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
}

export interface LoginFailuresTable {
  key: string;
  at: Timestamp;
}

export interface ApiKeysTable {
  tenant_id: string;
  id: string;
  name: string;
  prefix: string;
  key_hash: string;
  scopes: ColumnType<string[], string[] | undefined, string[]>;
  created_by: string | null;
  created_at: Timestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export interface OperatorApiKeysTable {
  id: string;
  operator_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  created_at: Timestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export interface IdempotencyKeysTable {
  owner_id: string;
  key: string;
  method: string;
  path: string;
  request_hash: string;
  status: number | null;
  response_body: string | null;
  created_at: Timestamp;
}

export interface AuditLogTable {
  tenant_id: string;
  id: string;
  actor: string;
  action: string;
  target: string | null;
  details: ColumnType<Record<string, unknown>, string | undefined, string>;
  at: Timestamp;
}

export interface DB {
  tenants: TenantsTable;
  operators: OperatorsTable;
  users: UsersTable;
  sessions: SessionsTable;
  login_tokens: LoginTokensTable;
  login_failures: LoginFailuresTable;
  api_keys: ApiKeysTable;
  operator_api_keys: OperatorApiKeysTable;
  idempotency_keys: IdempotencyKeysTable;
  audit_log: AuditLogTable;
}
