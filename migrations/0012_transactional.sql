-- Transactional streams: each tenant has one long-lived send per stream ("transactional" by
-- default) whose queue rows each carry a whole message in `data`. The stream's send stays
-- 'sending' for good (finishIfDone leaves it alone): messages keep arriving one by one.

-- Null for mailings and staff mail; the stream's name for a transactional stream's send.
alter table sends add column stream text
  check (stream is null or stream ~ '^[a-z0-9][a-z0-9_-]{0,62}$');
-- One send per tenant and stream, created on first use by concurrent requests: an insert that
-- loses the race does nothing and reads the winner's row. Nulls are distinct, so other sends
-- are not constrained.
create unique index sends_stream on sends (tenant_id, stream);

-- Workers claim transactional rows (priority 0) of all tenants oldest first, in one statement
-- and ahead of everything else. Only those rows are in this index, so expanding a mass
-- mailing of a million rows does not pay for it.
create index send_queue_express on send_queue (ready_at) where status = 'queued' and priority = 0;
