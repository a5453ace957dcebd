-- Expanding a send writes one send_queue row per recipient, a million in one statement
-- (core/send/queue.ts expandSend; bench/expand.ts). Two per-row costs of that insert go here:
--
-- * The foreign key to sends ran one lookup trigger per inserted row, about a third of the
--   insert's own time. Queue rows are written only by expandSend, in the transaction that moved
--   the send from draft to expanding, so the send exists; sends are never deleted once they have
--   queue rows (only a draft whose expansion failed is, and it has none). Queue rows are pruned
--   by age, not through their send.
-- * The unique index on (tenant_id, send_id, person_id) checked every row against its
--   neighbours. Expansion selects from persons, each at most once (a semi-join on the audience),
--   joined to at most one primary address (person_addresses_one_primary): the rows are unique
--   by construction, which tests/send_queue_test.ts checks.
--
-- Written with "if exists" so it also applies on a database that already ran later migrations.
alter table send_queue drop constraint if exists send_queue_tenant_id_send_id_fkey;
drop index if exists send_queue_once;
