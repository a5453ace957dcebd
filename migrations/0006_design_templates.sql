-- Design templates (the customer's brand, in MJML), their immutable versions, and the tenant's
-- sender identities (the From names and addresses staff may send as).

create table design_templates (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null,
  -- The design a mailing gets when it names none. At most one per tenant (index below).
  is_default boolean not null default false,
  -- The version new mailings use; older versions stay for mailings that used them.
  current_version_id uuid,
  created_by text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  archived_at timestamptz,
  primary key (tenant_id, id)
);
create unique index design_templates_one_default on design_templates (tenant_id)
  where is_default and archived_at is null;
create unique index design_templates_name on design_templates (tenant_id, lower(name))
  where archived_at is null;

-- Never updated: editing a design inserts a new version, so a sent mailing keeps the exact
-- design it went out with by keeping the version id.
create table design_template_versions (
  tenant_id uuid not null,
  id uuid not null,
  template_id uuid not null,
  version integer not null,
  mjml text not null,
  -- sha-256 of the MJML source: the key of the compile cache.
  content_hash text not null,
  created_by text,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  unique (tenant_id, template_id, version),
  foreign key (tenant_id, template_id) references design_templates (tenant_id, id)
);

create table sender_identities (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null,
  address text not null,
  -- Set when an admin of the tenant confirms the address is theirs; only verified senders
  -- can be chosen for a mailing.
  verified_at timestamptz,
  verified_by text,
  created_by text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
create unique index sender_identities_address on sender_identities (tenant_id, lower(address));
