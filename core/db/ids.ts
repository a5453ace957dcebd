// Time-ordered ids (UUIDv7, RFC 9562) so rows of one tenant cluster by age and shard cleanly.

let lastMs = 0;
let seq = 0;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
// Random bytes drawn 4 KB at a time: one getRandomValues call per id cost more than the rest.
const pool = new Uint8Array(4096);
let poolAt = pool.length;

function randomBytes(n: number): Uint8Array {
  if (poolAt + n > pool.length) {
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  poolAt += n;
  return pool.subarray(poolAt - n, poolAt);
}

/** A UUIDv7 string; monotonic within one process even inside the same millisecond. */
export function uuidv7(now: number = Date.now()): string {
  const r = randomBytes(12);
  if (now <= lastMs) {
    seq = (seq + 1) & 0xfff;
    if (seq === 0) lastMs++;
    now = lastMs;
  } else {
    lastMs = now;
    seq = ((r[10]! << 8) | r[11]!) & 0x7ff;
  }
  // 48-bit milliseconds: the high 16 bits and the low 32 apart (no BigInt).
  const hi = Math.floor(now / 2 ** 32);
  const lo = now >>> 0;
  const h = HEX;
  return h[(hi >>> 8) & 0xff]! + h[hi & 0xff]! + h[lo >>> 24]! + h[(lo >>> 16) & 0xff]! + "-" +
    h[(lo >>> 8) & 0xff]! + h[lo & 0xff]! + "-" +
    h[0x70 | (seq >> 8)]! + h[seq & 0xff]! + "-" +
    h[(r[0]! & 0x3f) | 0x80]! + h[r[1]!]! + "-" +
    h[r[2]!]! + h[r[3]!]! + h[r[4]!]! + h[r[5]!]! + h[r[6]!]! + h[r[7]!]!;
}

/**
 * The parts of a block of UUIDv7s that one SQL statement makes for its rows: row n (1, 2, …) gets
 * `(prefix || lpad(to_hex(base + n), 12, '0'))::uuid`. One timestamp and 73 random bits per
 * statement, then a counter: ids are unique, ordered within the statement (index appends stay
 * on the right-most page) and time-ordered across statements — without drawing strong random
 * bytes for every row, which cost more than the rest of the id (bench/expand.ts).
 */
export function uuidv7Block(now: number = Date.now()): { prefix: string; base: number } {
  const r = crypto.getRandomValues(new Uint32Array(4));
  const ms = now.toString(16).padStart(12, "0").slice(-12);
  const randA = (r[0]! & 0xfff).toString(16).padStart(3, "0");
  // Variant 10xx, then 14 random bits.
  const randB = (0x8000 | (r[1]! & 0x3fff)).toString(16);
  const prefix = `${ms.slice(0, 8)}-${ms.slice(8)}-7${randA}-${randB}-`;
  // 47 random bits leave 2^47 ids of room before the last group could overflow its 48 bits.
  const base = (r[2]! & 0x7fff) * 2 ** 32 + r[3]!;
  return { prefix, base };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when s is a syntactically valid UUID (used to answer 404 rather than a database error). */
export function isUuid(s: string): boolean {
  return UUID.test(s);
}
