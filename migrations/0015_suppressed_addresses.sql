-- Bounce suppression for addresses that belong to no person of the tenant (a shop customer's
-- order confirmation): the same block as person_addresses.undeliverable_at, kept per address
-- key, until an administrator clears it. Written by recordBounces in the bounce's transaction.

create table suppressed_addresses (
  tenant_id uuid not null references tenants (id),
  -- The normalised key (core/people/address.ts normalizeAddress), as person_addresses.address_key.
  address_key text not null,
  -- Time-ordered: the undeliverable list pages by id across both kinds of address.
  id uuid not null,
  -- The address as the bounced message had it.
  address text not null,
  -- As person_addresses.undeliverable_reason, e.g. "hard: unknown_user (5.1.1)".
  reason text not null check (length(reason) <= 500),
  -- The remote server's reply or the DSN's Diagnostic-Code.
  reply text not null default '' check (length(reply) <= 1000),
  -- Null once cleared; a later bounce sets it again.
  suppressed_at timestamptz,
  cleared_at timestamptz,
  cleared_by text,
  created_at timestamptz not null default now(),
  primary key (tenant_id, address_key),
  unique (tenant_id, id)
);
-- The undeliverable list and export walk only blocked addresses, in id order.
create index suppressed_addresses_active on suppressed_addresses (tenant_id, id)
  where suppressed_at is not null;
