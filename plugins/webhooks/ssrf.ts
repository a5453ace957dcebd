// Which webhook targets Skicka may call: public https URLs only, unless the operator allows plain
// http or internal addresses. Addresses are checked after DNS resolution, at save time and again
// at every delivery (where the connection then goes to the address that was checked), so a name
// that later resolves to 127.0.0.1 or 169.254.169.254 (DNS rebinding) is refused too.
import { isIP } from "node:net";
import { lookup } from "node:dns/promises";
import { AddressRefused, resolveAndCheck, type Resolver } from "../../core/http/ssrf.ts";

export type { Resolver };

/** A target that must not be called, with the reason as a catalogue key suffix. */
export class TargetRefused extends Error {
  override name = "TargetRefused";
  constructor(readonly reason: TargetReason, detail = "") {
    super(`${reason}${detail ? `: ${detail}` : ""}`);
  }
}
export type TargetReason =
  | "invalid_url"
  | "scheme"
  | "credentials"
  | "private_address"
  | "unresolvable";

export interface TargetPolicy {
  allowPrivate: boolean;
  allowHttp: boolean;
}

/** Every address the system resolver (getaddrinfo: /etc/hosts, then DNS) gives for a name. */
export const systemResolver: Resolver = async function systemResolver(host) {
  try {
    const all = await lookup(host, { all: true, verbatim: true });
    return all.map((a) => a.address);
  } catch {
    return [];
  }
};

/**
 * Parses and checks a webhook URL's form (scheme, no credentials, a host). The WHATWG parser
 * turns 2130706433, 0x7f000001 and 0177.0.0.1 into 127.0.0.1, so literal addresses in any
 * spelling are checked in their canonical form.
 */
export function parseTarget(raw: string, policy: TargetPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new TargetRefused("invalid_url");
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && policy.allowHttp)) {
    throw new TargetRefused("scheme", url.protocol);
  }
  if (url.username || url.password) throw new TargetRefused("credentials");
  if (!url.hostname) throw new TargetRefused("invalid_url");
  return url;
}

/** The host of a URL without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, "");
}

/**
 * The addresses a request to this URL may connect to, all checked by the shared rule
 * (core/http/ssrf.ts resolveAndCheck: a literal as it is; a name resolved, one private answer
 * refusing it). Resolved by getaddrinfo, which is what the pinned connection uses. Throws
 * TargetRefused.
 */
export async function resolveTarget(
  url: URL,
  policy: TargetPolicy,
  resolve: Resolver = systemResolver,
): Promise<string[]> {
  const host = hostOf(url);
  if (policy.allowPrivate) {
    if (isIP(host)) return [host];
    const addresses = await resolve(host.toLowerCase().replace(/\.$/, ""));
    if (!addresses.length) throw new TargetRefused("unresolvable", host);
    return addresses;
  }
  try {
    return await resolveAndCheck(host, { resolve });
  } catch (e) {
    if (e instanceof AddressRefused) throw new TargetRefused(e.reason, e.host);
    throw e;
  }
}
