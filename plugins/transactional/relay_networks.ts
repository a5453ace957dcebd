// Relay networks: client networks (CIDR) an operator trusts to submit a tenant's mail over SMTP
// without AUTH, as Postfix's mynetworks. Networks of different tenants never overlap, so a
// client address authorises at most one tenant; the submission server looks it up once per
// connection.
import { type Kysely, sql } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../../core/deps.ts";
import type { DB } from "../../core/db/schema.ts";
import { isUuid, uuidv7 } from "../../core/db/ids.ts";
import { AppError, type FieldIssue } from "../../core/errors.ts";
import { type Locale, t } from "../../core/i18n/mod.ts";
import { audit } from "../../core/tenants/audit.ts";
import { parseIPv4, parseIPv6 } from "../../core/http/ssrf.ts";
import { TENANT_INFO_COLUMNS, toTenantInfo } from "../../core/auth/sessions.ts";
import { Recent } from "../../core/recent.ts";
import { PLUGIN_NAME } from "./credentials.ts";

export interface SmtpRelayNetworksTable {
  tenant_id: string;
  id: string;
  network: string;
  note: string;
  created_at: Date;
  created_by: string;
}
type PluginDB = DB & { smtp_relay_networks: SmtpRelayNetworksTable };
const dbOf = (deps: Pick<AppDeps, "db">) => deps.db as unknown as Kysely<PluginDB>;

/**
 * The broadest network one may trust: a /16 of IPv4, a /48 of IPv6 (one site's allocation);
 * only the loopback 127.0.0.0/8 is allowed broader.
 */
export const MIN_PREFIX = { v4: 16, v6: 48 } as const;
// Every change takes this lock, so two tenants' overlapping networks cannot both pass the check.
const LOCK_KEY = 7_202_611_020_002;

export const RelayNetworkCreate = z.object({
  network: z.string().trim().min(1).max(64),
  note: z.string().trim().max(200).default(""),
});

export interface RelayNetworkRow {
  id: string;
  network: string;
  note: string;
  created_at: Date;
  created_by: string;
}

function issue(locale: Locale, code: string, params: Record<string, string | number> = {}) {
  const message = t(locale, `${PLUGIN_NAME}.relay_issue_${code}`, params);
  return new AppError("validation", {}, [{ path: "network", code, message } as FieldIssue]);
}

/**
 * A network as PostgreSQL's cidr reads it, checked strictly: an address (dotted quad or IPv6)
 * and an optional prefix length (a bare address is one host), no bits set past the prefix, and
 * no broader than MIN_PREFIX. Returns the network in "address/bits" form.
 */
export function parseRelayNetwork(input: string, locale: Locale = "en"): string {
  const m = /^([0-9a-fA-F:.]+)(?:\/(\d{1,3}))?$/.exec(input.trim());
  const address = m?.[1] ?? "";
  const v6 = address.includes(":");
  const bytes = v6
    ? parseIPv6(address)
    : /^\d{1,3}(\.\d{1,3}){3}$/.test(address)
    ? parseIPv4(address)
    : null;
  const width = v6 ? 128 : 32;
  const bits = m?.[2] === undefined ? width : Number(m[2]);
  if (!m || !bytes || bits > width) throw issue(locale, "invalid", { input: input.slice(0, 64) });
  // The loopback /8 is one machine (Postfix's default mynetworks has it): a local relay's.
  const loopback = !v6 && bytes[0] === 127 && bits >= 8;
  const min = v6 ? MIN_PREFIX.v6 : MIN_PREFIX.v4;
  if (bits < min && !loopback) throw issue(locale, "too_broad", { min: `/${min}` });
  const masked = bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
  if (masked.some((b, i) => b !== bytes[i])) {
    throw issue(locale, "host_bits", { network: `${format(masked, v6)}/${bits}` });
  }
  return `${format(masked, v6)}/${bits}`;
}

function format(bytes: number[], v6: boolean): string {
  if (!v6) return bytes.join(".");
  const words = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // PostgreSQL prints its own canonical form; this one only has to be valid input and readable.
  return words.join(":");
}

export async function listRelayNetworks(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
): Promise<RelayNetworkRow[]> {
  return await dbOf(deps).selectFrom("smtp_relay_networks")
    .select([
      "id",
      sql<string>`network::text`.as("network"),
      "note",
      "created_at",
      "created_by",
    ])
    .where("tenant_id", "=", tenantId).orderBy("network").limit(1000).execute();
}

/**
 * Adds a relay network to a tenant (an operator's action, audited in the tenant's log). Refused
 * with a field error on "network": not a network, host bits set, too broad, already the
 * tenant's, or overlapping another tenant's.
 */
