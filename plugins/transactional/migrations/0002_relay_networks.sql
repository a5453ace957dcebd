-- Relay networks (transactional add-on): client networks whose SMTP sessions are authorised as
-- the tenant without AUTH, like Postfix's mynetworks. Set by the operator, never by the tenant:
-- IP trust is infrastructure. The application keeps networks of different tenants from
-- overlapping (under an advisory lock), so a client address belongs to at most one tenant.
create table smtp_relay_networks (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  network cidr not null,
  note text not null default '' check (length(note) <= 200),
  created_at timestamptz not null default now(),
  created_by text not null,
  primary key (tenant_id, id),
  unique (tenant_id, network)
);

-- The submission server's one lookup per connection: where $1::inet <<= network.
create index smtp_relay_networks_network on smtp_relay_networks using gist (network inet_ops);
