import assert from "node:assert/strict";
import { type DnsResolver, MxError, type MxRecord, MxResolver } from "./mx.ts";

interface Zone {
  mx?: Record<string, MxRecord[]>;
  a?: Record<string, string[]>;
  aaaa?: Record<string, string[]>;
  /** Names whose lookups fail, like a SERVFAIL or a timeout. */
  broken?: string[];
}

/** An in-memory DNS that counts the questions it is asked. */
function fakeDns(zone: Zone): DnsResolver & { asked: string[] } {
  const asked: string[] = [];
  const answer = <T>(type: string, table: Record<string, T[]> | undefined) => (name: string) => {
    asked.push(`${type} ${name}`);
    if (zone.broken?.includes(name)) return Promise.reject(new Error("SERVFAIL"));
    return Promise.resolve(table?.[name] ?? []);
  };
  return {
    asked,
    mx: answer("MX", zone.mx),
    a: answer("A", zone.a),
    aaaa: answer("AAAA", zone.aaaa),
  };
}

async function mxError(p: Promise<unknown>): Promise<MxError> {
  const err = await p.then(() => undefined, (e) => e);
  assert.ok(err instanceof MxError, `expected MxError, got ${err}`);
  return err;
}

Deno.test("resolve() orders MX hosts by preference and normalises their names", async () => {
  const dns = fakeDns({
    mx: {
      "example.se": [
        { preference: 20, exchange: "Backup.Example.se." },
        { preference: 10, exchange: "mx1.example.se." },
      ],
    },
  });
  const mx = new MxResolver({ resolver: dns });
  const result = await mx.resolve("EXAMPLE.se.");
  assert.deepEqual(result, {
    domain: "example.se",
    hosts: [{ host: "mx1.example.se", preference: 10 }, {
      host: "backup.example.se",
      preference: 20,
    }],
    implicit: false,
  });
  assert.deepEqual(dns.asked, ["MX example.se"]);
});

Deno.test("resolve() shuffles hosts of equal preference", async () => {
  const dns = fakeDns({
    mx: {
      "x.test": [
        { preference: 5, exchange: "a.x.test" },
        { preference: 5, exchange: "b.x.test" },
        { preference: 9, exchange: "c.x.test" },
      ],
    },
  });
  let r = 0;
  const mx = new MxResolver({ resolver: dns, random: () => (r++ % 2 === 0 ? 0 : 0.99) });
  const orders = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const { hosts } = await mx.resolve("x.test");
    orders.add(hosts.map((h) => h.host).join(","));
    assert.equal(hosts[2]!.host, "c.x.test");
  }
  assert.deepEqual([...orders].sort(), [
    "a.x.test,b.x.test,c.x.test",
    "b.x.test,a.x.test,c.x.test",
  ]);
});

Deno.test("resolve() falls back to the domain's A/AAAA record when it has no MX", async () => {
  const dns = fakeDns({ aaaa: { "v6only.test": ["2001:db8::25"] } });
  const result = await new MxResolver({ resolver: dns }).resolve("v6only.test");
  assert.deepEqual(result, {
    domain: "v6only.test",
    hosts: [{ host: "v6only.test", preference: 0 }],
    implicit: true,
  });
  assert.deepEqual(dns.asked.sort(), ["A v6only.test", "AAAA v6only.test", "MX v6only.test"]);
});

Deno.test("resolve() fails permanently without MX and address, and for a null MX", async () => {
  const dns = fakeDns({
    mx: { "nomail.test": [{ preference: 0, exchange: "." }] },
    a: { "nomail.test": ["192.0.2.1"] },
  });
  const mx = new MxResolver({ resolver: dns });
  const none = await mxError(mx.resolve("nothing.test"));
  assert.equal(none.reason, "no_mail_host");
  assert.equal(none.temporary, false);
  const nullMx = await mxError(mx.resolve("nomail.test"));
  assert.equal(nullMx.reason, "null_mx");
  assert.equal(nullMx.temporary, false);
  // A null MX means no mail at all: the A record must not be used.
  assert.ok(!dns.asked.includes("A nomail.test"));
  const invalid = await mxError(mx.resolve("bad domain.test"));
  assert.equal(invalid.reason, "invalid_domain");
});

Deno.test("resolve() reports a failed lookup as temporary, never as 'no MX'", async () => {
  const dns = fakeDns({ broken: ["flaky.test"], a: { "flaky.test": ["192.0.2.1"] } });
  const err = await mxError(new MxResolver({ resolver: dns }).resolve("flaky.test"));
  assert.equal(err.reason, "dns_error");
  assert.equal(err.temporary, true);
  assert.match(err.message, /MX lookup for flaky\.test failed: SERVFAIL/);
  assert.deepEqual(dns.asked, ["MX flaky.test"]);
});

Deno.test("resolve() caches answers and errors for a TTL and shares pending lookups", async () => {
  let now = 0;
  const zone: Zone = {
    mx: { "c.test": [{ preference: 1, exchange: "mx.c.test" }] },
    broken: ["d.test"],
  };
  const dns = fakeDns(zone);
  const mx = new MxResolver({ resolver: dns, now: () => now, ttlMs: 1_000, errorTtlMs: 100 });
  await Promise.all([mx.resolve("c.test"), mx.resolve("C.test"), mx.resolve("c.test.")]);
  assert.equal(dns.asked.length, 1);
  now = 999;
  await mx.resolve("c.test");
  assert.equal(dns.asked.length, 1);
  now = 1_000;
  await mx.resolve("c.test");
  assert.equal(dns.asked.length, 2);

  await mxError(mx.resolve("d.test"));
  await mxError(mx.resolve("d.test"));
  assert.equal(dns.asked.length, 3);
  zone.broken = [];
  zone.mx!["d.test"] = [{ preference: 1, exchange: "mx.d.test" }];
  now += 100;
  assert.equal((await mx.resolve("d.test")).hosts[0]!.host, "mx.d.test");
});

Deno.test("resolve() handles IDNs and address literals", async () => {
  const dns = fakeDns({ mx: { "xn--rksmrgs-5wao1o.se": [{ preference: 1, exchange: "mx.se" }] } });
  const mx = new MxResolver({ resolver: dns });
  assert.equal((await mx.resolve("räksmörgås.se")).hosts[0]!.host, "mx.se");
  assert.deepEqual((await mx.resolve("[192.0.2.7]")).hosts, [{ host: "192.0.2.7", preference: 0 }]);
  assert.deepEqual((await mx.resolve("[IPv6:2001:db8::7]")).hosts, [
    { host: "2001:db8::7", preference: 0 },
  ]);
  assert.deepEqual(dns.asked, ["MX xn--rksmrgs-5wao1o.se"]);
});
