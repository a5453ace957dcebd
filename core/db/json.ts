// JSON values for jsonb columns, written the same way on PGlite and postgres.js.
import { type RawBuilder, sql } from "kysely";

/**
 * A jsonb value. postgres.js JSON-encodes any parameter the server types as jsonb, so a string
 * from JSON.stringify would be stored as a JSON *string*; PGlite would not. Sending text and
 * casting on the server stores the same object on both.
 */
export function jsonb<T>(value: T): RawBuilder<T> {
  return sql<T>`cast(${JSON.stringify(value)} as text)::jsonb`;
}