export async function addRelayNetwork(
  deps: Pick<AppDeps, "db" | "clock">,
  tenantId: string,
  input: z.input<typeof RelayNetworkCreate>,
  opts: { actor: string; locale?: Locale },
): Promise<RelayNetworkRow> {
  const locale = opts.locale ?? "en";
  const data = RelayNetworkCreate.parse(input);
  const network = parseRelayNetwork(data.network, locale);
  const now = deps.clock();
  matches.forgetWhere();
  return await dbOf(deps).transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${LOCK_KEY})`.execute(trx);
    const same = await trx.selectFrom("smtp_relay_networks").select("id")
      .where("tenant_id", "=", tenantId).where(sql<boolean>`network = ${network}::cidr`)
      .executeTakeFirst();
    if (same) throw issue(locale, "duplicate", { network });
    // A tenant's own networks may nest (10.1.0.0/16 inside 10.0.0.0/8): both authorise it.
    const other = await trx.selectFrom("smtp_relay_networks as n")
      .innerJoin("tenants as t", "t.id", "n.tenant_id")
      .select([sql<string>`n.network::text`.as("network"), "t.slug"])
      .where(sql<boolean>`n.network && ${network}::cidr`)
      .where("n.tenant_id", "<>", tenantId).limit(1).executeTakeFirst();
    if (other) throw issue(locale, "overlap", { network: other.network, tenant: other.slug });
    const row = await trx.insertInto("smtp_relay_networks").values({
      tenant_id: tenantId,
      id: uuidv7(),
      network: sql<string>`${network}::cidr` as unknown as string,
      note: data.note,
      created_at: now,
      created_by: opts.actor,
    }).returning([
      "id",
      sql<string>`network::text`.as("network"),
      "note",
      "created_at",
      "created_by",
    ])
      .executeTakeFirstOrThrow();
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor: opts.actor,
      action: "smtp_relay_network.add",
      target: row.id,
      details: { network: row.network, note: row.note },
      at: now,
    });
    return row;
  });
}

/** Removes one of a tenant's relay networks (audited); not_found when it has no such one. */
export async function removeRelayNetwork(
  deps: Pick<AppDeps, "db" | "clock">,
  tenantId: string,
  id: string,
  actor: string,
): Promise<RelayNetworkRow> {
  if (!isUuid(id)) throw new AppError("not_found");
  const now = deps.clock();
  try {
    return await removeNetworkRow(deps, tenantId, id, actor, now);
  } finally {
    matches.forgetWhere();
  }
}

async function removeNetworkRow(
  deps: Pick<AppDeps, "db" | "clock">,
  tenantId: string,
  id: string,
  actor: string,
  now: Date,
): Promise<RelayNetworkRow> {
  return await dbOf(deps).transaction().execute(async (trx) => {
    const row = await trx.deleteFrom("smtp_relay_networks")
      .where("tenant_id", "=", tenantId).where("id", "=", id)
      .returning([
        "id",
        sql<string>`network::text`.as("network"),
        "note",
        "created_at",
        "created_by",
      ])
      .executeTakeFirst();
    if (!row) throw new AppError("not_found");
    await audit(trx as unknown as Kysely<DB>, {
      tenantId,
      actor,
      action: "smtp_relay_network.remove",
      target: id,
      details: { network: row.network },
      at: now,
    });
    return row;
  });
}

export type NetworkMatch =
  | { ok: true; tenantId: string; networkId: string; network: string }
  | {
    ok: false;
    reason: "none" | "not_enabled" | "suspended";
    tenantId?: string;
    network?: string;
  };

// Clients that connect per message (smtp-source, many applications) would make this lookup per
// message: an answer is reused for a few seconds per address; changes made here forget them.
const matches = new Recent<NetworkMatch>(5_000);

/**
 * The tenant whose relay network holds a client address: one indexed query (GiST on network)
 * per address every few seconds at most; a network added or removed in this process counts at
 * once, a tenant's suspension within seconds. "none" for an address in no network.
 */
export function relayNetworkOf(
  deps: Pick<AppDeps, "db" | "registry">,
  remoteAddress: string,
): Promise<NetworkMatch> {
  return matches.get(remoteAddress, () => lookUpNetwork(deps, remoteAddress));
}

async function lookUpNetwork(
  deps: Pick<AppDeps, "db" | "registry">,
  remoteAddress: string,
): Promise<NetworkMatch> {
  // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d; networks are written in IPv4.
  const address = remoteAddress.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, "$1");
  if (!(address.includes(":") ? parseIPv6(address) : parseIPv4(address))) {
    return { ok: false, reason: "none" };
  }
  const row = await dbOf(deps).selectFrom("smtp_relay_networks as n")
    .innerJoin("tenants as t", "t.id", "n.tenant_id")
    .select(["n.id as n_id", sql<string>`n.network::text`.as("n_network"), ...TENANT_INFO_COLUMNS])
    .where(sql<boolean>`${address}::inet <<= n.network`)
    .orderBy(sql`masklen(n.network)`, "desc").limit(1).executeTakeFirst();
  if (!row) return { ok: false, reason: "none" };
  const tenant = toTenantInfo(row);
  const seen = { tenantId: tenant.id, network: row.n_network };
  if (tenant.status !== "active") return { ok: false, reason: "suspended", ...seen };
  if (!deps.registry.enabledFor(tenant).has(PLUGIN_NAME)) {
    return { ok: false, reason: "not_enabled", ...seen };
  }
  return { ok: true, tenantId: tenant.id, networkId: row.n_id, network: row.n_network };
}
