import assert from "node:assert/strict";
import {
  classifyClick,
  classifyOpen,
  type ClickFacts,
  inNetworks,
  machineRules,
  parseCidr,
  parseCidrList,
  parseIp,
  truncateIp,
} from "./machine.ts";

const rules = machineRules({
  appleNetworks: ["17.0.0.0/8", "2620:149::/32"],
  machineNetworks: ["198.51.100.0/24"],
  scannerMs: 15_000,
});
const THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0";
const FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";

Deno.test("parseIp() reads IPv4, IPv6 with :: and embedded IPv4, and refuses junk", () => {
  assert.equal(parseIp("10.0.0.1"), (0xffffn << 32n) | 0x0a000001n);
  assert.equal(parseIp("::ffff:10.0.0.1"), parseIp("10.0.0.1"));
  assert.equal(parseIp("::1"), 1n);
  assert.equal(parseIp("2001:db8::1"), (0x20010db8n << 96n) | 1n);
  assert.equal(parseIp("[2001:db8::1]"), parseIp("2001:db8::1"));
  for (const bad of ["", "unknown", "1.2.3", "256.1.1.1", "1::2::3", "1:2:3:4:5:6:7:8:9", "g::1"]) {
    assert.equal(parseIp(bad), null, bad);
  }
});

Deno.test("parseCidr() and inNetworks() match IPv4 and IPv6 networks", () => {
  const nets = parseCidrList("17.0.0.0/8, 2620:149::/32,192.0.2.7");
  assert.equal(nets.length, 3);
  assert.ok(inNetworks("17.58.1.2", nets));
  assert.ok(inNetworks("::ffff:17.1.1.1", nets));
  assert.ok(!inNetworks("18.0.0.1", nets));
  assert.ok(inNetworks("2620:149:a:b::1", nets));
  assert.ok(!inNetworks("2620:150::1", nets));
  assert.ok(inNetworks("192.0.2.7", nets));
  assert.ok(!inNetworks("192.0.2.8", nets));
  assert.ok(!inNetworks(null, nets));
  assert.ok(inNetworks("8.8.8.8", [parseCidr("0.0.0.0/0")]));
  for (const bad of ["17.0.0.0/33", "abc/8", "1.2.3.4/8/9", "::/129"]) {
    assert.throws(() => parseCidr(bad), /CIDR/, bad);
  }
});

Deno.test("truncateIp() keeps only the /24 or /48 (GDPR)", () => {
  assert.equal(truncateIp("203.0.113.77"), "203.0.113.0/24");
  assert.equal(truncateIp("::ffff:203.0.113.77"), "203.0.113.0/24");
  assert.equal(truncateIp("2001:db8:abcd:12::99"), "2001:db8:abcd::/48");
  assert.equal(truncateIp("unknown"), null);
  assert.equal(truncateIp(null), null);
});

Deno.test("classifyOpen(): Apple's proxy by user agent or network; scanners; people", () => {
  const hit = (userAgent: string | null, ip = "203.0.113.5", method = "GET") => ({
    userAgent,
    ip,
    method,
  });
  assert.equal(classifyOpen(hit(THUNDERBIRD), rules), null);
  assert.equal(classifyOpen(hit("Mozilla/5.0"), rules), "apple_privacy_proxy");
  assert.equal(classifyOpen(hit(FIREFOX, "17.1.2.3"), rules), "apple_privacy_proxy");
  assert.equal(classifyOpen(hit(THUNDERBIRD, "198.51.100.9"), rules), "machine_network");
  assert.equal(classifyOpen(hit("Barracuda Sentinel (EE)"), rules), "scanner_user_agent");
  assert.equal(classifyOpen(hit("python-requests/2.32"), rules), "scanner_user_agent");
  assert.equal(classifyOpen(hit(null), rules), "no_user_agent");
  assert.equal(classifyOpen(hit(THUNDERBIRD, "203.0.113.5", "HEAD"), rules), "head_request");
  // Gmail's image proxy fetches when the person opens: a human open.
  const gmail =
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)";
  assert.equal(classifyOpen(hit(gmail, "66.249.84.1"), rules), null);
});

Deno.test("classifyClick(): timing after delivery, bursts over links, no prior open", () => {
  const sentAt = new Date("2026-11-29T10:00:00Z");
  const base: ClickFacts = {
    method: "GET",
    userAgent: FIREFOX,
    ip: "203.0.113.5",
    at: new Date(sentAt.getTime() + 3600_000),
    sentAt,
    opened: true,
    link: 0,
    linkCount: 5,
    recent: [],
  };
  assert.equal(classifyClick(base, rules), null);
  assert.equal(
    classifyClick({ ...base, at: new Date(sentAt.getTime() + 4_000) }, rules),
    "click_too_soon",
  );
  // Apple's network is not a reason for clicks: MPP never follows links.
  assert.equal(classifyClick({ ...base, ip: "17.1.1.1" }, rules), null);
  assert.equal(classifyClick({ ...base, method: "HEAD" }, rules), "head_request");
  const now = base.at.getTime();
  const burst = [{ link: 1, at: now - 1000 }, { link: 2, at: now - 500 }];
  assert.equal(classifyClick({ ...base, recent: burst }, rules), "click_burst");
  // The same links long ago, or the same link twice, is a person.
  assert.equal(
    classifyClick({ ...base, recent: burst.map((x) => ({ ...x, at: x.at - 60_000 })) }, rules),
    null,
  );
  assert.equal(classifyClick({ ...base, recent: [{ link: 0, at: now - 100 }] }, rules), null);
  // A two-link message: both clicked within seconds is a burst.
  assert.equal(
    classifyClick({ ...base, linkCount: 2, link: 1, recent: [{ link: 0, at: now - 800 }] }, rules),
    "click_burst",
  );
  // No open yet, a minute after delivery: a scanner; an hour after: a person with images off.
  assert.equal(
    classifyClick({ ...base, opened: false, at: new Date(sentAt.getTime() + 60_000) }, rules),
    "click_before_open",
  );
  assert.equal(classifyClick({ ...base, opened: false }, rules), null);
  // Rules off.
  const off = machineRules({ scannerMs: 0 });
  assert.equal(classifyClick({ ...base, at: new Date(sentAt.getTime() + 1000) }, off), null);
});
