-- Categories (Advanced tier): the tenant's own labels for mailings (e.g. collaboration
-- categories), many per mailing, used to filter mailings and total statistics per category.
create table categories (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null,
  -- #rrggbb, or null for the default look.
  colour text check (colour ~ '^#[0-9a-f]{6}$'),
  created_by text not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, id)
);
create unique index categories_name on categories (tenant_id, lower(name));

create table mailing_categories (
  tenant_id uuid not null,
  mailing_id uuid not null,
  category_id uuid not null,
  assigned_by text not null,
  assigned_at timestamptz not null,
  primary key (tenant_id, mailing_id, category_id),
  foreign key (tenant_id, mailing_id) references mailings (tenant_id, id) on delete cascade,
  foreign key (tenant_id, category_id) references categories (tenant_id, id) on delete cascade
);
-- Mailings of a category (filter and statistics).
create index mailing_categories_by_category on mailing_categories (tenant_id, category_id,
  mailing_id);
