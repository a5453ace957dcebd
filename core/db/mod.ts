// The store's public face: open a database, migrate it, ids.
export { type Database, type DatabaseKind, openDatabase, type OpenOptions } from "./database.ts";
export { migrate, MigrationError, type MigrationSource } from "./migrator.ts";
export { isUuid, uuidv7 } from "./ids.ts";
export type { DB, Tier } from "./schema.ts";

/** The core's own migrations folder. */
export const CORE_MIGRATIONS = new URL("../../migrations/", import.meta.url);
