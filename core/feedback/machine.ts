// Tells machine opens and clicks (Apple Mail Privacy Protection, security scanners) from people's.
// Pure functions: the tracking endpoints gather the facts, these name the rule that matched.
// The rules are explained in the README ("How Skicka tells machine opens and clicks from people").

export type MachineReason =
  | "head_request"
  | "no_user_agent"
  | "apple_privacy_proxy"
  | "scanner_user_agent"
  | "machine_network"
  | "click_too_soon"
  | "click_before_open"
  | "click_burst";

/** An IPv4 or IPv6 network; IPv4 addresses are compared in their IPv4-mapped IPv6 form. */
export interface Cidr {
  base: bigint;
  mask: bigint;
}

const V4_MAPPED = 0xffffn << 32n;
const ALL = (1n << 128n) - 1n;

/** An address as a 128-bit number (IPv4 mapped into ::ffff:0:0/96), or null when unparsable. */
export function parseIp(ip: string): bigint | null {
  const s = ip.trim().replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const v4 = parseIpv4(s);
  if (v4 !== null) return V4_MAPPED | v4;
  if (!s.includes(":")) return null;
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string): bigint[] | null => {
    if (part === "") return [];
    const out: bigint[] = [];
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const g = items[i]!;
      if (i === items.length - 1 && g.includes(".")) {
        const tail = parseIpv4(g);
        if (tail === null) return null;
        out.push(tail >> 16n, tail & 0xffffn);
      } else if (/^[0-9a-f]{1,4}$/i.test(g)) out.push(BigInt(parseInt(g, 16)));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill(0n), ...tail];
  return all.reduce((acc, g) => (acc << 16n) | g, 0n);
}

function parseIpv4(s: string): bigint | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  let n = 0n;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return null;
    n = (n << 8n) | BigInt(o);
  }
  return n;
}

/** "17.0.0.0/8" or "2620:149::/32"; throws a clear error on anything else. */
export function parseCidr(cidr: string): Cidr {
  const [addr = "", bits, extra] = cidr.trim().split("/");
  const ip = parseIp(addr);
  const v4 = parseIpv4(addr.trim()) !== null;
  const max = v4 ? 32 : 128;
  const n = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (ip === null || extra !== undefined || !(n >= 0 && n <= max)) {
    throw new TypeError(`Not a network in CIDR notation: ${cidr}`);
  }
  const prefix = v4 ? 96 + n : n;
  const mask = prefix === 0 ? 0n : (ALL << BigInt(128 - prefix)) & ALL;
  return { base: ip & mask, mask };
}

/** A comma-separated list of CIDRs (empty gives none). */
export function parseCidrList(list: string | readonly string[]): Cidr[] {
  const items = typeof list === "string" ? list.split(",") : list;
  return items.map((x) => x.trim()).filter(Boolean).map(parseCidr);
}

export function inNetworks(ip: string | null, nets: readonly Cidr[]): boolean {
  if (!ip || !nets.length) return false;
  const n = parseIp(ip);
  return n !== null && nets.some((c) => (n & c.mask) === c.base);
}

/**
 * What is stored of an address (GDPR): IPv4 cut to its /24, IPv6 to its /48 — enough for
 * statistics per network, not enough to single out a household. Null when unparsable.
 */
