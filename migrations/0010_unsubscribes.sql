-- Unsubscribes (per subscription type or from all mass mail) and the extra columns of the
-- automatic contact note per mailing recipient. History is kept: staff re-subscribe stamps a row,
-- never deletes it.

create table unsubscribes (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  -- Null for a recipient outside the CRM (a raw address): the address then carries it alone.
  person_id uuid,
  -- Lower-cased, as person_addresses.address_key; null when only the person is known.
  address text,
  -- Null: all mass mail. Otherwise only mailings of this subscription type.
  subscription_type_id uuid,
  source text not null
    check (source in ('one_click', 'link', 'mailto', 'complaint', 'staff', 'api')),
  -- The message it came from, when it came from one.
  send_id uuid,
  queue_id uuid,
  created_at timestamptz not null default now(),
  resubscribed_at timestamptz,
  resubscribed_by text,
  note text check (length(note) <= 2000),
  primary key (tenant_id, id),
  check (person_id is not null or address is not null)
);
-- One active row per person and scope (the all-scope as the zero uuid): makes a repeated
-- unsubscribe a no-op even when two arrive at once, and is the anti-join's index for persons.
create unique index unsubscribes_person_active on unsubscribes
  (tenant_id, person_id, coalesce(subscription_type_id, '00000000-0000-0000-0000-000000000000'))
  where resubscribed_at is null and person_id is not null;
create unique index unsubscribes_address_only on unsubscribes
  (tenant_id, address, coalesce(subscription_type_id, '00000000-0000-0000-0000-000000000000'))
  where resubscribed_at is null and person_id is null;
-- The anti-join by address (raw recipients, and persons whose address was unsubscribed before
-- it became theirs).
create index unsubscribes_address_active on unsubscribes (tenant_id, address)
  where resubscribed_at is null and address is not null;
-- A person's history on the staff page.
create index unsubscribes_person on unsubscribes (tenant_id, person_id, id desc)
  where person_id is not null;
-- Statistics: unsubscribes per send and per message (the recipient list's status filter).
create index unsubscribes_send on unsubscribes (tenant_id, send_id) where send_id is not null;
create index unsubscribes_queue on unsubscribes (tenant_id, queue_id) where queue_id is not null;

-- Cancelling the rest of a running mailing for one recipient: only rows not yet sent, so these
-- stay small however large the queue grows.
create index send_queue_person_pending on send_queue (tenant_id, person_id)
  where status in ('queued', 'held') and person_id is not null;
create index send_queue_address_pending on send_queue (tenant_id, lower(address))
  where status in ('queued', 'held') and person_id is null;

-- The automatic note per mailing: when it went out and was complained about, and a bounded list
-- of details ("clicked <url>", "bounced <reason>"), at most 20 entries of 300 characters.
alter table contact_notes add column sent_at timestamptz;
alter table contact_notes add column complained_at timestamptz;
alter table contact_notes add column details text[] not null default '{}';
