// SSRF: webhook URLs that lead to loopback, private, link-local, multicast or unspecified
// addresses — in any spelling, or through a name that resolves there — are refused unless the
// operator allows internal targets; public ones pass. Delivery checks again (DNS rebinding).
import assert from "node:assert/strict";
import { parseTarget, resolveTarget, TargetRefused } from "./ssrf.ts";
import { postJson } from "./http_post.ts";
import { startReceiver } from "./_test_receiver.ts";

const strict = { allowPrivate: false, allowHttp: false };
const open = { allowPrivate: true, allowHttp: true };
/** A resolver that knows a few names, as a DNS server under an attacker's control would. */
const names: Record<string, string[]> = {
  "hooks.example.com": ["93.184.215.14"],
  "rebind.example.com": ["93.184.215.14", "127.0.0.1"],
  "meta.example.com": ["169.254.169.254"],
  "v6.example.com": ["2606:4700:4700::1111"],
  "mapped.example.com": ["::ffff:10.0.0.1"],
};
const resolve = (host: string) => Promise.resolve(names[host] ?? []);

async function reason(url: string, policy = strict): Promise<string> {
  try {
    await resolveTarget(parseTarget(url, policy), policy, resolve);
    return "ok";
  } catch (e) {
    assert.ok(e instanceof TargetRefused, String(e));
    return e.reason;
  }
}

Deno.test("internal targets are refused in every spelling", async () => {
  const refused = [
    "https://127.0.0.1/hook",
    "https://127.1.2.3/",
    "https://localhost/hook",
    "https://api.localhost/",
    "https://LOCALHOST./",
    "https://10.1.2.3/",
    "https://172.16.0.1/",
    "https://172.31.255.255/",
    "https://192.168.1.1/",
    "https://100.64.0.1/",
    "https://169.254.169.254/latest/meta-data/",
    "https://0.0.0.0/",
    "https://224.0.0.1/",
    "https://255.255.255.255/",
    "https://[::1]/",
    "https://[::]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:169.254.169.254]/",
    "https://[::ffff:7f00:1]/",
    "https://[0:0:0:0:0:ffff:a00:1]/",
    "https://[64:ff9b::7f00:1]/",
    "https://[2002:7f00:1::]/",
    "https://[fe80::1]/",
    "https://[fc00::1]/",
    "https://[fd12:3456::1]/",
    "https://[ff02::1]/",
    "https://0x7f000001/",
    "https://2130706433/",
    "https://0177.0.0.1/",
    "https://0x7f.1/",
    "https://017700000001/",
    "https://3232235777/", // 192.168.1.1
    "https://rebind.example.com/", // one of its answers is loopback
    "https://meta.example.com/",
    "https://mapped.example.com/",
  ];
  for (const url of refused) assert.equal(await reason(url), "private_address", url);
});

Deno.test("public targets pass; scheme, credentials and unknown names are refused", async () => {
  for (
    const url of [
      "https://hooks.example.com/x?y=1",
      "https://93.184.215.14/",
      "https://v6.example.com/",
      "https://[2606:4700:4700::1111]/",
    ]
  ) {
    assert.equal(await reason(url), "ok", url);
  }
  assert.equal(await reason("http://hooks.example.com/"), "scheme");
  assert.equal(await reason("ftp://hooks.example.com/"), "scheme");
  assert.equal(await reason("https://user:pw@hooks.example.com/"), "credentials");
  assert.equal(await reason("not a url"), "invalid_url");
  assert.equal(await reason("https://nowhere.example.com/"), "unresolvable");
  // The operator's switches: plain http and internal addresses.
  assert.equal(await reason("http://127.0.0.1:8080/", open), "ok");
  assert.equal(await reason("http://hooks.example.com/", { ...strict, allowHttp: true }), "ok");
});

Deno.test("delivery checks the target again and connects only to the checked address", async () => {
  const rx = startReceiver();
  try {
    const url = new URL(rx.url);
    const opts = { timeoutMs: 5_000, headers: {} };
    // Saved when it was public; now the name answers 127.0.0.1 (rebinding): no request is made.
    const rebound = new URL(`http://rebind.example.com:${url.port}/hooks/skicka`);
    const refused = await postJson(rebound, "{}", {
      ...opts,
      policy: { allowPrivate: false, allowHttp: true },
      resolve,
    });
    assert.equal(refused.status, null);
    assert.match(refused.error ?? "", /private_address/);
    assert.equal(rx.received.length, 0);
    // Allowed: the connection goes to the address the resolver gave, whatever the name.
    const pinned = new URL(`http://any-name.test:${url.port}/hooks/skicka`);
    const ok = await postJson(pinned, '{"a":1}', {
      ...opts,
      policy: open,
      resolve: () => Promise.resolve(["127.0.0.1"]),
    });
    assert.equal(ok.status, 200);
    assert.equal(rx.received.length, 1);
    assert.equal(rx.received[0]!.body, '{"a":1}');
    assert.equal(rx.received[0]!.headers.get("host"), `any-name.test:${url.port}`);
    // Redirects are answers, not instructions: a 302 is a failed delivery, not followed.
    rx.script.push(302);
    const redirected = await postJson(url, "{}", { ...opts, policy: open });
    assert.equal(redirected.status, 302);
    assert.equal(rx.received.length, 2);
  } finally {
    await rx.close();
  }
});