export function truncateIp(ip: string | null): string | null {
  if (!ip) return null;
  const n = parseIp(ip);
  if (n === null) return null;
  if ((n >> 32n) === 0xffffn) {
    const v = Number(n & 0xffffff00n);
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.0/24`;
  }
  const g = [n >> 112n, (n >> 96n) & 0xffffn, (n >> 80n) & 0xffffn].map((x) => x.toString(16));
  return `${g.join(":")}::/48`;
}

export interface MachineRules {
  apple: Cidr[];
  machine: Cidr[];
  /** A click this soon after delivery is a scanner's (0: off). */
  scannerMs: number;
  /** A click with no open of the message this soon after delivery is a scanner's. */
  noOpenMs: number;
  /** Clicks on several links of one message within this window are a scanner's. */
  burstMs: number;
  /** How many distinct links in the window make a burst (fewer when the message has fewer). */
  burstLinks: number;
}

export function machineRules(opts: {
  appleNetworks?: readonly string[];
  machineNetworks?: readonly string[];
  scannerMs?: number;
}): MachineRules {
  const scannerMs = opts.scannerMs ?? 15_000;
  return {
    apple: parseCidrList(opts.appleNetworks ?? []),
    machine: parseCidrList(opts.machineNetworks ?? []),
    scannerMs,
    noOpenMs: scannerMs ? Math.max(120_000, scannerMs) : 0,
    burstMs: 5_000,
    burstLinks: 3,
  };
}

// Security gateways and link checkers that name themselves, and HTTP libraries no mail client
// uses. Gmail's and Yahoo's image proxies are not here: they fetch when a person opens.
const SCANNER_UA =
  /bot\b|crawler|spider|scanner|barracuda|mimecast|proofpoint|symantec|messagelabs|trend ?micro|fireeye|forcepoint|sophos|fortinet|cisco|ironport|zscaler|safelinks|urldefense|headlesschrome|phantomjs|python|curl\/|wget|go-http-client|java\/|okhttp|libwww|httpclient|axios|node-fetch|undici|deno\//i;

/** Apple's prefetching proxy sends exactly this and nothing more. */
const APPLE_PROXY_UA = "Mozilla/5.0";

export interface Hit {
  method: string;
  userAgent: string | null;
  /** The full peer address (never stored; see truncateIp). */
  ip: string | null;
}

function common(hit: Hit, rules: MachineRules): MachineReason | null {
  if (hit.method.toUpperCase() === "HEAD") return "head_request";
  const ua = hit.userAgent?.trim() ?? "";
  if (!ua) return "no_user_agent";
  if (SCANNER_UA.test(ua)) return "scanner_user_agent";
  if (inNetworks(hit.ip, rules.machine)) return "machine_network";
  return null;
}

/** Why an open is a machine's, or null for a person. */
export function classifyOpen(hit: Hit, rules: MachineRules): MachineReason | null {
  const r = common(hit, rules);
  if (r) return r;
  if (hit.userAgent?.trim() === APPLE_PROXY_UA || inNetworks(hit.ip, rules.apple)) {
    return "apple_privacy_proxy";
  }
  return null;
}

export interface ClickFacts extends Hit {
  at: Date;
  /** When the message was handed to the receiving server (send_queue.sent_at). */
  sentAt: Date | null;
  /** Whether any open (person or machine) of this message was seen before. */
  opened: boolean;
  link: number;
  /** How many tracked links the message has. */
  linkCount: number;
  /** This message's earlier clicks seen recently (link and time). */
  recent: readonly { link: number; at: number }[];
}

/**
 * Why a click is a machine's, or null for a person. Apple's networks are not a reason here:
 * Mail Privacy Protection fetches images, never links.
 */
export function classifyClick(c: ClickFacts, rules: MachineRules): MachineReason | null {
  const r = common(c, rules);
  if (r) return r;
  const sinceSent = c.sentAt ? c.at.getTime() - c.sentAt.getTime() : Infinity;
  if (rules.scannerMs > 0 && sinceSent >= 0 && sinceSent < rules.scannerMs) {
    return "click_too_soon";
  }
  const now = c.at.getTime();
  const links = new Set([c.link]);
  for (const x of c.recent) if (now - x.at <= rules.burstMs && now >= x.at) links.add(x.link);
  const needed = Math.min(rules.burstLinks, c.linkCount);
  if (needed >= 2 && links.size >= needed) return "click_burst";
  if (!c.opened && rules.noOpenMs > 0 && sinceSent >= 0 && sinceSent < rules.noOpenMs) {
    return "click_before_open";
  }
  return null;
}
