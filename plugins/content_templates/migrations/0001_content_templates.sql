-- Content templates (Standard tier): a mailing's content saved for reuse, private to its author
-- or shared with the organisation. Each defines the subscription type of mailings made from it.
create table content_templates (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null,
  subject text not null default '',
  preheader text not null default '',
  body_html text not null default '',
  design_template_version_id uuid,
  subscription_type_id uuid,
  -- false: only created_by sees it; true: everyone in the organisation.
  shared boolean not null default false,
  created_by text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, subscription_type_id) references subscription_types (tenant_id, id)
);
create index content_templates_visible on content_templates (tenant_id, shared, created_by, id);
