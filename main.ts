// Composition root: config → database → plugins → roles; `--role=api|worker|smtp|all`.
import { ConfigError, loadConfig } from "./core/config.ts";
import { MigrationError } from "./core/db/migrator.ts";
import { DatabaseLockedError } from "./core/db/database.ts";
import { PluginError } from "./core/plugin.ts";
import { prepare, type Role, ROLES, start } from "./core/server.ts";
import { installedPlugins } from "./plugins/mod.ts";
import { buildApp } from "./routes/mod.ts";

function parseRole(args: string[]): Role {
  const arg = args.find((a) => a.startsWith("--role="));
  const role = arg ? arg.slice("--role=".length) : "all";
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new ConfigError(`--role=${role}: expected one of ${ROLES.join(", ")}`);
  }
  return role as Role;
}

if (import.meta.main) {
  try {
    const role = parseRole(Deno.args);
    const config = loadConfig(Deno.env.toObject());
    const deps = await prepare(config, installedPlugins);
    // Listen for signals before starting: the HTTP server answers while the worker role is
    // still starting, and a SIGTERM in that moment must also shut down cleanly.
    let stopping = false;
    const shutdown = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      deps.log.info("shutting down", { signal });
      const running = await starting;
      await running.stop();
      deps.log.info("stopped");
      Deno.exit(0);
    };
    Deno.addSignalListener("SIGINT", () => shutdown("SIGINT"));
    Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM"));
    // Signal handlers run asynchronously, so they always see this binding.
    const starting = start(deps, role, buildApp);
    await starting;
  } catch (e) {
    if (
      e instanceof ConfigError || e instanceof MigrationError || e instanceof PluginError ||
      e instanceof DatabaseLockedError
    ) {
      console.error(`Skicka cannot start. ${e.message}`);
      Deno.exit(1);
    }
    throw e;
  }
}
