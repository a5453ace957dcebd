import assert from "node:assert/strict";
import { dkimVerify } from "mailauth";
import {
  canonicalizeBody,
  canonicalizeHeader,
  createDkimSigner,
  createDkimSignerSet,
  dkimDnsTxtValue,
  DkimSignerCache,
  generateDkimKey,
} from "./dkim.ts";
import { buildMessage } from "./mime.ts";

const DOMAIN = "skicka.example";
const keys = { rsa: generateDkimKey("rsa"), ed25519: generateDkimKey("ed25519") };

/** Answers the key lookups from the generated keys, so verification never touches DNS. */
function resolverFor(records: Record<string, string>) {
  return (name: string, type: string): Promise<string[][]> => {
    const record = records[name];
    if (type !== "TXT" || record === undefined) {
      return Promise.reject(Object.assign(new Error(`ENOTFOUND ${name}`), { code: "ENOTFOUND" }));
    }
    // DNS hands long TXT records over as 255-byte strings; verifiers join them.
    return Promise.resolve([record.match(/.{1,255}/g) ?? []]);
  };
}

const resolver = resolverFor({
  [`rsa2026._domainkey.${DOMAIN}`]: keys.rsa.dnsTxtValue,
  [`ed2026._domainkey.${DOMAIN}`]: keys.ed25519.dnsTxtValue,
});

async function verify(message: string | Uint8Array, strict = true) {
  const input = typeof message === "string" ? message : new TextDecoder().decode(message);
  const result = await dkimVerify(input, { resolver, strict });
  return result.results.map((r) => ({ result: r.status.result, algo: r.algo, comment: r.status }));
}

