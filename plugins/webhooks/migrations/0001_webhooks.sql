-- Event webhooks (add-on): a tenant's endpoints, the outbox of events to deliver to them (one row
-- per endpoint and event, so each endpoint retries on its own), and a log of delivery attempts.
create table webhook_endpoints (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  url text not null,
  description text not null default '',
  -- Subscribed event types (sent, delivered, deferred, bounced, opened, clicked, unsubscribed,
  -- complained).
  events text[] not null,
  -- The signing secret, AES-256-GCM under a key derived from SECRET_KEY (it must be usable to
  -- sign, so it cannot be hashed); shown to the admin once.
  secret_sealed text not null,
  enabled boolean not null default true,
  created_by text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id)
);

create table webhook_events (
  tenant_id uuid not null,
  id uuid not null,
  endpoint_id uuid not null,
  -- The event's own id, the same for every endpoint and every retry (receivers dedupe on it).
  event_id uuid not null,
  type text not null,
  payload jsonb not null,
  -- pending → leased → delivered | failed; a leased row whose lease ran out is pending again.
  status text not null default 'pending',
  attempts int not null default 0,
  next_attempt_at timestamptz not null,
  give_up_at timestamptz not null,
  lease_until timestamptz,
  leased_by text,
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz not null,
  primary key (tenant_id, id),
  foreign key (tenant_id, endpoint_id) references webhook_endpoints (tenant_id, id)
    on delete cascade
);
-- The dispatcher serves every tenant: it claims due rows through this index.
create index webhook_events_due on webhook_events (next_attempt_at) where status = 'pending';
create index webhook_events_leased on webhook_events (lease_until) where status = 'leased';
create index webhook_events_endpoint on webhook_events (tenant_id, endpoint_id, id);
create index webhook_events_prune on webhook_events (created_at) where status = 'delivered';

create table webhook_deliveries (
  tenant_id uuid not null,
  id uuid not null,
  endpoint_id uuid not null,
  -- The webhook_events rows this request carried (for a manual retry).
  row_ids uuid[] not null,
  event_types text[] not null,
  ok boolean not null,
  status_code int,
  error text,
  duration_ms int not null,
  manual boolean not null default false,
  test boolean not null default false,
  attempted_at timestamptz not null,
  primary key (tenant_id, id),
  foreign key (tenant_id, endpoint_id) references webhook_endpoints (tenant_id, id)
    on delete cascade
);
create index webhook_deliveries_endpoint on webhook_deliveries (tenant_id, endpoint_id, id desc);
create index webhook_deliveries_prune on webhook_deliveries (attempted_at);
