-- Items are deduplicated on guid_key: the guid itself, or for a guid over 512 bytes
-- 'sha256:' and its SHA-256 in hex (two long guids sharing a prefix stay apart, and no guid can
-- exceed the index's row size); guid keeps at most 500 characters of the original for display.
alter table rss_items add column guid_key text;
update rss_items set guid_key = case when octet_length(guid) > 512
  then 'sha256:' || encode(sha256(convert_to(guid, 'UTF8')), 'hex') else guid end;
alter table rss_items alter column guid_key set not null;
alter table rss_items drop constraint rss_items_tenant_id_feed_id_guid_key;
alter table rss_items add constraint rss_items_guid_key unique (tenant_id, feed_id, guid_key);
