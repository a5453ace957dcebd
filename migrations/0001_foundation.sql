-- Foundation: tenants, operators, staff users, sessions, API keys, idempotency, audit.

-- Time-ordered ids for set-based inserts (INSERT … SELECT); the app makes the same kind in TS.
create or replace function skicka_uuidv7() returns uuid language plpgsql volatile as $$
declare
  b bytea := uuid_send(gen_random_uuid());
  ms bigint := floor(extract(epoch from clock_timestamp()) * 1000);
begin
  b := overlay(b placing substring(int8send(ms) from 3) from 1 for 6);
  b := set_byte(b, 6, (get_byte(b, 6) & 15) | 112);
  return encode(b, 'hex')::uuid;
end $$;

create table tenants (
  id uuid primary key,
  slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  name text not null check (length(name) between 1 and 200),
  tier text not null check (tier in ('light', 'standard', 'advanced')),
  addons text[] not null default '{}',
  status text not null default 'active' check (status in ('active', 'suspended')),
  locale text not null default 'en',
  time_zone text not null default 'Europe/Stockholm',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table operators (
  id uuid primary key,
  email text not null,
  name text not null default '',
  password_hash text,
  locale text,
  time_zone text,
  created_at timestamptz not null default now(),
  last_login_at timestamptz
);
create unique index operators_email on operators (lower(email));

create table users (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  email text not null,
  name text not null default '',
  role text not null check (role in ('admin', 'user')),
  password_hash text,
  locale text,
  time_zone text,
  disabled_at timestamptz,
  created_at timestamptz not null default now(),
  last_login_at timestamptz,
  primary key (tenant_id, id)
);
create unique index users_tenant_email on users (tenant_id, lower(email));
-- Login looks a user up by email before the tenant is known.
create index users_email on users (lower(email));

-- Token hashes only: a leaked table does not log anyone in.
create table sessions (
  id text primary key,
  tenant_id uuid,
  user_id uuid,
  operator_id uuid references operators (id) on delete cascade,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  ip text,
  user_agent text,
  check ((operator_id is null) <> (user_id is null and tenant_id is null)),
  foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);
create index sessions_expires on sessions (expires_at);

-- One-time links: the first operator login, password set-up for invited users.
create table login_tokens (
  id text primary key,
  purpose text not null check (purpose in ('login', 'setup')),
  tenant_id uuid,
  user_id uuid,
  operator_id uuid references operators (id) on delete cascade,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz,
  check ((operator_id is null) <> (user_id is null and tenant_id is null)),
  foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);

create table login_failures (
  key text not null,
  at timestamptz not null
);
create index login_failures_key_at on login_failures (key, at);

create table api_keys (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null check (length(name) between 1 and 100),
  -- The public part of the key, used to find it; the secret part is only stored hashed.
  prefix text not null unique,
  key_hash text not null,
  scopes text[] not null default '{}',
  created_by uuid,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz,
  primary key (tenant_id, id)
);

-- owner_id is the tenant, or the operator for platform calls (creating tenants).
-- Operators script provisioning through the API with keys of their own.
create table operator_api_keys (
  id uuid primary key,
  operator_id uuid not null references operators (id) on delete cascade,
  name text not null check (length(name) between 1 and 100),
  prefix text not null unique,
  key_hash text not null,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

create table idempotency_keys (
  owner_id uuid not null,
  key text not null,
  method text not null,
  path text not null,
  request_hash text not null,
  status integer,
  response_body text,
  created_at timestamptz not null default now(),
  primary key (owner_id, key)
);
create index idempotency_keys_created on idempotency_keys (created_at);

create table audit_log (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  actor text not null,
  action text not null,
  target text,
  details jsonb not null default '{}',
  at timestamptz not null default now(),
  primary key (tenant_id, id)
);
