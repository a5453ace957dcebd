import assert from "node:assert/strict";
import { en } from "../i18n/en.ts";
import { ADDRESS_PROBLEMS, type AddressProblem, normalizeAddress } from "./address.ts";

function ok(input: string, address: string, key = address.toLowerCase()) {
  assert.deepEqual(normalizeAddress(input), { ok: true, address, key }, JSON.stringify(input));
}

function bad(input: string, reason: AddressProblem) {
  assert.deepEqual(normalizeAddress(input), { ok: false, reason }, JSON.stringify(input));
}

/** A domain of exactly `length` characters, in labels of at most 63, ending in ".se". */
function domainOf(length: number): string {
  const labels = ["se"];
  let size = 2;
  while (size < length) {
    const room = length - size - 1;
    // Never leave room for an empty label.
    const n = room === 64 ? 62 : Math.min(63, room);
    labels.unshift("x".repeat(n));
    size += n + 1;
  }
  const domain = labels.join(".");
  assert.equal(domain.length, length);
  return domain;
}

Deno.test("IDN domains are stored as punycode; Unicode and punycode input are one key", () => {
  ok("user@exämple.se", "user@xn--exmple-cua.se");
  ok("matti@Jyväskylä.FI", "matti@xn--jyvskyl-7wae.fi");
  ok("Åsa@Ærø.dk", "Åsa@xn--r-3fa9c.dk", "åsa@xn--r-3fa9c.dk");
  ok("user@XN--EXMPLE-CUA.SE", "user@xn--exmple-cua.se");
  // UTS 46 maps full-width letters and the ideographic full stop too.
  ok("user@ｕｎｉ。se", "user@uni.se");
});

Deno.test("the domain is lower-cased; the local part is stored as written, compared without case", () => {
  ok("Anna.Berg@UNI.SE", "Anna.Berg@uni.se", "anna.berg@uni.se");
  ok("ÅSA.ÖBERG@lu.se", "ÅSA.ÖBERG@lu.se", "åsa.öberg@lu.se");
  const a = normalizeAddress("Anna@uni.se");
  const b = normalizeAddress("aNNA@UNI.se");
  assert.ok(a.ok && b.ok && a.key === b.key && a.address !== b.address);
});

Deno.test("UTF-8 local parts (RFC 6531) are accepted; a decomposed å has the same key", () => {
  ok("åsa@uni.se", "åsa@uni.se");
  ok("jyväskylä.kaupunki@jkl.fi", "jyväskylä.kaupunki@jkl.fi");
  const decomposed = "a\u030Asa@uni.se";
  const r = normalizeAddress(decomposed);
  assert.ok(r.ok);
  assert.equal(r.address, decomposed, "stored exactly as written");
  assert.equal(r.key, "åsa@uni.se");
});

Deno.test("only surrounding whitespace is forgiven, and a trailing dot on the domain", () => {
  ok("  anna@uni.se\t\r\n", "anna@uni.se");
  ok("\uFEFFanna@uni.se", "anna@uni.se");
  ok("anna@uni.se.", "anna@uni.se");
  bad("<anna@uni.se>", "invalid_local");
  bad("mailto:anna@uni.se", "invalid_local");
  bad("Anna Berg <anna@uni.se>", "invalid_characters");
});

Deno.test("quoted local parts are accepted; needless quotes do not change the key", () => {
  ok('"anna berg"@uni.se', '"anna berg"@uni.se');
  ok('"a@b"@uni.se', '"a@b"@uni.se');
  ok('"a\\"b"@uni.se', '"a\\"b"@uni.se');
  ok('"Anna"@uni.se', '"Anna"@uni.se', "anna@uni.se");
  ok('"an\\na"@uni.se', '"an\\na"@uni.se', "anna@uni.se");
  bad('""@uni.se', "invalid_local");
  bad('"open@uni.se', "invalid_local");
  bad('"a"b@uni.se', "invalid_local");
  bad('"a\\\u00e5"@uni.se', "invalid_local");
});

Deno.test("empty and missing_at", () => {
  bad("", "empty");
  bad(" \t ", "empty");
  bad("anna.uni.se", "missing_at");
  bad("no-at-sign", "missing_at");
});

