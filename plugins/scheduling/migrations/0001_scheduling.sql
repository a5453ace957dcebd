-- Scheduled sends of mailings (Advanced tier). One row per time a mailing was scheduled; a
-- reschedule moves due_at of the active row. The scheduler in the worker role claims due rows
-- (status scheduled → starting, under a lease) and starts the mailing's send exactly once.
create table scheduled_mailings (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  mailing_id uuid not null,
  due_at timestamptz not null,
  -- The wall-clock time and zone it was asked for, shown back as entered.
  local_time text not null,
  time_zone text not null,
  status text not null default 'scheduled'
    check (status in ('scheduled', 'starting', 'started', 'cancelled', 'failed')),
  -- A claim: which scheduler holds the row until when. A scheduler that died mid-start leaves
  -- the lease to run out, then another claims the row again (the start is idempotent).
  claimed_by text,
  lease_until timestamptz,
  attempts integer not null default 0,
  send_id uuid,
  error text,
  created_by text not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  started_at timestamptz,
  primary key (tenant_id, id),
  foreign key (tenant_id, mailing_id) references mailings (tenant_id, id) on delete cascade
);
-- At most one live schedule per mailing.
create unique index scheduled_mailings_live on scheduled_mailings (tenant_id, mailing_id)
  where status in ('scheduled', 'starting');
create index scheduled_mailings_by_mailing on scheduled_mailings (tenant_id, mailing_id, id);
create index scheduled_mailings_upcoming on scheduled_mailings (tenant_id, due_at)
  where status in ('scheduled', 'starting');
-- The scheduler looks across tenants for what is due (one scheduler serves every tenant).
create index scheduled_mailings_due on scheduled_mailings (due_at) where status = 'scheduled';
create index scheduled_mailings_lease on scheduled_mailings (lease_until)
  where status = 'starting';
