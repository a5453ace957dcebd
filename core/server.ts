// Starts Skicka's roles against one database and stops them cleanly on a signal.
import { type Config, ensureSecret } from "./config.ts";
import { CORE_MIGRATIONS, migrate, openDatabase } from "./db/mod.ts";
import { createLogger } from "./log.ts";
import { type Plugin, PluginRegistry } from "./plugin.ts";
import { registerMessages } from "./i18n/mod.ts";
import type { AppDeps } from "./deps.ts";
import { ensureOperator } from "./bootstrap.ts";
import { pruneSessions } from "./auth/sessions.ts";
import { pruneLoginFailures } from "./auth/login.ts";
import { pruneIdempotencyKeys } from "./http/idempotency.ts";
import { SendWorker } from "./send/worker.ts";
import { transportFor } from "./send/transport.ts";
import { RenderPool } from "./send/render_pool.ts";
import { stopTracking } from "./feedback/events.ts";
import { startInbound } from "./feedback/inbound.ts";
import { outcomeListeners } from "./feedback/outcomes.ts";

export const ROLES = ["api", "worker", "smtp", "all"] as const;
export type Role = (typeof ROLES)[number];

export interface Running {
  deps: AppDeps;
  /** The HTTP address when the api role runs. */
  url: string | null;
  stop(): Promise<void>;
}

/** Opens and migrates the database and builds the shared dependencies. */
export async function prepare(config: Config, plugins: Plugin[]): Promise<AppDeps> {
  const log = createLogger(config.logLevel, { service: "skicka" });
  const registry = new PluginRegistry(plugins);
  for (const p of plugins) if (p.messages) registerMessages(p.name, p.messages);
  const secret = await ensureSecret(config);
  const database = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.databasePoolSize,
  });
  const { applied } = await migrate(database.db, [
    { scope: "core", dir: CORE_MIGRATIONS },
    ...registry.migrationSources(),
  ]);
  if (applied.length) log.info("migrations applied", { applied });
  return { config, database, db: database.db, log, clock: () => new Date(), secret, registry };
}

export async function start(
  deps: AppDeps,
  role: Role,
  buildApp: (deps: AppDeps) => Promise<{ fetch: Deno.ServeHandler }>,
): Promise<Running> {
  const { config, log } = deps;
  const stoppers: (() => Promise<void>)[] = [];
  let url: string | null = null;

  const link = await ensureOperator(deps);
  if (link) {
    // Printed once, on the console only: the operator signs in and chooses a password.
    console.error(
      `\nFirst start: operator account ${config.operatorEmail} created.\n` +
        `Open this one-time link within 24 hours to choose its password:\n\n  ${link}\n`,
    );
  }

  if (role === "api" || role === "all") {
    const app = await buildApp(deps);
    const server = Deno.serve({
      port: config.port,
      hostname: config.host,
      onListen: (addr) => {
        url = config.baseUrl;
        log.info("listening", { url: config.baseUrl, address: `${addr.hostname}:${addr.port}` });
        console.error(`Skicka is running at ${config.baseUrl}`);
      },
    }, app.fetch);
    url = config.baseUrl;
    stoppers.push(() => server.shutdown());
  }

  if (role === "worker" || role === "all") {
    const housekeeping = async () => {
      try {
        await pruneSessions(deps);
        await pruneLoginFailures(deps);
        await pruneIdempotencyKeys(deps);
      } catch (e) {
        log.warn("housekeeping failed", { error: String(e) });
      }
    };
    const timer = setInterval(housekeeping, 10 * 60_000);
    stoppers.push(() => Promise.resolve(clearInterval(timer)));
    // The send pipeline: one worker loop per process; scale out with more worker processes.
    const pool = config.sendRenderWorkers > 0
      ? new RenderPool(config.sendRenderWorkers)
      : undefined;
    const worker = new SendWorker(deps, await transportFor(deps), {
      batchSize: config.sendBatchSize,
      leaseMs: config.sendLeaseMs,
      renderPool: pool,
      onOutcomes: outcomeListeners(deps),
    });
    await worker.start();
    stoppers.push(async () => {
      await worker.stop();
      pool?.close();
    });
    log.info("send worker started", { worker: worker.id, delivery: redactUrl(config.delivery) });
    for (const p of deps.registry.all()) {
      if (!p.start) continue;
      await p.start(deps);
      if (p.stop) stoppers.push(p.stop);
    }
  }

  if (role === "smtp" || role === "all") {
    // Bounces, complaints and mailto unsubscribes. In `all` (the embedded set-up) a port in use
    // is a warning, not a failed start: the API and worker still serve.
    try {
      const inbound = await startInbound(deps, { port: config.inboundSmtpPort, host: config.host });
      stoppers.push(() => inbound.close());
      log.info("inbound smtp listening", { port: inbound.port, domain: config.bounceDomain });
    } catch (e) {
      if (role === "smtp") throw e;
      log.warn("inbound smtp not started", { port: config.inboundSmtpPort, error: String(e) });
    }
    for (const p of deps.registry.all()) {
      if (!p.startSmtp) continue;
      try {
        stoppers.push(await p.startSmtp(deps));
      } catch (e) {
        if (role === "smtp") throw e;
        log.warn("plugin smtp server not started", { plugin: p.name, error: String(e) });
      }
    }
  }

  return {
    deps,
    url,
    async stop() {
      for (const s of stoppers.reverse()) await s();
      await stopTracking(deps); // buffered opens and clicks, after the last request
      await deps.database.close();
    },
  };
}

/** A delivery URL without its password, for logs. */
function redactUrl(target: string): string {
  try {
    const u = new URL(target);
    if (u.password) u.password = "***";
    return u.href;
  } catch {
    return target;
  }
}
