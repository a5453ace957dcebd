-- The send pipeline: sends (a dispatch of content to an audience), the durable queue that every
-- message passes through, and the local mailbox of the `capture` delivery target.

create table sends (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  -- mass: a mailing to segments/lists; single: staff mail to one person or address;
  -- transactional: integrators' API/SMTP mail (its own stream, always ahead of mass mail).
  kind text not null check (kind in ('mass', 'single', 'transactional')),
  status text not null default 'draft'
    check (status in ('draft', 'expanding', 'sending', 'paused', 'cancelled', 'done', 'failed')),
  -- Frozen at queue time, so editing the mailing afterwards cannot change what is in flight.
  content jsonb not null,
  -- {segments: [], lists: [], persons: [], addresses: [], exclude_segments: []}
  audience jsonb not null default '{}',
  total integer not null default 0,
  sent integer not null default 0,
  failed integer not null default 0,
  deferred integer not null default 0,
  -- Excluded recipients counted by reason (undeliverable, unsubscribed, inactive, no_address…).
  excluded jsonb not null default '{}',
  error text,
  created_by text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  primary key (tenant_id, id)
);
create index sends_active on sends (status) where status in ('sending', 'expanding');

-- One row per message. Workers claim ready rows in batches (FOR UPDATE SKIP LOCKED) under a
-- lease; an expired lease makes a row ready again. Rows are kept after delivery for statistics
-- and pruned by age.
create table send_queue (
  tenant_id uuid not null,
  send_id uuid not null,
  id uuid not null,
  -- 0 = transactional, 1 = single, 2 = mass: lower goes first.
  priority smallint not null,
  person_id uuid,
  address text not null,
  -- Lower-cased domain of the address: routing and per-domain rate limits.
  domain text not null,
  -- Per-message data for transactional mail (merge values, headers); null for mass mail.
  data jsonb,
  status text not null default 'queued'
    -- held: the send is paused; cancelled: the send was cancelled before this was sent.
    check (status in ('queued', 'leased', 'held', 'sent', 'failed', 'cancelled')),
  attempts smallint not null default 0,
  ready_at timestamptz not null default now(),
  lease_until timestamptz,
  leased_by text,
  message_id text,
  last_reply text,
  sent_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, send_id) references sends (tenant_id, id) on delete cascade
);
-- Expired leases are found through this one.
create index send_queue_leased on send_queue (lease_until) where status = 'leased';
create index send_queue_send on send_queue (tenant_id, send_id, status);
-- Claiming per send (fair sharing between sends and tenants) walks this one.
create index send_queue_send_ready on send_queue (tenant_id, send_id, ready_at)
  where status = 'queued';
-- A person appears once per send, however many segments reach them.
create unique index send_queue_once on send_queue (tenant_id, send_id, person_id)
  where person_id is not null;

-- The `capture` delivery target: mail stays here, viewable in the staff UI.
create table captured_mail (
  tenant_id uuid not null,
  id uuid not null,
  send_id uuid,
  queue_id uuid,
  mail_from text not null,
  rcpt_to text not null,
  subject text not null default '',
  raw text not null,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
create index captured_mail_recent on captured_mail (tenant_id, id desc);