function sampleMessage(): string {
  return buildMessage({
    from: { name: "Skicka AB", address: `news@${DOMAIN}` },
    to: [{ name: "Åsa Öberg", address: "asa@example.se" }],
    subject: "Höstens erbjudanden 🍂",
    text: "Hej Åsa!\nVälkommen.   Flera  mellanslag \t och tabb  \n\n\n",
    html: "<p>Hej Åsa!</p>\n<p>" + "Välkommen till vår höstkampanj. ".repeat(50) + "</p>",
    headers: {
      "List-Unsubscribe": `<https://${DOMAIN}/u/abc>, <mailto:u@${DOMAIN}?subject=abc>`,
      "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    },
  }).raw;
}

Deno.test("generateDkimKey() returns a PEM and the DNS record operators publish", () => {
  assert.match(keys.rsa.privateKeyPem, /^-----BEGIN PRIVATE KEY-----/);
  assert.match(keys.rsa.dnsTxtValue, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);
  assert.match(keys.ed25519.dnsTxtValue, /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
  assert.equal(dkimDnsTxtValue(keys.ed25519.privateKeyPem), keys.ed25519.dnsTxtValue);
});

for (const [kind, selector] of [["rsa", "rsa2026"], ["ed25519", "ed2026"]] as const) {
  Deno.test(`createDkimSigner() ${kind} signatures pass mailauth's verification`, async () => {
    const sign = createDkimSigner({
      domain: DOMAIN,
      selector,
      privateKeyPem: keys[kind].privateKeyPem,
    });
    const signed = sign(sampleMessage());
    assert.ok(signed.startsWith("DKIM-Signature: v=1; a="));
    const header = signed.slice(0, signed.indexOf("\r\n", signed.indexOf("b=")) + 2);
    for (const line of header.split("\r\n")) assert.ok(line.length <= 78, `line of ${line.length}`);
    const [result] = await verify(signed);
    assert.equal(result?.result, "pass", JSON.stringify(result?.comment));
    assert.equal(result?.algo, `${kind}-sha256`);
  });

  Deno.test(`createDkimSigner() ${kind} signatures fail once body or headers change`, async () => {
    const sign = createDkimSigner({
      domain: DOMAIN,
      selector,
      privateKeyPem: keys[kind].privateKeyPem,
    });
    const signed = sign(sampleMessage());
    const body = signed.replace("V=C3=A4lkommen.", "V=C3=A4lkommen!");
    assert.notEqual(body, signed);
    assert.equal((await verify(body))[0]?.result, "fail");
    const subject = signed.replace(/Subject: [^\r]+/, "Subject: Vinn en iPhone");
    assert.equal((await verify(subject))[0]?.result, "fail");
    // Cc is oversigned: adding one after signing breaks the signature.
    const cc = signed.replace("\r\nTo:", "\r\nCc: extra@example.com\r\nTo:");
    assert.equal((await verify(cc))[0]?.result, "fail");
    // Whitespace changes in transit are what relaxed canonicalization forgives.
    const rewrapped = signed.replace("MIME-Version: 1.0", "MIME-Version:   1.0 ")
      .replace("Hej =C3=85sa!\r\n", "Hej \t  =C3=85sa! \t\r\n")
      .replace(/\r\n$/, " \r\n\r\n\r\n");
    assert.equal(rewrapped.length, signed.length + 13);
    assert.equal((await verify(rewrapped))[0]?.result, "pass");
  });
}

Deno.test("createDkimSigner() signs bytes and returns bytes", async () => {
  const sign = createDkimSigner({
    domain: DOMAIN,
    selector: "ed2026",
    privateKeyPem: keys.ed25519.privateKeyPem,
    now: () => Date.UTC(2026, 0, 1),
  });
  const raw = new TextEncoder().encode(sampleMessage());
  const signed = sign(raw);
  assert.ok(signed instanceof Uint8Array);
  assert.deepEqual(signed.subarray(signed.length - raw.length), raw);
  const text = new TextDecoder().decode(signed);
  assert.match(text, /t=1767225600;/);
  assert.equal((await verify(text))[0]?.result, "pass");
});

Deno.test("createDkimSigner() handles hand-written folding, tabs and an empty body", async () => {
  const sign = createDkimSigner({
    domain: DOMAIN,
    selector: "rsa2026",
    privateKeyPem: keys.rsa.privateKeyPem,
  });
  const raw = `From: news@${DOMAIN}\r\nSubject :  Hello \t World  \r\n\tcontinued\r\n` +
    `To: a@example.com\r\nTo: b@example.com\r\n\r\n`;
  assert.equal((await verify(sign(raw)))[0]?.result, "pass");
  const withBody = raw + "a  b \t\r\n  \r\n\r\n";
  assert.equal((await verify(sign(withBody)))[0]?.result, "pass");
  assert.equal((await verify(sign(`From: news@${DOMAIN}\r\nSubject: x`)))[0]?.result, "pass");
  // SMTPUTF8 mail carries raw UTF-8 in headers; it is signed as the bytes that are sent.
  const utf8 = `From: Åsa <åsa@${DOMAIN}>\r\nSubject: Hej på dig\r\n\r\nÅÄÖ\r\n`;
  assert.equal((await verify(sign(utf8)))[0]?.result, "pass");
  assert.equal((await verify(sign(new TextEncoder().encode(utf8))))[0]?.result, "pass");
  assert.throws(() => sign("Subject: x\r\n\r\nbody"), /From header/);
});

Deno.test("canonicalizeBody() and canonicalizeHeader() follow RFC 6376 examples", () => {
  // RFC 6376 section 3.4.5.
  assert.equal(canonicalizeHeader("A: X"), "a:X");
  assert.equal(canonicalizeHeader("B : Y\t\r\n\tZ  "), "b:Y Z");
  const body = (s: string) =>
    new TextDecoder().decode(canonicalizeBody(new TextEncoder().encode(s)));
  assert.equal(body(" C \r\nD \t E\r\n\r\n\r\n"), " C\r\nD E\r\n");
  assert.equal(body(""), "");
  assert.equal(body("\r\n\r\n"), "");
  assert.equal(body("  \t"), "");
  assert.equal(body("x"), "x\r\n");
  assert.equal(body("å  ä\t\r\n\r\nx \r\n \r\n"), "å ä\r\n\r\nx\r\n");
});

Deno.test("createDkimSigner() refuses unusable keys and names", () => {
  assert.throws(
    () => createDkimSigner({ domain: "a;b", selector: "s", privateKeyPem: keys.rsa.privateKeyPem }),
    /Invalid DKIM domain/,
  );
  assert.throws(() => createDkimSigner({ domain: DOMAIN, selector: "s", privateKeyPem: "nope" }));
});

Deno.test("createDkimSigner() signatures verify for varied messages (seeded)", async () => {
  const sign = createDkimSigner({
    domain: DOMAIN,
    selector: "ed2026",
    privateKeyPem: keys.ed25519.privateKeyPem,
  });
  let seed = 4711;
  const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const parts = ["a", "Å", " ", "  ", "\t", "\n", " \n", "\n\n", "=", "🎉", "x".repeat(90)];
  const pick = (n: number) => {
    let s = "";
    for (let i = 0; i < n; i++) s += parts[Math.floor(random() * parts.length)];
    return s;
  };
  for (let i = 0; i < 40; i++) {
    const { raw } = buildMessage({
      from: { name: pick(5).replace(/\s+/g, " "), address: `news@${DOMAIN}` },
      to: { address: "a@example.com" },
      subject: pick(30),
      text: pick(200),
      html: random() < 0.5 ? undefined : pick(200),
      headers: { "X-Skicka-Message": `m-${i}` },
    });
    const [result] = await verify(sign(raw));
    assert.equal(result?.result, "pass", `message ${i}: ${JSON.stringify(result?.comment)}`);
  }
});

Deno.test("createDkimSignerSet() adds an rsa-sha256 and an ed25519-sha256 signature that both pass", async () => {
  const sign = createDkimSignerSet([
    { domain: DOMAIN, selector: "ed2026", privateKeyPem: keys.ed25519.privateKeyPem },
    { domain: DOMAIN, selector: "rsa2026", privateKeyPem: keys.rsa.privateKeyPem },
  ]);
  for (const message of [sampleMessage(), new TextEncoder().encode(sampleMessage())]) {
    const signed = sign(message as string);
    const text = typeof signed === "string" ? signed : new TextDecoder().decode(signed);
    assert.equal(text.match(/^DKIM-Signature:/gm)?.length, 2);
    const results = await verify(text);
    assert.deepEqual(
      results.map((r) => [r.algo, r.result]).sort(),
      [["ed25519-sha256", "pass"], ["rsa-sha256", "pass"]],
    );
    // Each signature stands alone: a changed subject fails both.
    const tampered = text.replace(/Subject: [^\r]+/, "Subject: Vinn en iPhone");
    assert.deepEqual((await verify(tampered)).map((r) => r.result), ["fail", "fail"]);
  }
  // A key whose DNS record is missing fails on its own; the other still passes.
  const lone = createDkimSignerSet([
    { domain: DOMAIN, selector: "gone", privateKeyPem: keys.ed25519.privateKeyPem },
    { domain: DOMAIN, selector: "rsa2026", privateKeyPem: keys.rsa.privateKeyPem },
  ]);
  const statuses = (await verify(lone(sampleMessage()), false)).map((r) => r.result).sort();
  assert.ok(statuses.includes("pass") && statuses.some((s) => s !== "pass"), statuses.join());
  assert.throws(() => createDkimSignerSet([]), /at least one key/);
});

Deno.test("DkimSignerCache builds each key set once and refuses keys it was not given", async () => {
  const cache = new DkimSignerCache(2);
  const material = {
    k1: { domain: DOMAIN, selector: "rsa2026", privateKeyPem: keys.rsa.privateKeyPem },
    k2: { domain: DOMAIN, selector: "ed2026", privateKeyPem: keys.ed25519.privateKeyPem },
  };
  assert.equal(cache.get([], material), undefined);
  const both = cache.get(["k2", "k1"], material)!;
  // Built once: later batches need not send the material again for a known set.
  assert.equal(cache.get(["k2", "k1"], undefined), both);
  const results = await verify(both(sampleMessage()));
  assert.deepEqual(results.map((r) => r.result), ["pass", "pass"]);
  assert.throws(() => cache.get(["k3"], material), /k3 was not sent/);
  // Bounded: the oldest set is dropped once the cache is full.
  cache.get(["k1"], material);
  cache.get(["k2"], material);
  assert.throws(() => cache.get(["k2", "k1"], undefined), /was not sent/);
});
