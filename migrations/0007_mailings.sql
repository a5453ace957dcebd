-- Mailings: what staff compose (drafts, copies, recipients, attachments) before it is frozen into
-- a send; subscription types that recipients can leave one by one; sends marked as tests.

create table subscription_types (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
create unique index subscription_types_name on subscription_types (tenant_id, lower(name));

create table mailings (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  -- draft → (scheduled) → sending → sent; draft/scheduled/sending → cancelled.
  status text not null default 'draft'
    check (status in ('draft', 'scheduled', 'sending', 'sent', 'cancelled')),
  -- Bumped on every change: an autosave names the version it edited, so two tabs cannot
  -- silently overwrite each other.
  version integer not null default 1,
  -- The sender identity chosen, and a snapshot of its name and address at that moment.
  from_identity_id uuid,
  from_name text not null default '',
  from_address text not null default '',
  reply_to text,
  subject text not null default '',
  preheader text not null default '',
  body_html text not null default '',
  design_template_version_id uuid,
  -- {persons: [], addresses: [], segments: [], lists: [], exclude_segments: []} (queue Audience)
  recipients jsonb not null default '{}',
  content_template_id uuid,
  subscription_type_id uuid,
  send_id uuid,
  copied_from uuid,
  created_by text,
  updated_by text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sent_at timestamptz,
  primary key (tenant_id, id)
);
create index mailings_status on mailings (tenant_id, status, id);
create index mailings_send on mailings (tenant_id, send_id) where send_id is not null;

-- Bytes stay in the database: one durable store on PGlite and PostgreSQL alike, and a send
-- references attachments by id (loaded once per send, not per message).
create table mailing_attachments (
  tenant_id uuid not null,
  id uuid not null,
  mailing_id uuid not null,
  filename text not null,
  -- Sniffed from the first bytes, never taken from the client.
  content_type text not null,
  size integer not null,
  sha256 text not null,
  data bytea not null,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, mailing_id) references mailings (tenant_id, id) on delete cascade
);
create index mailing_attachments_mailing on mailing_attachments (tenant_id, mailing_id);

-- Test sends go to staff, never into statistics; mailing_id links a send back to its mailing.
alter table sends add column is_test boolean not null default false;
alter table sends add column mailing_id uuid;
create index sends_mailing on sends (tenant_id, mailing_id) where mailing_id is not null;
