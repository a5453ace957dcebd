// The outbound address check: every spelling of a private address is refused, public ones pass,
// and a name is judged by all of its answers.
import assert from "node:assert/strict";
import {
  AddressRefused,
  dnsResolver,
  isPrivateAddress,
  parseIPv4,
  parseIPv6,
  resolveAndCheck,
} from "./ssrf.ts";

const PRIVATE = [
  // IPv4: loopback, private, link-local, CGNAT, unspecified, multicast, broadcast, reserved.
  "127.0.0.1",
  "127.255.255.254",
  "10.0.0.5",
  "172.16.0.1",
  "172.31.255.255",
  "192.168.1.1",
  "169.254.169.254",
  "100.64.0.1",
  "100.127.255.255",
  "0.0.0.0",
  "0.1.2.3",
  "224.0.0.1",
  "239.255.255.250",
  "240.0.0.1",
  "255.255.255.255",
  "192.0.0.8",
  "192.0.2.1",
  "198.18.0.1",
  "198.19.255.255",
  "198.51.100.7",
  "203.0.113.9",
  "192.88.99.1",
  // IPv4 in the forms inet_aton (and curl) reads.
  "2130706433",
  "0x7f000001",
  "0177.0.0.1",
  "0x7f.0.0.1",
  "127.1",
  "127.0.1",
  "017700000001",
  "0xA9FEA9FE",
  "3232235777",
  // IPv6: unspecified, loopback, IPv4-compatible.
  "::",
  "::1",
  "0:0:0:0:0:0:0:1",
  "[::1]",
  "::7f00:1",
  "[::7f00:1]",
  "::127.0.0.1",
  "::a9fe:a9fe",
  // IPv4-mapped, as written and as a URL parser normalises it.
  "::ffff:127.0.0.1",
  "::ffff:7f00:1",
  "[::ffff:7f00:1]",
  "::ffff:10.1.2.3",
  "::ffff:a9fe:a9fe",
  "0:0:0:0:0:ffff:c0a8:101",
  // IPv4-translated, NAT64 (well-known and local-use), 6to4 around private IPv4.
  "::ffff:0:127.0.0.1",
  "64:ff9b::127.0.0.1",
  "64:ff9b::7f00:1",
  "64:ff9b::a9fe:a9fe",
  "64:ff9b:1::808:808",
  "2002:7f00:1::",
  "2002:a00:1::1",
  "2002:c0a8:101::42",
  "2002:a9fe:a9fe::",
  // Unique-local, link-local (with a zone), site-local, multicast, discard, Teredo, docs.
  "fc00::1",
  "fd12:3456:789a::1",
  "fe80::1",
  "fe80::1%eth0",
  "febf::1",
  "fec0::1",
  "feff::1",
  "ff02::1",
  "ff05::1:3",
  "100::1",
  "2001:0:4136:e378:8000:63bf:3fff:fdd2",
  "2001:db8::1",
  "2001:10::1",
  "2001:20::1",
  // Not an address at all: refused rather than guessed.
  "",
  "not-an-ip",
  "1.2.3.4.5",
  "256.0.0.1",
  "1.2.3.-1",
  "1::2::3",
  "::ffff:1.2.3",
  "12345::",
  "1:2:3:4:5:6:7:8:9",
  "gggg::1",
];

const PUBLIC = [
  "8.8.8.8",
  "1.1.1.1",
  "93.184.216.34",
  "100.63.255.255",
  "100.128.0.1",
  "172.15.255.255",
  "172.32.0.1",
  "192.167.1.1",
  "169.253.1.1",
  "223.255.255.255",
  "134744072", // 8.8.8.8
  "0x08080808",
  "2606:4700:4700::1111",
  "2001:4860:4860::8888",
  "[2a00:1450:4001:80b::200e]",
  "::ffff:8.8.8.8",
  "::ffff:808:808",
  "64:ff9b::8.8.8.8",
  "64:ff9b::808:808",
  "2002:808:808::1",
  "fbff::1",
  "fe7f::1",
];

