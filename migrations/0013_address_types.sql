-- Typed addresses (work, private, student… given by plugins): a type is on at most one address of
-- a person, so "send to the work address" means one address. Earlier duplicates keep the type on
-- the address that sorts first and lose it on the others.
update person_addresses a set type = null
where a.type is not null and exists (
  select 1 from person_addresses b
  where b.tenant_id = a.tenant_id and b.person_id = a.person_id and b.type = a.type
    and b.address_key < a.address_key);
create unique index person_addresses_one_per_type on person_addresses (tenant_id, person_id, type)
  where type is not null;
