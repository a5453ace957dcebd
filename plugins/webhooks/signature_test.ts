// Webhook signatures as a receiver checks them: the right secret verifies; a changed body, a
// wrong secret, a moved timestamp or an old one does not.
import assert from "node:assert/strict";
import { signPayload, verifySignature } from "./signature.ts";

const secret = "whsec_test-secret";
const body = JSON.stringify({ events: [{ id: "e1", type: "delivered" }] });
const at = new Date("2026-11-29T12:00:00Z");

Deno.test("signPayload(): a receiver with the secret verifies the header", async () => {
  const header = await signPayload(secret, body, at);
  assert.match(header, /^t=1795953600,v1=[0-9a-f]{64}$/);
  const r = await verifySignature(secret, header, body, { now: new Date(at.getTime() + 60_000) });
  assert.deepEqual(r, { ok: true, timestamp: 1795953600 });
});

Deno.test("verifySignature() refuses a tampered body, another secret and a moved timestamp", async () => {
  const header = await signPayload(secret, body, at);
  const now = { now: at };
  assert.deepEqual(
    await verifySignature(secret, header, body.replace("delivered", "bounced"), now),
    {
      ok: false,
      reason: "mismatch",
    },
  );
  assert.equal((await verifySignature("whsec_other", header, body, now)).ok, false);
  // The timestamp is signed: changing it to look fresh breaks the signature.
  const moved = header.replace(/^t=\d+/, `t=${Math.floor(at.getTime() / 1000) + 1}`);
  assert.deepEqual(await verifySignature(secret, moved, body, now), {
    ok: false,
    reason: "mismatch",
  });
  assert.deepEqual(await verifySignature(secret, null, body, now), {
    ok: false,
    reason: "malformed",
  });
  assert.deepEqual(await verifySignature(secret, "v1=abc", body, now), {
    ok: false,
    reason: "malformed",
  });
});

Deno.test("verifySignature() refuses a replay older than the tolerance", async () => {
  const header = await signPayload(secret, body, at);
  const late = new Date(at.getTime() + 301_000);
  assert.deepEqual(await verifySignature(secret, header, body, { now: late }), {
    ok: false,
    reason: "expired",
  });
  assert.equal(
    (await verifySignature(secret, header, body, { now: late, toleranceS: 600 })).ok,
    true,
  );
});

Deno.test("a receiver written with node:crypto (the README's sample) verifies our header", async () => {
  const { createHmac, timingSafeEqual } = await import("node:crypto");
  const { Buffer } = await import("node:buffer");
  function verify(secret: string, header: string, rawBody: string, nowS: number): boolean {
    const parts = Object.fromEntries(header.split(",").map((p) => p.split("=", 2)));
    const t = Number(parts.t);
    if (!Number.isInteger(t) || Math.abs(nowS - t) > 300) return false;
    const expected = createHmac("sha256", secret).update(`${t}.${rawBody}`).digest();
    const given = Buffer.from(String(parts.v1), "hex");
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
  const header = await signPayload(secret, body, at);
  const nowS = at.getTime() / 1000 + 5;
  assert.equal(verify(secret, header, body, nowS), true);
  assert.equal(verify(secret, header, body + " ", nowS), false);
  assert.equal(verify(secret, header, body, nowS + 600), false);
});
