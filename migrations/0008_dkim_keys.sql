-- Per-tenant DKIM signing keys. The private key must be usable for signing, so it cannot be
-- hashed: it is stored encrypted with AES-256-GCM under a key derived from the deployment's
-- secret (core/send/dkim_keys.ts), bound to its row so a ciphertext cannot be moved to another.
create table dkim_keys (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  -- The d= domain, lower-case; it signs mail From this domain and its subdomains.
  domain text not null,
  -- The key is published at <selector>._domainkey.<domain>.
  selector text not null,
  algorithm text not null check (algorithm in ('rsa', 'ed25519')),
  -- "v1.<iv>.<ciphertext>" in base64url; the PKCS#8 PEM inside never leaves the server.
  private_key_enc text not null,
  -- The DNS TXT record value that publishes the public half (v=DKIM1; k=…; p=…).
  dns_txt_value text not null,
  active boolean not null default true,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  unique (tenant_id, domain, selector, algorithm)
);

-- signingKeysFor(): the active keys of a tenant for a From domain and its parents.
create index dkim_keys_signing on dkim_keys (tenant_id, domain) where active;
