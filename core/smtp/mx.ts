// Finds the hosts that take mail for a domain: MX records, RFC 5321 §5.1 fallback, a TTL cache.

export interface MxRecord {
  preference: number;
  exchange: string;
}

/** DNS lookups, passed in so tests never touch the network. */
export interface DnsResolver {
  /** [] when the name has no such records (NXDOMAIN or NODATA); throws when the lookup failed. */
  mx(domain: string): Promise<MxRecord[]>;
  a(domain: string): Promise<string[]>;
  aaaa(domain: string): Promise<string[]>;
}

async function orEmpty<T>(lookup: Promise<T[]>): Promise<T[]> {
  try {
    return await lookup;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

/** The system resolver through Deno.resolveDns, which reports "no records" as NotFound. */
export const denoResolver: DnsResolver = {
  mx: (domain) => orEmpty(Deno.resolveDns(domain, "MX")),
  a: (domain) => orEmpty(Deno.resolveDns(domain, "A")),
  aaaa: (domain) => orEmpty(Deno.resolveDns(domain, "AAAA")),
};

/**
 * "null_mx": the domain says it takes no mail (RFC 7505). "no_mail_host": no MX and no address.
 * "invalid_domain": not a domain name. "dns_error": the lookup failed; the only temporary one.
 */
export type MxErrorReason = "null_mx" | "no_mail_host" | "invalid_domain" | "dns_error";

export class MxError extends Error {
  override name = "MxError";
  readonly temporary: boolean;
  constructor(
    readonly domain: string,
    readonly reason: MxErrorReason,
    message: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.temporary = reason === "dns_error";
  }
}

export interface MxHost {
  host: string;
  preference: number;
}

export interface MxResult {
  domain: string;
  /** Most preferred first; hosts of equal preference in random order (RFC 5321 §5.1). */
  hosts: MxHost[];
  /** No MX records: the domain itself is the mail host. */
  implicit: boolean;
}

export interface MxResolverOptions {
  resolver?: DnsResolver;
  /** How long answers are kept; Deno.resolveDns gives no TTLs (default 5 min). */
  ttlMs?: number;
  /** How long permanent failures (null MX, no host) are kept (default 5 min). */
  negativeTtlMs?: number;
  /** How long failed lookups are kept, so an outage costs one lookup per domain (default 30 s). */
  errorTtlMs?: number;
  /** Cached domains at most; the oldest go first (default 50,000). */
  maxEntries?: number;
  now?: () => number;
  random?: () => number;
}

interface CacheEntry {
  expires: number;
  answer: Promise<MxResult>;
}

// deno-lint-ignore no-control-regex
const ASCII = /^[\x00-\x7f]*$/;
const LABEL = "[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?";
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`);

/** Lower case, no trailing dot, IDNs in their A-label (punycode) form. */
function normalize(domain: string): string {
  const d = domain.trim().toLowerCase().replace(/\.$/, "");
  if (ASCII.test(d)) return d;
  try {
    // The URL parser applies IDNA (UTS #46), the same mapping browsers and MTAs use.
    return new URL(`http://${d}/`).hostname;
  } catch {
    return d;
  }
}

/** MX lookups for the route and deliver stages, cached and shared by concurrent callers. */
export class MxResolver {
  #dns: DnsResolver;
  #ttl: number;
  #negativeTtl: number;
  #errorTtl: number;
  #max: number;
  #now: () => number;
  #random: () => number;
  #cache = new Map<string, CacheEntry>();

  constructor(options: MxResolverOptions = {}) {
    this.#dns = options.resolver ?? denoResolver;
    this.#ttl = options.ttlMs ?? 300_000;
    this.#negativeTtl = options.negativeTtlMs ?? 300_000;
    this.#errorTtl = options.errorTtlMs ?? 30_000;
    this.#max = options.maxEntries ?? 50_000;
    this.#now = options.now ?? (() => performance.now());
    this.#random = options.random ?? Math.random;
  }

  /** The mail hosts of `domain`, or MxError. */
  async resolve(domain: string): Promise<MxResult> {
    const name = normalize(domain);
    const now = this.#now();
    let entry = this.#cache.get(name);
    if (!entry || entry.expires <= now) {
      if (entry) this.#cache.delete(name);
      // The pending promise is cached too, so a batch of 1,000 addresses at one domain asks once.
      const answer = this.#lookup(name);
      entry = { expires: Infinity, answer };
      const cached = entry;
      answer.then(
        () => (cached.expires = this.#now() + this.#ttl),
        (
          err: MxError,
        ) => (cached.expires = this.#now() + (err.temporary ? this.#errorTtl : this.#negativeTtl)),
      );
      this.#cache.set(name, entry);
      if (this.#cache.size > this.#max) this.#cache.delete(this.#cache.keys().next().value!);
    }
    const result = await entry.answer;
    return { ...result, hosts: this.#shuffleTies(result.hosts) };
  }

  async #lookup(domain: string): Promise<MxResult> {
    // An address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]") names the host itself.
    const literal = /^\[(?:ipv6:)?([0-9a-f.:]+)\]$/.exec(domain);
    if (literal) return { domain, hosts: [{ host: literal[1]!, preference: 0 }], implicit: true };
    if (!HOSTNAME.test(domain)) {
      throw new MxError(domain, "invalid_domain", `${JSON.stringify(domain)} is not a domain name`);
    }
    const records = await this.#ask(domain, "MX", () => this.#dns.mx(domain));
    const hosts = records
      .map((r) => ({ host: r.exchange.toLowerCase().replace(/\.$/, ""), preference: r.preference }))
      .filter((h) => h.host !== "");
    if (records.length > 0 && hosts.length === 0) {
      throw new MxError(domain, "null_mx", `${domain} accepts no mail (null MX, RFC 7505)`);
    }
    if (hosts.length > 0) {
      return { domain, hosts: hosts.sort((a, b) => a.preference - b.preference), implicit: false };
    }
    // RFC 5321 §5.1: without MX records the domain's own address record is the mail host.
    const [a, aaaa] = await Promise.all([
      this.#ask(domain, "A", () => this.#dns.a(domain)),
      this.#ask(domain, "AAAA", () => this.#dns.aaaa(domain)),
    ]);
    if (a.length === 0 && aaaa.length === 0) {
      throw new MxError(domain, "no_mail_host", `${domain} has no MX, A or AAAA records`);
    }
    return { domain, hosts: [{ host: domain, preference: 0 }], implicit: true };
  }

  async #ask<T>(domain: string, type: string, lookup: () => Promise<T[]>): Promise<T[]> {
    try {
      return await lookup();
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      throw new MxError(domain, "dns_error", `${type} lookup for ${domain} failed: ${detail}`, err);
    }
  }

  #shuffleTies(hosts: MxHost[]): MxHost[] {
    const out = hosts.slice();
    for (let start = 0; start < out.length;) {
      let end = start + 1;
      while (end < out.length && out[end]!.preference === out[start]!.preference) end++;
      for (let i = end - 1; i > start; i--) {
        const j = start + Math.floor(this.#random() * (i - start + 1));
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      start = end;
    }
    return out;
  }
}
