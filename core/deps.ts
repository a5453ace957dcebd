// What the composition root hands to routes, services and plugins: passed in, never reached for.
import type { Kysely } from "kysely";
import type { Config } from "./config.ts";
import type { Database } from "./db/database.ts";
import type { DB } from "./db/schema.ts";
import type { Logger } from "./log.ts";
import type { PluginRegistry } from "./plugin.ts";

export interface AppDeps {
  config: Config;
  database: Database;
  db: Kysely<DB>;
  log: Logger;
  /** The current time; tests pass a controllable clock. */
  clock: () => Date;
  /** Signs sessions, CSRF tokens and links (from SECRET_KEY or DATA_DIR/secret.key). */
  secret: string;
  registry: PluginRegistry;
}
