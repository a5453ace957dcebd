-- Segments: indexes for the conditions a segment compiles to (core/people/segments.ts), chosen by
-- bench/segments_bench.ts on a million persons.

-- "organisation contains / starts with …" compiles to lower(organisation) like '%…%'. Without this
-- it reads every person (~300 ms per million); with it a selective value takes ~10 ms and a broad
-- one about half the time. (persons_org serves equals only.)
create index persons_org_trgm on persons
  using gin ((lower(organisation)) gin_trgm_ops);

-- Typed custom-field conditions (number, date, boolean equals) compile to custom @> '{"key": v}'.
-- jsonb_path_ops indexes exactly that containment and stays small: ~270 ms → ~10 ms per million.
create index persons_custom on persons using gin (custom jsonb_path_ops);

-- "has a work (private, …) address" compiles to a join on the distinct persons with an address of
-- that type. Typed addresses come with an add-on and are few, so a partial index answers it from
-- the index alone: ~130 ms → ~20 ms for that part per million addresses.
create index person_addresses_typed on person_addresses (tenant_id, type, person_id)
  where type is not null;
