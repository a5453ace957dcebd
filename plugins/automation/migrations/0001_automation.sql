-- Automation (Advanced tier): recurring sends to dynamic segments, sends triggered by a person
-- joining a list, waiting periods per mailing, and samples.

-- A rule sends one mailing (used as a template: the mailing itself stays a draft) either on a
-- weekly timetable (kind 'recurring') or to each person added to a list (kind 'trigger').
create table automation_rules (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  kind text not null check (kind in ('recurring', 'trigger')),
  name text not null,
  mailing_id uuid not null,
  -- The stop switch: an inactive rule never runs again until switched back on.
  active boolean not null default true,
  -- Recurring: segments (re-evaluated at every run), ISO weekdays 1 (Monday)–7, local times
  -- 'HH:MM' in time_zone, and how long before each occurrence the audience is taken.
  segment_ids uuid[] not null default '{}',
  exclude_segment_ids uuid[] not null default '{}',
  weekdays smallint[] not null default '{}',
  times text[] not null default '{}',
  time_zone text not null default 'UTC',
  lead_minutes integer not null default 0 check (lead_minutes between 0 and 1440),
  -- The next occurrence not yet claimed (null while inactive or for triggers).
  next_run_at timestamptz,
  -- Trigger: the list to watch; members added before active_since get nothing.
  list_id uuid,
  active_since timestamptz,
  -- How far the worker's sweep of list_members has got (a safety net for lost hook calls).
  swept_until timestamptz,
  -- Sampling: {"mode":"random"|"systematic","count"?,"percent"?,"every"?,"start"?}.
  sample jsonb,
  created_by text not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, id),
  foreign key (tenant_id, mailing_id) references mailings (tenant_id, id) on delete cascade,
  foreign key (tenant_id, list_id) references lists (tenant_id, id) on delete cascade
);
-- What the scheduler looks for: recurring rules coming due, over all tenants.
create index automation_rules_due on automation_rules (next_run_at)
  where active and kind = 'recurring';
-- What the list hook looks for: active triggers on a list.
create index automation_rules_list on automation_rules (tenant_id, list_id)
  where active and kind = 'trigger';

-- One row per occurrence of a recurring rule, claimed by exactly one scheduler: the unique key
-- is what makes a run start once however many worker processes race for it.
create table automation_runs (
  tenant_id uuid not null,
  id uuid not null,
  rule_id uuid not null,
  occurrence_at timestamptz not null,
  -- claimed → started (send created) → sent; or skipped / failed with a reason.
  status text not null check (status in ('claimed', 'started', 'sent', 'skipped', 'failed')),
  send_id uuid,
  seed text,
  reason text,
  total integer,
  excluded jsonb,
  claimed_by text not null,
  claimed_at timestamptz not null,
  finished_at timestamptz,
  primary key (tenant_id, id),
  unique (tenant_id, rule_id, occurrence_at),
  foreign key (tenant_id, rule_id) references automation_rules (tenant_id, id) on delete cascade
);
create index automation_runs_rule on automation_runs (tenant_id, rule_id, occurrence_at desc);
-- Runs a crashed scheduler left unfinished, picked up again after their claim lapses.
create index automation_runs_open on automation_runs (claimed_at)
  where status in ('claimed', 'started');

-- One row per (trigger, person, membership): written by the list hook (and by the worker's
-- sweep of list_members, should the hook's process have died), sent by the worker. The unique
-- key keeps one membership from being mailed twice.
create table automation_trigger_events (
  tenant_id uuid not null,
  id uuid not null,
  rule_id uuid not null,
  person_id uuid not null,
  added_at timestamptz not null,
  status text not null default 'pending' check (status in ('pending', 'sent', 'failed')),
  send_id uuid,
  reason text,
  created_at timestamptz not null,
  processed_at timestamptz,
  primary key (tenant_id, id),
  unique (tenant_id, rule_id, person_id, added_at),
  foreign key (tenant_id, rule_id) references automation_rules (tenant_id, id) on delete cascade
);
create index automation_trigger_events_pending on automation_trigger_events (created_at)
  where status = 'pending';
create index automation_trigger_events_rule on automation_trigger_events
  (tenant_id, rule_id, created_at desc);

-- The waiting period of a mailing: nobody gets it twice within `days`, whichever rule sends it.
create table automation_waiting_periods (
  tenant_id uuid not null,
  mailing_id uuid not null,
  days integer not null check (days between 1 and 3650),
  updated_by text not null,
  updated_at timestamptz not null,
  primary key (tenant_id, mailing_id),
  foreign key (tenant_id, mailing_id) references mailings (tenant_id, id) on delete cascade
);

-- The list sweep reads members by time added; the core's key is (list, person).
create index automation_list_members_added on list_members (tenant_id, list_id, added_at);
