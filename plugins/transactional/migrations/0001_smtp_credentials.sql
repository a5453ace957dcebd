-- SMTP submission credentials (transactional add-on): a username and a secret per credential,
-- created by a tenant admin, the secret shown once and stored only as its SHA-256 (it is 32
-- random bytes, so a slow hash would add nothing but latency to every AUTH).
create table smtp_credentials (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null check (length(name) between 1 and 100),
  -- AUTH names only the username, so it is unique across tenants (like api_keys.prefix).
  username text not null unique,
  secret_hash text not null,
  created_by uuid,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz,
  primary key (tenant_id, id)
);