Deno.test("invalid_characters: controls, CR/LF, spaces, invisible and replacement characters", () => {
  bad("anna berg@uni.se", "invalid_characters");
  bad("anna@uni .se", "invalid_characters");
  bad("anna@uni.se\r\nBcc: all@uni.se", "invalid_characters");
  bad("an\u0000na@uni.se", "invalid_characters");
  bad("an\u0085na@uni.se", "invalid_characters");
  bad("an\u00a0na@uni.se", "invalid_characters");
  bad("an\u200bna@uni.se", "invalid_characters");
  bad("\u202eanna@uni.se", "invalid_characters");
  bad("anna@uni\u2028.se", "invalid_characters");
  bad("\ud800anna@uni.se", "invalid_characters");
  bad("\uFFFDsa@uni.se", "invalid_characters");
});

Deno.test("local part: at most 64 octets, counted in UTF-8", () => {
  ok(`${"a".repeat(64)}@uni.se`, `${"a".repeat(64)}@uni.se`);
  bad(`${"a".repeat(65)}@uni.se`, "local_too_long");
  ok(`${"å".repeat(32)}@uni.se`, `${"å".repeat(32)}@uni.se`);
  bad(`${"å".repeat(32)}a@uni.se`, "local_too_long");
});

Deno.test("invalid_local: dot-atom rules", () => {
  for (
    const local of ["", ".anna", "anna.", "an..na", "an(na", "an,na", "a@b", "an\\na", "an[na]"]
  ) {
    bad(`${local}@uni.se`, "invalid_local");
  }
  ok("a!#$%&'*+/=?^_`{|}~-z@uni.se", "a!#$%&'*+/=?^_`{|}~-z@uni.se");
});

Deno.test("labels: at most 63 octets, measured after punycode", () => {
  ok(`anna@${"x".repeat(63)}.se`, `anna@${"x".repeat(63)}.se`);
  bad(`anna@${"x".repeat(64)}.se`, "label_too_long");
  // 56 characters, but their punycode is what goes on the wire.
  const idn = normalizeAddress(`anna@ä${"a".repeat(55)}.se`);
  assert.ok(idn.ok && idn.address.split("@")[1]!.split(".")[0]!.length === 63);
  bad(`anna@ä${"a".repeat(56)}.se`, "label_too_long");
});

Deno.test("domain at most 255 octets, whole address at most 254", () => {
  // At 255 the domain passes its own limit; the path limit still stops it.
  bad(`a@${domainOf(255)}`, "address_too_long");
  bad(`a@${domainOf(256)}`, "domain_too_long");
  const local = "a".repeat(64);
  const at = `${local}@${domainOf(254 - 65)}`;
  assert.equal(at.length, 254);
  ok(at, at);
  bad(`${local}@${domainOf(255 - 65)}`, "address_too_long");
  // Octets, not characters: 32 å in the local part are 64 octets.
  const wide = `${"å".repeat(32)}@${domainOf(254 - 65)}`;
  assert.equal(new TextEncoder().encode(wide).length, 254);
  ok(wide, wide);
  bad(`${"å".repeat(32)}@${domainOf(255 - 65)}`, "address_too_long");
});

Deno.test("invalid_domain: a dot, LDH labels, no edge hyphens, no numeric TLD, valid punycode", () => {
  for (
    const domain of [
      "",
      ".",
      "se",
      "localhost",
      "-uni.se",
      "uni-.se",
      "un_i.se",
      "uni..se",
      ".uni.se",
      "uni.se..",
      "1.2.3.4",
      "uni.123",
      "xn--zz.se",
      "uni.se/x",
      "[192.0.2.1",
    ]
  ) {
    bad(`anna@${domain}`, "invalid_domain");
  }
  ok("anna@123.se", "anna@123.se");
  ok("anna@a-b--c.se", "anna@a-b--c.se");
});

Deno.test("address literals are refused with their own reason", () => {
  bad("anna@[192.0.2.1]", "address_literal");
  bad("anna@[IPv6:2001:db8::1]", "address_literal");
});

Deno.test("ADDRESS_PROBLEMS lists every reason, each with a catalogue message", () => {
  const seen = new Set<string>();
  for (
    const input of [
      "",
      "a b@uni.se",
      "anna",
      `${"a".repeat(65)}@uni.se`,
      `a@${domainOf(256)}`,
      `a@${domainOf(255)}`,
      `a@${"x".repeat(64)}.se`,
      ".a@uni.se",
      "a@se",
      "a@[192.0.2.1]",
    ]
  ) {
    const r = normalizeAddress(input);
    if (!r.ok) seen.add(r.reason);
  }
  assert.deepEqual([...seen].sort(), [...ADDRESS_PROBLEMS].sort());
  for (const reason of ADDRESS_PROBLEMS) assert.ok(`issue.${reason}` in en, reason);
});
