// deno task bench:transactional-api — accepted messages per second through the REST API on
// PostgreSQL, each 202 a committed queue row: POST /api/v1/messages one at a time, and
// POST /api/v1/messages/batch with BENCH_BATCH messages per request. Load from autocannon
// (npm, its CLI in a process of its own so it does not share the server's thread), the API in
// this process as --role=api runs it (no send worker: only acceptance is measured). Ends with
// one JSON line.
//
// Env: BENCH_SECONDS (10), BENCH_CONNECTIONS (50), BENCH_BATCH (100), BENCH_DATABASE_URL
// (default TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test), BENCH_ONLY (single
// or batch: run that phase alone, e.g. while a profiler is attached).
import { sql } from "kysely";
import { PluginRegistry } from "../core/plugin.ts";
import { registerMessages } from "../core/i18n/mod.ts";
import { createApiKey } from "../core/auth/api_keys.ts";
import { freePort } from "../core/smtp/_test_servers.ts";
import { buildApp } from "../routes/mod.ts";
import { transactionalPlugin } from "../plugins/transactional/mod.ts";
import {
  benchDatabase,
  benchDeps,
  benchShop,
  loadAverageLine,
  log,
  SHOP_ADDRESS,
} from "./_shared.ts";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 10);
const CONNECTIONS = Number(Deno.env.get("BENCH_CONNECTIONS") ?? 50);
const BATCH = Number(Deno.env.get("BENCH_BATCH") ?? 100);

/** A receipt of ~2 KB of HTML with merge data: what an order system sends. */
const MESSAGE = {
  from: { name: "Shop", address: SHOP_ADDRESS },
  to: ["buyer@customer.example"],
  subject: "Order {{order}} confirmed",
  html: `<h1>Thank you, {{name}}!</h1>${"<p>Your order is on its way.</p>".repeat(60)}`,
  data: { order: "1042", name: "Kim" },
  tags: ["receipt"],
};

interface Run {
  requests: number;
  non2xx: number;
  reqPerSec: number;
  msgsPerSec: number;
  latencyMedianMs: number;
  latencyP99Ms: number;
}

interface AutocannonResult {
  requests: { total: number };
  non2xx: number;
  latency: { p50: number; p99: number };
}

async function load(url: string, key: string, body: string, perRequest: number): Promise<Run> {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(file, body);
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "npm:autocannon@9.0.0",
        "-j",
        "-c",
        String(CONNECTIONS),
        "-d",
        String(SECONDS),
        "-m",
        "POST",
        "-H",
        `authorization=Bearer ${key}`,
        "-H",
        "content-type=application/json",
        "-i",
        file,
        url,
      ],
      stdout: "piped",
      stderr: "null",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const r = JSON.parse(text.slice(text.indexOf("{"))) as AutocannonResult;
    return summary(r, perRequest);
  } finally {
    await Deno.remove(file);
  }
}

function summary(r: AutocannonResult, perRequest: number): Run {
  const ok = r.requests.total - r.non2xx;
  return {
    requests: r.requests.total,
    non2xx: r.non2xx,
    reqPerSec: Math.round(ok / SECONDS),
    msgsPerSec: Math.round((ok * perRequest) / SECONDS),
    latencyMedianMs: r.latency.p50,
    latencyP99Ms: r.latency.p99,
  };
}

async function main() {
  const registry = new PluginRegistry([transactionalPlugin]);
  const bench = await benchDatabase("txapi", { poolSize: 10, registry });
  registerMessages(transactionalPlugin.name, transactionalPlugin.messages!);
  let server: Deno.HttpServer | undefined;
  try {
    const deps = benchDeps(bench, {
      registry,
      config: { API_SEND_RATE: "0", LOG_LEVEL: "error" },
    });
    const { tenant } = await benchShop(deps, "light");
    const key = await createApiKey(deps, { tenantId: tenant.id, name: "bench", scopes: ["send"] });
    const port = freePort();
    server = Deno.serve(
      { port, hostname: "127.0.0.1", onListen: () => {} },
      (await buildApp(deps)).fetch,
    );
    const base = `http://127.0.0.1:${port}/api/v1/messages`;

    const count = async () =>
      Number(
        (await sql<{ n: number }>`select count(*)::int as n from send_queue`.execute(deps.db))
          .rows[0]!.n,
      );
    const only = Deno.env.get("BENCH_ONLY");
    const skipped: Run = {
      requests: 0,
      non2xx: 0,
      reqPerSec: 0,
      msgsPerSec: 0,
      latencyMedianMs: 0,
      latencyP99Ms: 0,
    };
    log(`single: ${CONNECTIONS} connections for ${SECONDS} s…`);
    const single = only === "batch"
      ? skipped
      : await load(base, key.key, JSON.stringify(MESSAGE), 1);
    const afterSingle = await count();
    log(`batch of ${BATCH}: ${CONNECTIONS} connections for ${SECONDS} s…`);
    const batchBody = JSON.stringify({ messages: Array.from({ length: BATCH }, () => MESSAGE) });
    const batch = only === "single"
      ? skipped
      : await load(`${base}/batch`, key.key, batchBody, BATCH);
    const afterBatch = await count();
    // Every 202 is a committed row: the queue must hold exactly what was accepted.
    const accepted = single.requests - single.non2xx;
    const acceptedBatch = (batch.requests - batch.non2xx) * BATCH;
    console.log(
      `\n| endpoint | requests/s | messages/s | median ms | p99 ms | non-2xx | rows queued |\n` +
        `|---|---|---|---|---|---|---|\n` +
        `| POST /messages | ${single.reqPerSec} | ${single.msgsPerSec} | ` +
        `${single.latencyMedianMs} | ${single.latencyP99Ms} | ${single.non2xx} | ` +
        `${afterSingle} of ${accepted} |\n` +
        `| POST /messages/batch (${BATCH}) | ${batch.reqPerSec} | ${batch.msgsPerSec} | ` +
        `${batch.latencyMedianMs} | ${batch.latencyP99Ms} | ${batch.non2xx} | ` +
        `${afterBatch - afterSingle} of ${acceptedBatch} |${loadAverageLine()}`,
    );
    console.log(JSON.stringify({ bench: "transactional_api_load", single, batch }));
  } finally {
    await server?.shutdown();
    await bench.close();
  }
}

if (import.meta.main) await main();
