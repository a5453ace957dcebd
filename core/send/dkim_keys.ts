// Per-tenant DKIM keys: generated here, stored encrypted at rest, and looked up (cached) by the
// send worker for each message's From domain.
import { generateKeyPair } from "node:crypto";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { isUuid, uuidv7 } from "../db/ids.ts";
import { SecretBox } from "../secret_box.ts";
import { AppError } from "../errors.ts";
import { audit } from "../tenants/audit.ts";
import { dkimDnsTxtValue } from "./dkim.ts";

type Deps = Pick<AppDeps, "db" | "clock" | "secret">;

export const DKIM_ALGORITHMS = ["rsa", "ed25519"] as const;
export type DkimAlgorithm = (typeof DKIM_ALGORITHMS)[number];

const DOMAIN =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
const SELECTOR =
  /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export const DkimKeyCreate = z.object({
  domain: z.string().trim().toLowerCase().max(253).regex(DOMAIN, {
    message: "A domain name such as example.com",
  }),
  algorithm: z.enum(DKIM_ALGORITHMS).default("rsa"),
  /** Default: skicka-<algorithm>-<yyyymm>, with a number added when taken. */
  selector: z.string().trim().toLowerCase().max(63).regex(SELECTOR, {
    message: "Letters, digits and hyphens, such as s2026",
  }).optional(),
});
export type DkimKeyCreate = z.input<typeof DkimKeyCreate>;

/** What staff and the API see of a key: never the private part. */
export interface DkimKeyInfo {
  id: string;
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  /** Where the TXT record goes: <selector>._domainkey.<domain>. */
  dns_name: string;
  dns_txt_value: string;
  active: boolean;
  created_at: Date;
}

/** A key ready for signing, as the render workers receive it. */
export interface SigningKey {
  id: string;
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  privateKeyPem: string;
}

const INFO_COLUMNS = [
  "id",
  "domain",
  "selector",
  "algorithm",
  "dns_txt_value",
  "active",
  "created_at",
] as const;

function info(row: Omit<DkimKeyInfo, "dns_name">): DkimKeyInfo {
  return { ...row, dns_name: `${row.selector}._domainkey.${row.domain}` };
}

// --- encryption at rest ---------------------------------------------------------------------

const box = new SecretBox({
  salt: "skicka dkim_keys",
  info: "aes-256-gcm v1",
  table: "dkim_keys",
  label: "sealed DKIM key",
});

export function sealPrivateKey(
  secret: string,
  row: { tenantId: string; id: string },
  pem: string,
): Promise<string> {
  return box.seal(secret, row, pem);
}

export function openPrivateKey(
  secret: string,
  row: { tenantId: string; id: string },
  sealed: string,
): Promise<string> {
  return box.open(secret, row, sealed);
}

// --- keys -----------------------------------------------------------------------------------

/** A new key pair without blocking the event loop (RSA-2048 generation takes ~100 ms). */
function newPrivateKeyPem(algorithm: DkimAlgorithm): Promise<string> {
  const encoding = {
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  } as const;
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, _pub: string, privateKey: string) =>
      err ? reject(err) : resolve(privateKey);
    if (algorithm === "rsa") {
      generateKeyPair("rsa", { modulusLength: 2048, ...encoding }, done);
    } else generateKeyPair("ed25519", encoding, done);
  });
}

