-- RSS/Atom feeds (Advanced tier): the tenant's feeds with the fetcher's cache validators and
-- status, and their items, deduplicated by guid per feed.
create table rss_feeds (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  -- The name a mailing uses: {{#each rss.<slug>.items}}.
  slug text not null,
  url text not null,
  title text not null default '',
  site_url text,
  -- Validators of the last 200 answer, sent back as If-None-Match / If-Modified-Since.
  etag text,
  last_modified text,
  last_fetch_at timestamptz,
  -- ok | not_modified | error; null before the first fetch.
  last_status text,
  last_error text,
  next_fetch_at timestamptz not null default now(),
  -- A poller's claim (several workers): until this time no other worker fetches the feed.
  lease_until timestamptz,
  created_by text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  unique (tenant_id, slug)
);
-- The poller's claim looks for due feeds across tenants.
create index rss_feeds_due on rss_feeds (next_fetch_at);

create table rss_items (
  tenant_id uuid not null,
  feed_id uuid not null,
  id uuid not null,
  guid text not null,
  title text not null default '',
  link text,
  -- Plain text (an excerpt); content_html is sanitised HTML.
  summary text not null default '',
  content_html text not null default '',
  image text,
  published_at timestamptz,
  -- When the fetcher first stored it: "new since the last send" compares against this.
  first_seen_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, id),
  unique (tenant_id, feed_id, guid),
  foreign key (tenant_id, feed_id) references rss_feeds (tenant_id, id) on delete cascade
);
create index rss_items_recent on rss_items (tenant_id, feed_id, first_seen_at);
