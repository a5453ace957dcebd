-- Bounces and complaints: every delivery failure and spam report that comes back, the tenant's
-- bounce policy, and per-send counters the statistics read without scanning the bounce rows.

create table bounces (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  -- The message it is about (send_queue row), when known; null for an unmatched report.
  queue_id uuid,
  send_id uuid,
  person_id uuid,
  address text not null,
  -- Lower-cased address, as person_addresses.address_key: the policy counts per address.
  address_key text not null,
  -- policy: blocked for spam, reputation or authentication, not an invalid mailbox.
  kind text not null check (kind in ('hard', 'soft', 'policy', 'complaint')),
  -- Enhanced status code (RFC 3463), e.g. 5.1.1; null when the report had none.
  status text check (status ~ '^[245]\.\d{1,3}\.\d{1,3}$'),
  -- Our taxonomy (core/feedback/classify.ts): unknown_user, no_domain, mailbox_full, …
  reason text not null,
  diagnostic text not null default '' check (length(diagnostic) <= 1000),
  source text not null check (source in ('async_dsn', 'sync', 'arf')),
  -- The reporting MTA (DSN Reporting-MTA, the ARF reporter, or the host that replied 5xx).
  reporter text check (length(reporter) <= 255),
  created_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
-- The soft-bounce window counts per address and time.
create index bounces_address on bounces (tenant_id, address_key, created_at);
create index bounces_send on bounces (tenant_id, send_id) where send_id is not null;
-- One bounce of a kind per message: a DSN that arrives twice, or a sync 5xx followed by the
-- relay's DSN for the same message, counts once.
create unique index bounces_once on bounces (tenant_id, queue_id, kind) where queue_id is not null;

-- Per tenant: how many soft bounces within how many days make an address undeliverable.
-- No row means the defaults (3 within 30 days); one hard bounce always does.
create table bounce_policies (
  tenant_id uuid primary key references tenants (id),
  soft_threshold integer not null default 3 check (soft_threshold between 1 and 100),
  soft_window_days integer not null default 30 check (soft_window_days between 1 and 365),
  updated_at timestamptz not null default now(),
  updated_by text
);

-- Counters per send, kept by recordBounces in the same transaction as the bounce rows.
-- bounced_policy > 0 is the flag on a mailing that was blocked somewhere for policy/reputation.
alter table sends add column bounced_hard integer not null default 0;
alter table sends add column bounced_soft integer not null default 0;
alter table sends add column bounced_policy integer not null default 0;
alter table sends add column complaints integer not null default 0;

-- The undeliverable export walks only flagged addresses, in id order.
create index person_addresses_undeliverable on person_addresses (tenant_id, id)
  where undeliverable_at is not null;
