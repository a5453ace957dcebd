// Rows → JSON-ready objects: dates as ISO strings (also nested), so responses match their
// OpenAPI schemas.
export type Jsonify<T> = T extends Date ? string
  : T extends (infer U)[] ? Jsonify<U>[]
  : T extends object ? { [K in keyof T]: Jsonify<T[K]> }
  : T;

function convert(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(convert);
  if (v !== null && typeof v === "object" && !(v instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = convert(x);
    return out;
  }
  return v;
}

export function jsonify<T extends object>(row: T): Jsonify<T> {
  return convert(row) as Jsonify<T>;
}
