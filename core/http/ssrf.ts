// Which addresses an outbound request of Skicka (feeds, webhooks) may reach: public ones only.
// Addresses are parsed to bytes in every spelling (IPv4 as inet_aton reads it, IPv6 with ::,
// zones and embedded dotted quads), so no form of 127.0.0.1 or 169.254.169.254 slips through.
import { lookup } from "node:dns/promises";

/** A host name's addresses. Tests and callers with their own DNS pass one in. */
export type Resolver = (host: string) => Promise<string[]>;

/** Why a host may not be reached. */
export class AddressRefused extends Error {
  override name = "AddressRefused";
  constructor(readonly reason: "private_address" | "unresolvable", readonly host: string) {
    super(`${reason}: ${host}`);
  }
}

/** One part of an inet_aton address: decimal, octal (leading 0) or hex (0x). */
function v4Part(p: string): number | null {
  if (/^0x[0-9a-f]*$/i.test(p)) return p.length === 2 ? 0 : parseInt(p.slice(2), 16);
  if (/^0[0-7]+$/.test(p)) return parseInt(p, 8);
  if (/^(0|[1-9]\d*)$/.test(p)) return Number(p);
  return null;
}

/**
 * An IPv4 address as 4 bytes, in any form inet_aton (and so curl, ping, a URL parser) accepts:
 * 127.0.0.1, 2130706433, 0x7f000001, 0177.0.0.1, 127.1, 127.0.1. Null when it is none.
 */
export function parseIPv4(ip: string): number[] | null {
  const parts = ip.split(".");
  if (parts.length > 4 || parts.some((p) => p === "")) return null;
  const nums = parts.map(v4Part);
  if (nums.some((n) => n === null || !Number.isFinite(n))) return null;
  const ns = nums as number[];
  const last = ns.pop()!;
  if (ns.some((n) => n > 255)) return null;
  // The last part fills the bytes the others left (127.1 is 127.0.0.1).
  const room = 4 - ns.length;
  if (last >= 2 ** (8 * room)) return null;
  const tail: number[] = [];
  for (let i = room - 1; i >= 0; i--) tail.push(Math.floor(last / 2 ** (8 * i)) % 256);
  return [...ns, ...tail];
}

/** A strict dotted quad (the only IPv4 form allowed at the end of an IPv6 address). */
function dottedQuad(s: string): number[] | null {
  const parts = s.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p))) return null;
  const out = parts.map(Number);
  return out.every((n) => n <= 255) ? out : null;
}

