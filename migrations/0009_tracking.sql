-- Open and click tracking: one row per pixel load or click (humans and machines both kept,
-- machines flagged with the rule that caught them), the first human open/click per message on
-- its queue row, and counters per send kept current by the batched recorder
-- (core/feedback/events.ts).

create table tracking_events (
  tenant_id uuid not null,
  id uuid not null,
  queue_id uuid not null,
  send_id uuid not null,
  person_id uuid,
  kind text not null check (kind in ('open', 'click')),
  -- The link's position among the mailing's tracked links (clicks only).
  link smallint,
  url text,
  user_agent text,
  -- Truncated on purpose (GDPR): IPv4 to its /24, IPv6 to its /48. Detection uses the full
  -- address in memory; it is never stored.
  ip text,
  machine boolean not null default false,
  -- Which rule flagged the event (core/feedback/machine.ts), null for people.
  machine_reason text,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
-- Per-send statistics (opens and clicks over time, human vs machine, per link).
create index tracking_events_send on tracking_events (tenant_id, send_id, kind, created_at);
-- A message's own events: "clicked without an open", contact notes.
create index tracking_events_queue on tracking_events (tenant_id, queue_id);

-- The first human open and click of each message: unique counts without scanning events.
alter table send_queue add column opened_at timestamptz;
alter table send_queue add column clicked_at timestamptz;

-- Counters per send, human and machine apart. opens/clicks count human events; unique_* count
-- messages with at least one human event; machine_* count events flagged as machines.
alter table sends add column opens integer not null default 0;
alter table sends add column clicks integer not null default 0;
alter table sends add column unique_opens integer not null default 0;
alter table sends add column unique_clicks integer not null default 0;
alter table sends add column machine_opens integer not null default 0;
alter table sends add column machine_clicks integer not null default 0;