/** Generates, encrypts and stores a key; the answer carries the DNS record to publish. */
export async function generateTenantDkimKey(
  deps: Deps,
  tenantId: string,
  input: DkimKeyCreate,
  actor: string,
): Promise<DkimKeyInfo> {
  const v = DkimKeyCreate.parse(input);
  const now = deps.clock();
  const pem = await newPrivateKeyPem(v.algorithm);
  const id = uuidv7();
  const sealed = await sealPrivateKey(deps.secret, { tenantId, id }, pem);
  const row = await deps.db.transaction().execute(async (trx) => {
    const taken = new Set(
      (await trx.selectFrom("dkim_keys").select("selector").where("tenant_id", "=", tenantId)
        .where("domain", "=", v.domain).execute()).map((r) => r.selector),
    );
    // One DNS name holds one key: a selector is never shared, not even across algorithms.
    let selector = v.selector;
    if (selector === undefined) {
      const base = `skicka-${v.algorithm}-${now.toISOString().slice(0, 7).replace("-", "")}`;
      selector = base;
      for (let n = 2; taken.has(selector); n++) selector = `${base}-${n}`;
    } else if (taken.has(selector)) {
      throw new AppError("conflict", {}, [{
        path: "selector",
        code: "taken",
        message: `${selector}._domainkey.${v.domain} already holds a key`,
      }]);
    }
    const inserted = await trx.insertInto("dkim_keys").values({
      tenant_id: tenantId,
      id,
      domain: v.domain,
      selector,
      algorithm: v.algorithm,
      private_key_enc: sealed,
      dns_txt_value: dkimDnsTxtValue(pem),
      active: true,
      created_at: now,
    }).returning(INFO_COLUMNS).executeTakeFirstOrThrow();
    await audit(trx, {
      tenantId,
      actor,
      action: "dkim_key.create",
      target: id,
      details: { domain: v.domain, selector, algorithm: v.algorithm },
      at: now,
    });
    return inserted;
  });
  forgetTenant(deps, tenantId);
  return info(row);
}

export async function listTenantDkimKeys(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
): Promise<DkimKeyInfo[]> {
  const rows = await deps.db.selectFrom("dkim_keys").select(INFO_COLUMNS)
    .where("tenant_id", "=", tenantId).orderBy("domain").orderBy("created_at", "desc")
    .orderBy("id").execute();
  return rows.map(info);
}

/** Turns a key off (kept for re-activation while its DNS record is still published) or on. */
export async function setTenantDkimKeyActive(
  deps: Deps,
  tenantId: string,
  id: string,
  active: boolean,
  actor: string,
): Promise<DkimKeyInfo> {
  if (!isUuid(id)) throw new AppError("not_found");
  const now = deps.clock();
  const row = await deps.db.transaction().execute(async (trx) => {
    const updated = await trx.updateTable("dkim_keys").set({ active })
      .where("tenant_id", "=", tenantId).where("id", "=", id).returning(INFO_COLUMNS)
      .executeTakeFirst();
    if (!updated) throw new AppError("not_found");
    await audit(trx, {
      tenantId,
      actor,
      action: active ? "dkim_key.activate" : "dkim_key.deactivate",
      target: id,
      at: now,
    });
    return updated;
  });
  forgetTenant(deps, tenantId);
  return info(row);
}

export async function deleteTenantDkimKey(
  deps: Deps,
  tenantId: string,
  id: string,
  actor: string,
): Promise<void> {
  if (!isUuid(id)) throw new AppError("not_found");
  const now = deps.clock();
  await deps.db.transaction().execute(async (trx) => {
    const gone = await trx.deleteFrom("dkim_keys").where("tenant_id", "=", tenantId)
      .where("id", "=", id).returning(["domain", "selector"]).executeTakeFirst();
    if (!gone) throw new AppError("not_found");
    await audit(trx, {
      tenantId,
      actor,
      action: "dkim_key.delete",
      target: id,
      details: { domain: gone.domain, selector: gone.selector },
      at: now,
    });
  });
  forgetTenant(deps, tenantId);
}

// --- lookup for signing ---------------------------------------------------------------------

/** The domain and its parents down to two labels: news.mail.example.com → … → example.com. */
export function domainAndParents(domain: string): string[] {
  const labels = domain.toLowerCase().split(".");
  const out: string[] = [];
  for (let i = 0; i <= labels.length - 2; i++) out.push(labels.slice(i).join("."));
  return out;
}

const CACHE_MS = 60_000;
const CACHE_MAX = 2_000;
type Cache = Map<string, { at: number; keys: Promise<SigningKey[]> }>;
// Per database, so tests with several databases in one process never see each other's keys.
const caches = new WeakMap<object, Cache>();

function cacheOf(deps: Pick<AppDeps, "db">): Cache {
  let cache = caches.get(deps.db);
  if (!cache) caches.set(deps.db, cache = new Map());
  return cache;
}

/** Changes take effect at once in this process, within CACHE_MS in others. */
function forgetTenant(deps: Pick<AppDeps, "db">, tenantId: string) {
  const cache = cacheOf(deps);
  for (const k of cache.keys()) if (k.startsWith(`${tenantId}|`)) cache.delete(k);
}