/** An IPv6 address (brackets, zone id, :: and a trailing dotted quad allowed) as 16 bytes. */
export function parseIPv6(ip: string): number[] | null {
  let s = ip.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "").toLowerCase();
  if (!s.includes(":")) return null;
  const tail: number[] = [];
  const quad = /(?:^|:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (quad) {
    const b = dottedQuad(quad[1]!);
    if (!b) return null;
    tail.push(...b);
    // "::ffff:1.2.3.4" → "::ffff:" → "::ffff"; "::1.2.3.4" keeps its "::".
    s = s.slice(0, -quad[1]!.length);
    if (!s.endsWith("::")) s = s.slice(0, -1);
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const words = (h: string) => (h ? h.split(":") : []);
  const head = words(halves[0]!);
  const rest = halves.length === 2 ? words(halves[1]!) : [];
  const want = 8 - tail.length / 2;
  const fill = halves.length === 2 ? want - head.length - rest.length : 0;
  // "::" stands for at least one group of zeros.
  if (halves.length === 2 ? fill < 1 : head.length !== want) return null;
  const bytes: number[] = [];
  for (const w of [...head, ...Array<string>(fill).fill("0"), ...rest]) {
    if (!/^[0-9a-f]{1,4}$/.test(w)) return null;
    const n = parseInt(w, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  bytes.push(...tail);
  return bytes.length === 16 ? bytes : null;
}

/** IPv4 ranges that are not the public internet (RFC 6890 and friends), as [a, b, c, d]/bits. */
const V4_BLOCKED: [number[], number][] = [
  [[0, 0, 0, 0], 8], // "this network", 0.0.0.0
  [[10, 0, 0, 0], 8], // private
  [[100, 64, 0, 0], 10], // carrier-grade NAT
  [[127, 0, 0, 0], 8], // loopback
  [[169, 254, 0, 0], 16], // link-local, cloud metadata
  [[172, 16, 0, 0], 12], // private
  [[192, 0, 0, 0], 24], // IETF protocol assignments
  [[192, 0, 2, 0], 24], // documentation
  [[192, 88, 99, 0], 24], // 6to4 relay anycast
  [[192, 168, 0, 0], 16], // private
  [[198, 18, 0, 0], 15], // benchmarking
  [[198, 51, 100, 0], 24], // documentation
  [[203, 0, 113, 0], 24], // documentation
  [[224, 0, 0, 0], 4], // multicast
  [[240, 0, 0, 0], 4], // reserved, broadcast 255.255.255.255
];

function inPrefix(b: number[], prefix: number[], bits: number): boolean {
  for (let i = 0; i < bits; i += 8) {
    const take = Math.min(8, bits - i);
    const mask = (0xff << (8 - take)) & 0xff;
    if (((b[i / 8]! ^ prefix[i / 8]!) & mask) !== 0) return false;
  }
  return true;
}

function v4Blocked(b: number[]): boolean {
  return V4_BLOCKED.some(([p, bits]) => inPrefix(b, p, bits));
}

function v6Blocked(b: number[]): boolean {
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d (::7f00:1 reaches 127.0.0.1 on some
  // stacks): none is a public destination.
  if (zero(0, 12)) return true;
  // IPv4-mapped ::ffff:a.b.c.d: judged by the IPv4 address inside.
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4Blocked(b.slice(12));
  // IPv4-translated ::ffff:0:a.b.c.d (SIIT): likewise.
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12)) {
    return v4Blocked(b.slice(12));
  }
  // NAT64 64:ff9b::/96 (well-known prefix): the IPv4 address inside.
  if (inPrefix(b, [0, 0x64, 0xff, 0x9b], 32) && zero(4, 12)) return v4Blocked(b.slice(12));
  // Local-use NAT64 64:ff9b:1::/48 translates into networks of the operator's own.
  if (inPrefix(b, [0, 0x64, 0xff, 0x9b, 0, 1], 48)) return true;
  // 6to4 2002:a.b.c.d::/48: the IPv4 address inside.
  if (b[0] === 0x20 && b[1] === 0x02) return v4Blocked(b.slice(2, 6));
  if (inPrefix(b, [1, 0, 0, 0, 0, 0, 0, 0], 64)) return true; // discard-only 100::/64
  if (inPrefix(b, [0x20, 0x01, 0, 0], 32)) return true; // Teredo (hides an IPv4 address)
  if (inPrefix(b, [0x20, 0x01, 0x0d, 0xb8], 32)) return true; // documentation
  if (inPrefix(b, [0x20, 0x01, 0x00, 0x10], 28)) return true; // ORCHID
  if (inPrefix(b, [0x20, 0x01, 0x00, 0x20], 28)) return true; // ORCHIDv2
  if (inPrefix(b, [0xfc], 7)) return true; // unique local fc00::/7
  if (inPrefix(b, [0xfe, 0x80], 10)) return true; // link-local fe80::/10
  if (inPrefix(b, [0xfe, 0xc0], 10)) return true; // site-local fec0::/10 (deprecated)
  return b[0] === 0xff; // multicast
}

/**
 * True for an address outbound requests must not reach: loopback, private, link-local, CGNAT,
 * unspecified, multicast, broadcast, documentation and reserved ranges, IPv4 and IPv6 (IPv4-
 * mapped, -compatible, -translated, NAT64 and 6to4 forms judged by the IPv4 address inside,
 * Teredo refused). Anything that is no address at all counts as private: refuse when unsure.
 */
export function isPrivateAddress(ip: string): boolean {
  const s = ip.trim();
  const v6 = s.includes(":") ? parseIPv6(s) : null;
  if (v6) return v6Blocked(v6);
  const v4 = s.includes(":") ? null : parseIPv4(s);
  return v4 ? v4Blocked(v4) : true;
}

/** True when the host is an address literal (any spelling parseIPv4/parseIPv6 read). */
export function isAddressLiteral(host: string): boolean {
  const s = host.trim();
  return s.includes(":") ? parseIPv6(s) !== null : parseIPv4(s) !== null;
}

/**
 * Every address a name has: the system resolver's (getaddrinfo: /etc/hosts, then DNS — where
 * a connection actually goes) and DNS A and AAAA answers. A name may answer differently each
 * time, so the union is checked, not a sample.
 */
export const dnsResolver: Resolver = async function dnsResolver(host) {
  const out = new Set<string>();
  try {
    for (const a of await lookup(host, { all: true, verbatim: true })) out.add(a.address);
  } catch {
    // Not known to the system resolver: DNS below may still answer.
  }
  for (const type of ["A", "AAAA"] as const) {
    try {
      for (const a of await Deno.resolveDns(host, type)) out.add(a);
    } catch {
      // A host with only one kind of address is normal.
    }
  }
  return [...out];
};

/**
 * The addresses of a host (a name or an address literal, brackets allowed), all public; throws
 * AddressRefused otherwise. `localhost` and `*.localhost` are private whatever DNS says. One
 * private answer refuses the whole name (an attacker's name may rotate its answers).
 */
export async function resolveAndCheck(
  hostname: string,
  opts: { resolve?: Resolver } = {},
): Promise<string[]> {
  const host = hostname.trim().replace(/^\[(.*)\]$/, "$1").toLowerCase().replace(/\.$/, "");
  if (isAddressLiteral(host)) {
    if (isPrivateAddress(host)) throw new AddressRefused("private_address", host);
    return [host];
  }
  if (host === "localhost" || host.endsWith(".localhost")) {
    throw new AddressRefused("private_address", host);
  }
  const addresses = await (opts.resolve ?? dnsResolver)(host);
  if (!addresses.length) throw new AddressRefused("unresolvable", host);
  if (addresses.some(isPrivateAddress)) throw new AddressRefused("private_address", host);
  return addresses;
}
