// Email address normalisation and validation (RFC 5321 limits, RFC 5322 syntax, RFC 6531 UTF-8
// local parts, IDNA domains). The stored form keeps the local part as written; the key compares
// case-insensitively.
import { domainToASCII } from "node:url";

/** Reason codes, for message catalogue keys `issue.<reason>` / `address.<reason>`. */
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

/** RFC 5321 4.5.3.1: local part 64 octets, domain 255, a path 256 including `<` and `>`. */
const MAX_LOCAL = 64;
const MAX_DOMAIN = 255;
const MAX_ADDRESS = 254;
const MAX_LABEL = 63;

const encoder = new TextEncoder();
const octets = (s: string) => encoder.encode(s).length;

// atext (RFC 5322 3.2.3), plus any non-ASCII character (RFC 6531 UTF8-non-ascii).
const ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~\\u0080-\\u{10FFFF}-";
const DOT_ATOM = new RegExp(`^[${ATEXT}]+(\\.[${ATEXT}]+)*$`, "u");
// quoted-string: at least one printable character other than `"` and `\`, or a quoted pair.
const QUOTED = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\u{10FFFF}]|\\[\x20-\x7e])+"$/u;
const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
/**
 * Never part of an address: control and format characters (zero-width and bidi marks, which
 * make look-alikes), line separators, lone surrogates, and U+FFFD, the trace of a file read in
 * the wrong encoding.
 */
const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\uFFFD]/u;
const SPACE = /\s/;

/** Validates one address and returns the form to store and the key that makes it unique. */
export function normalizeAddress(input: string): AddressResult {
  const fail = (reason: AddressProblem): AddressResult => ({ ok: false, reason });
  const s = input.trim();
  if (!s) return fail("empty");
  if (FORBIDDEN.test(s)) return fail("invalid_characters");
  // The last @: a quoted local part may contain one.
  const at = s.lastIndexOf("@");
  if (at < 0) return fail("missing_at");
  const local = s.slice(0, at);
  const rawDomain = s.slice(at + 1);
  // Whitespace is only legal inside a quoted local part.
  if (SPACE.test(rawDomain) || (!local.startsWith('"') && SPACE.test(local))) {
    return fail("invalid_characters");
  }

  if (octets(local) > MAX_LOCAL) return fail("local_too_long");
  if (!DOT_ATOM.test(local) && !QUOTED.test(local)) return fail("invalid_local");

  if (rawDomain.startsWith("[") && rawDomain.endsWith("]")) return fail("address_literal");
  // A trailing dot (a fully qualified name, "anna@uni.se.") names the same domain.
  const domain = rawDomain.endsWith(".") ? rawDomain.slice(0, -1) : rawDomain;
  if (!domain) return fail("invalid_domain");
  // UTS 46: lower-cases, maps Unicode to punycode and rejects malformed xn-- labels (as "").
  const ascii = domainToASCII(domain);
  if (!ascii) return fail("invalid_domain");
  if (ascii.length > MAX_DOMAIN) return fail("domain_too_long");
  const labels = ascii.split(".");
  if (labels.length < 2) return fail("invalid_domain");
  for (const label of labels) {
    if (label.length > MAX_LABEL) return fail("label_too_long");
    if (!LABEL.test(label)) return fail("invalid_domain");
  }
  // An all-numeric top-level domain would make the name an IPv4 address.
  if (/^\d+$/.test(labels.at(-1)!)) return fail("invalid_domain");

  const address = `${local}@${ascii}`;
  if (octets(address) > MAX_ADDRESS) return fail("address_too_long");
  return { ok: true, address, key: `${localKey(local)}@${ascii}` };
}

/**
 * The local part as compared: `"anna"` is the same mailbox as `anna` (RFC 5321 4.1.2), and a
 * decomposed "å" (as macOS writes it) the same as a composed one.
 */
function localKey(local: string): string {
  let key = local;
  if (local.startsWith('"')) {
    const inner = local.slice(1, -1).replace(/\\(.)/g, "$1");
    if (DOT_ATOM.test(inner)) key = inner;
  }
  return key.normalize("NFC").toLowerCase();
}
