-- Sends by when they started: period statistics (core/feedback/stats.ts periodStats and
-- periodDaily, the categories plugin's totals) filter a tenant's sends on started_at.
create index sends_started on sends (tenant_id, started_at);
