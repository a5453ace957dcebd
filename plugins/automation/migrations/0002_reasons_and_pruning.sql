-- Run and trigger reasons become a code plus parameters (said in the reader's language by the
-- UI), and processed trigger events are pruned by age.

-- Parameters of `reason` (a code such as 'vetoed' or 'error'), e.g. {"plugin": "rss"}.
alter table automation_runs add column reason_params jsonb;
alter table automation_trigger_events add column reason_params jsonb;

-- What the worker's prune deletes by: processed events, oldest first.
create index automation_trigger_events_processed on automation_trigger_events (processed_at)
  where status <> 'pending';
