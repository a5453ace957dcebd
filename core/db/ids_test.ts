import assert from "node:assert/strict";
import { isUuid, uuidv7, uuidv7Block } from "./ids.ts";

Deno.test("uuidv7Block() gives a UUIDv7 prefix with the time and room for a 48-bit counter", () => {
  const now = Date.UTC(2026, 10, 29, 9, 30);
  const { prefix, base } = uuidv7Block(now);
  assert.match(prefix, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-$/);
  assert.equal(parseInt(prefix.replace(/-/g, "").slice(0, 12), 16), now);
  assert.ok(Number.isSafeInteger(base) && base >= 0 && base < 2 ** 47);
  // The largest id of a block of 2^47 rows still fits the last group.
  const last = `${prefix}${(base + 2 ** 47 - 1).toString(16).padStart(12, "0")}`;
  assert.ok(isUuid(last));
});

Deno.test("uuidv7Block() draws new random bits each time; the time sorts with uuidv7()", () => {
  const blocks = Array.from({ length: 1000 }, () => uuidv7Block(1_800_000_000_000));
  assert.equal(new Set(blocks.map((b) => `${b.prefix}${b.base}`)).size, 1000);
  const earlier = uuidv7(1_799_999_999_999);
  const later = uuidv7(1_800_000_000_001);
  for (const b of blocks) {
    assert.ok(earlier < `${b.prefix}000000000000` && `${b.prefix}ffffffffffff` < later);
  }
});
