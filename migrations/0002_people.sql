-- People: the CRM every send reads from. Persons, their unique addresses, custom fields, lists,
-- segments, contact notes and imports. Every table leads with tenant_id (see ARCHITECTURE.md).

-- Trigram indexes make "search by any part of a name" fast on a million persons.
create extension if not exists pg_trgm;

create table persons (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  first_name text not null default '',
  last_name text not null default '',
  organisation text not null default '',
  title text not null default '',
  language text check (language in ('en', 'sv', 'fi', 'da')),
  custom jsonb not null default '{}',
  tags text[] not null default '{}',
  -- active | deleted (soft, undoable) | deceased (no addresses, history kept) | purged (GDPR stub)
  status text not null default 'active'
    check (status in ('active', 'deleted', 'deceased', 'purged')),
  status_changed_at timestamptz,
  status_changed_by text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
create index persons_name_trgm on persons
  using gin ((lower(first_name || ' ' || last_name)) gin_trgm_ops);
create index persons_org on persons (tenant_id, lower(organisation));
create index persons_tags on persons using gin (tags);

create table person_addresses (
  tenant_id uuid not null,
  id uuid not null,
  person_id uuid not null,
  -- As stored and sent: trimmed, domain lower-cased and in punycode, local part as written.
  address text not null,
  -- For uniqueness and matching: the whole address lower-cased.
  address_key text not null,
  is_primary boolean not null default false,
  -- Typed addresses (work, private, student) come with an add-on; null means untyped.
  type text,
  undeliverable_at timestamptz,
  undeliverable_reason text,
  cleared_at timestamptz,
  cleared_by text,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, person_id) references persons (tenant_id, id) on delete cascade
);
-- Unique within the tenant, across all persons (soft-deleted ones too: undo must be able to
-- restore them, and a new owner takes the address over explicitly).
create unique index person_addresses_key on person_addresses (tenant_id, address_key);
create unique index person_addresses_one_primary on person_addresses (tenant_id, person_id)
  where is_primary;
create index person_addresses_person on person_addresses (tenant_id, person_id);
create index person_addresses_key_prefix on person_addresses (tenant_id, address_key text_pattern_ops);

create table custom_fields (
  tenant_id uuid not null references tenants (id),
  key text not null check (key ~ '^[a-z][a-z0-9_]{0,39}$'),
  label text not null,
  type text not null check (type in ('text', 'number', 'date', 'boolean')),
  created_at timestamptz not null default now(),
  primary key (tenant_id, key)
);

create table lists (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null check (length(name) between 1 and 200),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
create unique index lists_name on lists (tenant_id, lower(name));

create table list_members (
  tenant_id uuid not null,
  list_id uuid not null,
  person_id uuid not null,
  added_at timestamptz not null default now(),
  primary key (tenant_id, list_id, person_id),
  foreign key (tenant_id, list_id) references lists (tenant_id, id) on delete cascade,
  foreign key (tenant_id, person_id) references persons (tenant_id, id) on delete cascade
);
create index list_members_person on list_members (tenant_id, person_id);

create table segments (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null check (length(name) between 1 and 200),
  -- A condition tree (core/people/segments.ts), validated before it is stored.
  definition jsonb not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
create unique index segments_name on segments (tenant_id, lower(name));

-- The person's timeline: manual notes by staff and one automatic note per mailing received,
-- updated as feedback arrives (delivered, opened, clicked, bounced, unsubscribed).
create table contact_notes (
  tenant_id uuid not null,
  id uuid not null,
  person_id uuid not null,
  kind text not null check (kind in ('manual', 'mailing', 'system')),
  body text not null default '',
  author text,
  mailing_id uuid,
  subject text,
  delivered_at timestamptz,
  opened_at timestamptz,
  clicked_at timestamptz,
  bounced_at timestamptz,
  unsubscribed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, person_id) references persons (tenant_id, id) on delete cascade
);
create index contact_notes_person on contact_notes (tenant_id, person_id, id desc);
create unique index contact_notes_mailing on contact_notes (tenant_id, mailing_id, person_id)
  where mailing_id is not null;

-- CSV imports: the file is kept in the database (chunks), so any API or worker process can run
-- the dry run and the real run; the column mapping is remembered per tenant.
create table import_mappings (
  tenant_id uuid primary key references tenants (id),
  mapping jsonb not null,
  updated_at timestamptz not null default now()
);

create table imports (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  filename text not null,
  size_bytes bigint not null default 0,
  status text not null default 'uploaded'
    check (status in ('uploaded', 'checking', 'checked', 'running', 'done', 'failed')),
  mode text not null default 'add_additional'
    check (mode in ('overwrite_primary', 'add_additional')),
  mapping jsonb,
  encoding text,
  delimiter text,
  headers text[],
  rows_total integer,
  rows_done integer not null default 0,
  report jsonb,
  error text,
  created_by text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id)
);

create table import_chunks (
  tenant_id uuid not null,
  import_id uuid not null,
  seq integer not null,
  data bytea not null,
  primary key (tenant_id, import_id, seq),
  foreign key (tenant_id, import_id) references imports (tenant_id, id) on delete cascade
);
