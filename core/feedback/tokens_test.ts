import assert from "node:assert/strict";
import { TokenSigner } from "./tokens.ts";
import { uuidv7 } from "../db/ids.ts";

const signer = new TokenSigner("a-test-secret-of-enough-length-0123456789");
const ref = { tenantId: uuidv7(), queueId: uuidv7() };

Deno.test("tokens: a message token names its tenant and queue row", () => {
  for (const purpose of ["open", "unsubscribe", "view", "bounce"] as const) {
    const token = signer.message(purpose, ref);
    assert.match(token, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(signer.verifyMessage(purpose, token), ref);
  }
});

Deno.test("tokens: a click token carries its link index", () => {
  const token = signer.click({ ...ref, link: 513 });
  assert.deepEqual(signer.verifyClick(token), { ...ref, link: 513 });
  assert.throws(() => signer.click({ ...ref, link: 70_000 }), RangeError);
});

Deno.test("tokens: forged, altered, truncated or cross-purpose tokens are refused", () => {
  const token = signer.message("open", ref);
  // Flip one bit in every position: each alteration must fail.
  const raw = atob(
    token.replace(/-/g, "+").replace(/_/g, "/") + "==".slice(0, (4 - token.length % 4) % 4),
  );
  for (let i = 0; i < raw.length; i++) {
    const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0));
    bytes[i]! ^= 1;
    const altered = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
      .replace(/=+$/, "");
    assert.equal(signer.verifyMessage("open", altered), null, `bit flip at byte ${i}`);
  }
  assert.equal(signer.verifyMessage("open", token.slice(0, -2)), null);
  // Every other last character, including those that differ only in base64's unused low bits.
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (const ch of alphabet) {
    if (ch === token.at(-1)) continue;
    assert.equal(signer.verifyMessage("open", token.slice(0, -1) + ch), null, `last char ${ch}`);
  }
  assert.equal(signer.verifyMessage("unsubscribe", token), null, "open token used to unsubscribe");
  assert.equal(signer.verifyMessage("open", "not a token!"), null);
  assert.equal(signer.verifyClick(token), null);
  const other = new TokenSigner("another-secret-of-enough-length-987654321");
  assert.equal(other.verifyMessage("open", token), null, "another deployment's secret");
});

Deno.test("tokens: the VERP address fits a 64-character local part and parses back", () => {
  const address = signer.bounceAddress(ref, "bounces.example.org");
  const local = address.split("@")[0]!;
  assert.ok(local.length <= 64, `local part is ${local.length} characters`);
  assert.deepEqual(signer.parseBounceAddress(address), ref);
  assert.deepEqual(signer.parseBounceAddress(`<${address}>`), ref);
  assert.deepEqual(signer.parseBounceAddress(address.replace("bounce+", "BOUNCE+")), ref);
  assert.equal(signer.parseBounceAddress("someone@bounces.example.org"), null);
});

Deno.test("tokens: clicks() makes exactly the tokens click() makes, and they verify", () => {
  const signer = new TokenSigner("clicks-test-secret-clicks-test-secret");
  for (let n = 0; n < 20; n++) {
    const ref = { tenantId: crypto.randomUUID(), queueId: crypto.randomUUID() };
    const fast = signer.clicks(ref, 12);
    assert.deepEqual(fast, fast.map((_, link) => signer.click({ ...ref, link })));
    assert.deepEqual(signer.verifyClick(fast[11]!), { ...ref, link: 11 });
  }
  assert.deepEqual(
    signer.clicks({ tenantId: crypto.randomUUID(), queueId: crypto.randomUUID() }, 0),
    [],
  );
  assert.throws(() => signer.clicks({ tenantId: "x", queueId: crypto.randomUUID() }, 1), /UUID/);
});
