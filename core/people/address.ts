// Email address normalisation and validation (RFC 5321 limits, RFC 5322 syntax, RFC 6531 UTF-8
// local parts, IDNA domains). The stored form keeps the local part as written; the key compares
// case-insensitively.
import { domainToASCII } from "node:url";

export const ADDRESS_PROBLEMS = [
  "empty",
  "invalid_characters",
  "missing_at",
  "local_too_long",
  "domain_too_long",
  "address_too_long",
  "label_too_long",
  "invalid_local",
  "invalid_domain",
  "address_literal",
] as const;
export type AddressProblem = (typeof ADDRESS_PROBLEMS)[number];

export type AddressResult =
  | { ok: true; address: string; key: string }
  | { ok: false; reason: AddressProblem };

const encoder = new TextEncoder();
const octets = (s: string) => encoder.encode(s).length;

// dot-atom: atext runs separated by single dots; non-ASCII allowed (RFC 6531 UTF8-non-ascii).
const DOT_ATOM =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\u{10FFFF}-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\u{10FFFF}-]+)*$/u;
// quoted-string: printable ASCII except " and \, or a quoted pair.
const QUOTED = /^"([\x20\x21\x23-\x5b\x5d-\x7e\u0080-\u{10FFFF}]|\\[\x20-\x7e])*"$/u;
const LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
// Control characters, and Unicode line/paragraph separators, never belong in an address.
// deno-lint-ignore no-control-regex -- finding control characters is the point
const CONTROL = /[\x00-\x1f\x7f\u0085\u2028\u2029]/;

export function normalizeAddress(input: string): AddressResult {
  const s = input.trim();
  if (!s) return { ok: false, reason: "empty" };
  if (CONTROL.test(s)) return { ok: false, reason: "invalid_characters" };
  const at = s.lastIndexOf("@");
  if (at < 0) return { ok: false, reason: "missing_at" };
  const local = s.slice(0, at);
  const rawDomain = s.slice(at + 1);
  // Whitespace is only legal inside a quoted local part.
  if (/\s/.test(rawDomain) || (!local.startsWith('"') && /\s/.test(local))) {
    return { ok: false, reason: "invalid_characters" };
  }
  if (!local || !rawDomain) return { ok: false, reason: "missing_at" };
  if (octets(local) > 64) return { ok: false, reason: "local_too_long" };
  if (!DOT_ATOM.test(local) && !QUOTED.test(local)) return { ok: false, reason: "invalid_local" };
  if (rawDomain.startsWith("[")) return { ok: false, reason: "address_literal" };

  const domain = rawDomain.endsWith(".") ? rawDomain.slice(0, -1) : rawDomain;
  if (octets(domain) > 255) return { ok: false, reason: "domain_too_long" };
  // deno-lint-ignore no-control-regex -- "all ASCII" test
  const ascii = /^[\x00-\x7f]*$/.test(domain) ? domain.toLowerCase() : domainToASCII(domain);
  if (!ascii) return { ok: false, reason: "invalid_domain" };
  if (ascii.length > 255) return { ok: false, reason: "domain_too_long" };
  const labels = ascii.split(".");
  if (labels.length < 2) return { ok: false, reason: "invalid_domain" };
  for (const label of labels) {
    if (label.length > 63) return { ok: false, reason: "label_too_long" };
    if (!LABEL.test(label)) return { ok: false, reason: "invalid_domain" };
  }
  if (/^\d+$/.test(labels[labels.length - 1]!)) return { ok: false, reason: "invalid_domain" };

  const address = `${local}@${ascii}`;
  // RFC 5321 4.5.3.1.3: a path is at most 256 octets including the angle brackets.
  if (octets(address) > 254) return { ok: false, reason: "address_too_long" };
  return { ok: true, address, key: address.toLowerCase() };
}
