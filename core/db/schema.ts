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
  details: ColumnType<
    Record<string, unknown>,
    Record<string, unknown> | undefined,
    Record<string, unknown>
  >;
  at: Timestamp;
}

export type PersonStatus = "active" | "deleted" | "deceased" | "purged";
/** jsonb: write with jsonb() from db/json.ts, never a JSON string (see there). */
type Json<T> = ColumnType<T, T, T>;

export interface PersonsTable {
  tenant_id: string;
  id: string;
  first_name: Generated<string>;
  last_name: Generated<string>;
  organisation: Generated<string>;
  title: Generated<string>;
  language: string | null;
  custom: ColumnType<
    Record<string, unknown>,
    Record<string, unknown> | undefined,
    Record<string, unknown>
  >;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  status: Generated<PersonStatus>;
  status_changed_at: NullableTimestamp;
  status_changed_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface PersonAddressesTable {
  tenant_id: string;
  id: string;
  person_id: string;
  address: string;
  address_key: string;
  is_primary: Generated<boolean>;
  type: string | null;
  undeliverable_at: NullableTimestamp;
  undeliverable_reason: string | null;
  cleared_at: NullableTimestamp;
  cleared_by: string | null;
  created_at: Timestamp;
}

export interface CustomFieldsTable {
  tenant_id: string;
  key: string;
  label: string;
  type: "text" | "number" | "date" | "boolean";
  created_at: Timestamp;
}

export interface ListsTable {
  tenant_id: string;
  id: string;
  name: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ListMembersTable {
  tenant_id: string;
  list_id: string;
  person_id: string;
  added_at: Timestamp;
}

export interface SegmentsTable {
  tenant_id: string;
  id: string;
  name: string;
  definition: Json<unknown>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ContactNotesTable {
  tenant_id: string;
  id: string;
  person_id: string;
  kind: "manual" | "mailing" | "system";
  body: Generated<string>;
  author: string | null;
  mailing_id: string | null;
  subject: string | null;
  delivered_at: NullableTimestamp;
  opened_at: NullableTimestamp;
  clicked_at: NullableTimestamp;
  bounced_at: NullableTimestamp;
  unsubscribed_at: NullableTimestamp;
  /** Migration 0010: the automatic note's other stamps and bounded details. */
  sent_at: NullableTimestamp;
  complained_at: NullableTimestamp;
  details: ColumnType<string[], string[] | undefined, string[]>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type UnsubscribeSource = "one_click" | "link" | "mailto" | "complaint" | "staff" | "api";

export interface UnsubscribesTable {
  tenant_id: string;
  id: string;
  person_id: string | null;
  address: string | null;
  subscription_type_id: string | null;
  source: UnsubscribeSource;
  send_id: string | null;
  queue_id: string | null;
  created_at: Timestamp;
  resubscribed_at: NullableTimestamp;
  resubscribed_by: string | null;
  note: string | null;
}

export interface ImportMappingsTable {
  tenant_id: string;
  mapping: Json<unknown>;
  updated_at: Timestamp;
}

export type ImportStatus = "uploaded" | "checking" | "checked" | "running" | "done" | "failed";
export type ImportMode = "overwrite_primary" | "add_additional";

export interface ImportsTable {
  tenant_id: string;
  id: string;
  filename: string;
  size_bytes: Generated<number>;
  status: Generated<ImportStatus>;
  mode: Generated<ImportMode>;
  mapping: Json<unknown> | null;
  encoding: string | null;
  delimiter: string | null;
  headers: string[] | null;
  rows_total: number | null;
  rows_done: Generated<number>;
  report: Json<unknown> | null;
  error: string | null;
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ImportChunksTable {
  tenant_id: string;
  import_id: string;
  seq: number;
  data: Uint8Array;
}

export type SendKind = "mass" | "single" | "transactional";
export type SendStatus =
  | "draft"
  | "expanding"
  | "sending"
  | "paused"
  | "cancelled"
  | "done"
  | "failed";
export type QueueStatus = "queued" | "leased" | "held" | "sent" | "failed" | "cancelled";

export interface SendsTable {
  tenant_id: string;
  id: string;
  kind: SendKind;
  status: Generated<SendStatus>;
  content: Json<unknown>;
  audience: Json<unknown>;
  total: Generated<number>;
  sent: Generated<number>;
  failed: Generated<number>;
  deferred: Generated<number>;
  excluded: ColumnType<
    Record<string, number>,
    Record<string, number> | undefined,
    Record<string, number>
  >;
  error: string | null;
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  /** A test send to staff (migration 0007): never counted in statistics. */
  is_test: Generated<boolean>;
  mailing_id: string | null;
  /** Bounce and complaint counters (migration 0011, kept by core/feedback/bounces.ts). */
  bounced_hard: Generated<number>;
  bounced_soft: Generated<number>;
  bounced_policy: Generated<number>;
  complaints: Generated<number>;
  /** Tracking counters (migration 0009, kept by core/feedback/events.ts): human vs machine. */
  opens: Generated<number>;
  clicks: Generated<number>;
  unique_opens: Generated<number>;
  unique_clicks: Generated<number>;
  machine_opens: Generated<number>;
  machine_clicks: Generated<number>;
  /** A transactional stream's name (migration 0012): its long-lived send, never finished. */
  stream: string | null;
}

export interface SendQueueTable {
  tenant_id: string;
  send_id: string;
  id: string;
  priority: number;
  person_id: string | null;
  address: string;
  domain: string;
  data: Json<unknown> | null;
  status: Generated<QueueStatus>;
  attempts: Generated<number>;
  ready_at: Timestamp;
  lease_until: NullableTimestamp;
  leased_by: string | null;
  message_id: string | null;
  last_reply: string | null;
  sent_at: NullableTimestamp;
  created_at: Timestamp;
  /** First human open and click (migration 0009). */
  opened_at: NullableTimestamp;
  clicked_at: NullableTimestamp;
}

export interface TrackingEventsTable {
  tenant_id: string;
  id: string;
  queue_id: string;
  send_id: string;
  person_id: string | null;
  kind: "open" | "click";
  link: number | null;
  url: string | null;
  user_agent: string | null;
  ip: string | null;
  machine: Generated<boolean>;
  machine_reason: string | null;
  created_at: Timestamp;
}

export interface CapturedMailTable {
  tenant_id: string;
  id: string;
  send_id: string | null;
  queue_id: string | null;
  mail_from: string;
  rcpt_to: string;
  subject: Generated<string>;
  raw: string;
  created_at: Timestamp;
}

export type MailingStatus = "draft" | "scheduled" | "sending" | "sent" | "cancelled";

export interface MailingsTable {
  tenant_id: string;
  id: string;
  status: Generated<MailingStatus>;
  version: Generated<number>;
  from_identity_id: string | null;
  from_name: Generated<string>;
  from_address: Generated<string>;
  reply_to: string | null;
  subject: Generated<string>;
  preheader: Generated<string>;
  body_html: Generated<string>;
  design_template_version_id: string | null;
  recipients: Json<unknown>;
  content_template_id: string | null;
  subscription_type_id: string | null;
  send_id: string | null;
  copied_from: string | null;
  created_by: string | null;
  updated_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  sent_at: NullableTimestamp;
}

export interface MailingAttachmentsTable {
  tenant_id: string;
  id: string;
  mailing_id: string;
  filename: string;
  content_type: string;
  size: number;
  sha256: string;
  data: Uint8Array;
  created_at: Timestamp;
}

export interface SubscriptionTypesTable {
  tenant_id: string;
  id: string;
  name: string;
  created_at: Timestamp;
}

export interface DesignTemplatesTable {
  tenant_id: string;
  id: string;
  name: string;
  is_default: Generated<boolean>;
  current_version_id: string | null;
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  archived_at: NullableTimestamp;
}

export interface DesignTemplateVersionsTable {
  tenant_id: string;
  id: string;
  template_id: string;
  version: number;
  mjml: string;
  content_hash: string;
  created_by: string | null;
  created_at: Timestamp;
}

export interface SenderIdentitiesTable {
  tenant_id: string;
  id: string;
  name: string;
  address: string;
  verified_at: NullableTimestamp;
  verified_by: string | null;
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface DkimKeysTable {
  tenant_id: string;
  id: string;
  domain: string;
  selector: string;
  algorithm: "rsa" | "ed25519";
  private_key_enc: string;
  dns_txt_value: string;
  active: Generated<boolean>;
  created_at: Timestamp;
}

export type BounceKind = "hard" | "soft" | "policy" | "complaint";

export interface BouncesTable {
  tenant_id: string;
  id: string;
  queue_id: string | null;
  send_id: string | null;
  person_id: string | null;
  address: string;
  address_key: string;
  kind: BounceKind;
  status: string | null;
  reason: string;
  diagnostic: Generated<string>;
  source: "async_dsn" | "sync" | "arf";
  reporter: string | null;
  created_at: Timestamp;
}

export interface SuppressedAddressesTable {
  tenant_id: string;
  address_key: string;
  id: string;
  address: string;
  reason: string;
  reply: Generated<string>;
  suppressed_at: NullableTimestamp;
  cleared_at: NullableTimestamp;
  cleared_by: string | null;
  created_at: Timestamp;
}

export interface BouncePoliciesTable {
  tenant_id: string;
  soft_threshold: Generated<number>;
  soft_window_days: Generated<number>;
  updated_at: Timestamp;
  updated_by: string | null;
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
  persons: PersonsTable;
  person_addresses: PersonAddressesTable;
  custom_fields: CustomFieldsTable;
  lists: ListsTable;
  list_members: ListMembersTable;
  segments: SegmentsTable;
  contact_notes: ContactNotesTable;
  unsubscribes: UnsubscribesTable;
  import_mappings: ImportMappingsTable;
  imports: ImportsTable;
  import_chunks: ImportChunksTable;
  sends: SendsTable;
  send_queue: SendQueueTable;
  bounces: BouncesTable;
  bounce_policies: BouncePoliciesTable;
  suppressed_addresses: SuppressedAddressesTable;
  captured_mail: CapturedMailTable;
  dkim_keys: DkimKeysTable;
  tracking_events: TrackingEventsTable;
  design_templates: DesignTemplatesTable;
  design_template_versions: DesignTemplateVersionsTable;
  sender_identities: SenderIdentitiesTable;
  mailings: MailingsTable;
  mailing_attachments: MailingAttachmentsTable;
  subscription_types: SubscriptionTypesTable;
}