Deno.test("isPrivateAddress() refuses every private, reserved or unreadable form", () => {
  const missed = PRIVATE.filter((ip) => !isPrivateAddress(ip));
  assert.deepEqual(missed, []);
});

Deno.test("isPrivateAddress() lets public addresses through in every form", () => {
  const refused = PUBLIC.filter((ip) => isPrivateAddress(ip));
  assert.deepEqual(refused, []);
});

Deno.test("isPrivateAddress() agrees with the URL parser's normalised hosts", () => {
  for (
    const raw of [
      "http://[::ffff:127.0.0.1]/",
      "http://2130706433/",
      "http://0x7f.1/",
      "http://0177.0.0.1/",
      "http://[::7f00:1]/",
      "http://[64:ff9b::127.0.0.1]/",
      "http://[2002:7f00:1::]/",
    ]
  ) {
    const host = new URL(raw).hostname;
    assert.ok(isPrivateAddress(host), `${raw} → ${host}`);
  }
});

Deno.test("parseIPv4() and parseIPv6() read the forms the resolvers read", () => {
  assert.deepEqual(parseIPv4("127.1"), [127, 0, 0, 1]);
  assert.deepEqual(parseIPv4("10.0.258"), [10, 0, 1, 2]);
  assert.deepEqual(parseIPv4("0x7f.0.0.01"), [127, 0, 0, 1]);
  assert.equal(parseIPv4("4294967296"), null);
  assert.equal(parseIPv4("09.1.1.1"), null, "09 is not octal");
  assert.deepEqual(parseIPv6("::ffff:1.2.3.4")?.slice(10), [0xff, 0xff, 1, 2, 3, 4]);
  assert.deepEqual(parseIPv6("1::")?.slice(0, 2), [0, 1]);
  assert.equal(parseIPv6("1:2:3:4:5:6:7::8"), null, ":: must stand for at least one group");
  assert.equal(parseIPv6("1.2.3.4"), null);
});

Deno.test("resolveAndCheck() wants every answer public, and names that resolve", async () => {
  const dns = (answers: Record<string, string[]>) => (h: string) =>
    Promise.resolve(answers[h] ?? []);
  const resolve = dns({
    "feeds.example": ["93.184.216.34", "2606:4700:4700::1111"],
    "mixed.example": ["93.184.216.34", "::ffff:7f00:1"],
    "nat64.example": ["64:ff9b::a00:1"],
    "meta.example": ["169.254.169.254"],
  });
  assert.deepEqual(await resolveAndCheck("feeds.example", { resolve }), [
    "93.184.216.34",
    "2606:4700:4700::1111",
  ]);
  assert.deepEqual(await resolveAndCheck("FEEDS.example.", { resolve }), [
    "93.184.216.34",
    "2606:4700:4700::1111",
  ]);
  for (const host of ["mixed.example", "nat64.example", "meta.example"]) {
    await assert.rejects(
      () => resolveAndCheck(host, { resolve }),
      (e) => e instanceof AddressRefused && e.reason === "private_address",
      host,
    );
  }
  await assert.rejects(
    () => resolveAndCheck("gone.example", { resolve }),
    (e) => e instanceof AddressRefused && e.reason === "unresolvable",
  );
  // localhost is private whatever a resolver says; literals are never resolved.
  const never = () => Promise.reject(new Error("must not resolve"));
  for (const host of ["localhost", "app.localhost", "[::ffff:7f00:1]", "2130706433"]) {
    await assert.rejects(
      () => resolveAndCheck(host, { resolve: never }),
      (e) => e instanceof AddressRefused && e.reason === "private_address",
      host,
    );
  }
  assert.deepEqual(await resolveAndCheck("[2606:4700::1]", { resolve: never }), [
    "2606:4700::1",
  ]);
});

Deno.test("dnsResolver() answers what a connection would use, /etc/hosts included", async () => {
  // DNS alone does not know /etc/hosts names; the system resolver, which fetch uses, does.
  assert.ok((await dnsResolver("localhost")).includes("127.0.0.1"));
});