/**
 * The active keys that sign a tenant's mail From `fromDomain`: those of the domain itself or,
 * failing that, of its nearest parent with keys (d= must be the From domain or a parent, for
 * DMARC alignment). At most one per algorithm, the newest; [] when the tenant has none.
 */
export function signingKeysFor(
  deps: Pick<AppDeps, "db" | "secret">,
  tenantId: string,
  fromDomain: string,
): Promise<SigningKey[]> {
  const cache = cacheOf(deps);
  const cacheKey = `${tenantId}|${fromDomain.toLowerCase()}`;
  const hit = cache.get(cacheKey);
  if (hit && performance.now() - hit.at < CACHE_MS) return hit.keys;
  const keys = loadSigningKeys(deps, tenantId, fromDomain);
  cache.set(cacheKey, { at: performance.now(), keys });
  // A failed lookup is not remembered: the next batch asks again.
  keys.catch(() => cache.get(cacheKey)?.keys === keys && cache.delete(cacheKey));
  if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value!);
  return keys;
}

async function loadSigningKeys(
  deps: Pick<AppDeps, "db" | "secret">,
  tenantId: string,
  fromDomain: string,
): Promise<SigningKey[]> {
  const candidates = domainAndParents(fromDomain);
  if (!candidates.length) return [];
  const rows = await deps.db.selectFrom("dkim_keys")
    .select(["id", "domain", "selector", "algorithm", "private_key_enc"])
    .where("tenant_id", "=", tenantId).where("active", "=", true)
    .where("domain", "in", candidates)
    .orderBy("created_at", "desc").orderBy("id", "desc").execute();
  const nearest = candidates.find((d) => rows.some((r) => r.domain === d));
  const chosen = new Map<DkimAlgorithm, (typeof rows)[number]>();
  for (const r of rows) {
    if (r.domain === nearest && !chosen.has(r.algorithm)) chosen.set(r.algorithm, r);
  }
  // Ed25519 first, so the rsa-sha256 header, which every verifier knows, ends up on top.
  return await Promise.all(
    DKIM_ALGORITHMS.toReversed().flatMap((a) => chosen.get(a) ?? []).map(async (r) => ({
      id: r.id,
      domain: r.domain,
      selector: r.selector,
      algorithm: r.algorithm,
      privateKeyPem: await openPrivateKey(deps.secret, { tenantId, id: r.id }, r.private_key_enc),
    })),
  );
}

/** The keys one batch needs, each sent once, and which of them sign each tenant's From domain. */
export interface BatchKeys {
  keys: Record<string, SigningKey>;
  idsFor(tenantId: string, fromDomain: string): string[];
  /**
   * Why the keys could not be read (e.g. the secret changed), or undefined. Such mail waits for
   * a retry: sent unsigned it would fail DMARC where the domain publishes a policy.
   */
  failed(tenantId: string, fromDomain: string): string | undefined;
}

/** Looks up (cached) the signing keys for every tenant and From domain in a batch. */
export async function batchSigningKeys(
  deps: Pick<AppDeps, "db" | "secret" | "log">,
  pairs: Iterable<{ tenantId: string; fromDomain: string }>,
): Promise<BatchKeys> {
  const wanted = new Map<string, { tenantId: string; fromDomain: string }>();
  for (const p of pairs) wanted.set(`${p.tenantId}|${p.fromDomain.toLowerCase()}`, p);
  const keys: Record<string, SigningKey> = {};
  const ids = new Map<string, string[]>();
  const errors = new Map<string, string>();
  for (const [k, p] of wanted) {
    try {
      const found = await signingKeysFor(deps, p.tenantId, p.fromDomain);
      for (const key of found) keys[key.id] = key;
      ids.set(k, found.map((key) => key.id));
    } catch (e) {
      // One tenant's unreadable key must not hold up the rest of the batch.
      deps.log.error("DKIM keys unavailable", { tenant_id: p.tenantId, error: String(e) });
      errors.set(k, `DKIM keys unavailable: ${String(e)}`);
    }
  }
  const at = (tenantId: string, fromDomain: string) => `${tenantId}|${fromDomain.toLowerCase()}`;
  return {
    keys,
    idsFor: (tenantId, fromDomain) => ids.get(at(tenantId, fromDomain)) ?? [],
    failed: (tenantId, fromDomain) => errors.get(at(tenantId, fromDomain)),
  };
}
