// Rows → JSON-ready objects: dates as ISO strings, so responses match their OpenAPI schemas.
export type Jsonify<T> = {
  [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K];
};

export function jsonify<T extends object>(row: T): Jsonify<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k] = v instanceof Date ? v.toISOString() : v;
  return out as Jsonify<T>;
}
