// deno task bench:pixel — the open pixel under load: starts Skicka (role api), loads
// GET /t/o/<token>.gif with wrk, reports requests/s and the median and p99 latency, then stops
// Skicka (which writes the buffered events) and checks every answered request was recorded.
//
// Env: BENCH_SECONDS (10), BENCH_CONNECTIONS (50), BENCH_THREADS (2), BENCH_PORT (18089),
// BENCH_DATABASE_URL (a PostgreSQL the bench may create and drop a database in; default: PGlite).
// Needs wrk (apt package `wrk`): installed with apt-get when missing, and the bench says so.
import postgres from "postgres";
import { loadConfig } from "../core/config.ts";
import { prepare } from "../core/server.ts";
import { createTenant } from "../core/tenants/tenants.ts";
import { createSend, expandSend } from "../core/send/queue.ts";
import { TokenSigner } from "../core/feedback/tokens.ts";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 10);
const CONNECTIONS = Number(Deno.env.get("BENCH_CONNECTIONS") ?? 50);
const THREADS = Number(Deno.env.get("BENCH_THREADS") ?? 2);
const PORT = Number(Deno.env.get("BENCH_PORT") ?? 18089);
const PG_ADMIN = Deno.env.get("BENCH_DATABASE_URL") ?? "";
const RECIPIENTS = 100;
const UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0";

function log(s: string) {
  console.error(s);
}

async function run(cmd: string, args: string[]) {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  return {
    ok: out.success,
    text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
  };
}

async function ensureWrk() {
  if ((await run("sh", ["-c", "command -v wrk"])).ok) return;
  log("wrk is not installed: installing it with apt-get (package wrk) …");
  const r = await run("sh", ["-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y wrk"]);
  if (!r.ok) {
    throw new Error(`Could not install wrk; install it (apt install wrk) and rerun.\n${r.text}`);
  }
}

/** wrk prints 850.00us, 1.23ms or 1.02s. */
function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) throw new Error(`Unreadable wrk latency: ${v}`);
  return Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1);
}

await ensureWrk();
const dataDir = await Deno.makeTempDir({ prefix: "skicka-pixel-" });
let dbUrl = "";
let dropDb = () => Promise.resolve();
if (PG_ADMIN) {
  const name = `skicka_pixel_${crypto.randomUUID().slice(0, 8)}`;
  const admin = postgres(PG_ADMIN, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const u = new URL(PG_ADMIN);
  u.pathname = `/${name}`;
  dbUrl = u.href;
  dropDb = async () => {
    const a = postgres(PG_ADMIN, { max: 1, onnotice: () => {} });
    await a.unsafe(`drop database if exists ${name} with (force)`);
    await a.end();
  };
}
const env: Record<string, string> = {
  DATA_DIR: dataDir,
  DATABASE_URL: dbUrl,
  PORT: String(PORT),
  HOST: "127.0.0.1",
  LOG_LEVEL: "warn",
  SECRET_KEY: "pixel-bench-secret-pixel-bench-secret-0001",
};
const config = loadConfig(env);

try {
  // Seed one mailing with RECIPIENTS queue rows, then close: PGlite has one process.
  const deps = await prepare(config, []);
  const tenant = await createTenant(deps, { name: "Pixel bench", tier: "light" }, "bench");
  const addresses = Array.from({ length: RECIPIENTS }, (_, i) => `r${i}@ext${i % 10}.example`);
  const send = await createSend(deps, tenant.id, {
    kind: "mass",
    content: { from: { address: "news@uni.example" }, subject: "x", html: "<p>x</p>" },
    audience: { addresses },
  }, "bench");
  await expandSend(deps, tenant.id, send.id, "bench");
  const rows = await deps.db.selectFrom("send_queue").select("id")
    .where("tenant_id", "=", tenant.id).where("send_id", "=", send.id).execute();
  await deps.database.close();
  const signer = new TokenSigner(config.secretKey);
  // BENCH_UNSIGNED=1: tokens that do not verify (nothing recorded), to see what recording costs.
  const unsigned = Deno.env.get("BENCH_UNSIGNED") === "1";
  const paths = unsigned
    ? rows.map((r) => `/t/o/${r.id}.gif`)
    : rows.map((r) => `/t/o/${signer.message("open", { tenantId: tenant.id, queueId: r.id })}.gif`);
  const script = `${dataDir}/pixel.lua`;
  await Deno.writeTextFile(
    script,
    `wrk.headers["User-Agent"] = "${UA}"\nlocal paths = {${
      paths.map((p) => `"${p}"`).join(",")
    }}\n` +
      `local i = 0\nrequest = function()\n  i = i + 1\n` +
      `  return wrk.format("GET", paths[(i % #paths) + 1])\nend\n`,
  );

  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname, "--role=api"],
    env: { ...env, RUST_BACKTRACE: "" },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const base = `http://127.0.0.1:${PORT}`;
  for (let i = 0;; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch { /* not up yet */ }
    if (i > 300) throw new Error("Skicka did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  // A short warm-up (JIT, first inserts) before the measured run.
  const warm = await run("wrk", ["-t1", "-c4", "-d1s", "-s", script, base]);
  const warmRequests = Number(/(\d+) requests in/.exec(warm.text)?.[1]);
  // The reference on this (shared) machine: the same load on /healthz, which does no work.
  const ref = await run("wrk", [
    `-t${THREADS}`,
    `-c${CONNECTIONS}`,
    `-d${SECONDS}s`,
    "--latency",
    `${base}/healthz`,
  ]);
  const refRps = Number(/Requests\/sec:\s+([\d.]+)/.exec(ref.text)?.[1]);
  const refP50 = toMs(/\n\s+50%\s+(\S+)/.exec(ref.text)![1]!);
  log(`reference /healthz: ${refRps.toFixed(0)} requests/s, median ${refP50.toFixed(2)} ms`);
  log(`wrk -t${THREADS} -c${CONNECTIONS} -d${SECONDS}s --latency on ${base}/t/o/<token>.gif`);
  const w = await run("wrk", [
    `-t${THREADS}`,
    `-c${CONNECTIONS}`,
    `-d${SECONDS}s`,
    "--latency",
    "-s",
    script,
    base,
  ]);
  log(w.text);
  const requests = Number(/(\d+) requests in/.exec(w.text)?.[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(w.text)?.[1]);
  const p50 = toMs(/\n\s+50%\s+(\S+)/.exec(w.text)![1]!);
  const p99 = toMs(/\n\s+99%\s+(\S+)/.exec(w.text)![1]!);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(w.text)?.[1] ?? "0";

  // SIGTERM: Skicka finishes requests in flight and writes the buffered events before exiting.
  server.kill("SIGTERM");
  await server.status;
  const after = await prepare(config, []);
  const events = await after.db.selectFrom("tracking_events")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("tenant_id", "=", tenant.id).executeTakeFirstOrThrow();
  const counts = await after.db.selectFrom("sends").select([
    "opens",
    "unique_opens",
    "machine_opens",
  ])
    .where("tenant_id", "=", tenant.id).where("id", "=", send.id).executeTakeFirstOrThrow();
  await after.database.close();
  const recorded = Number(events.n);
  // Warm-up requests are recorded too. wrk does not count requests it cut off at the end, which
  // Skicka may still have answered (and recorded): at most one per connection.
  const answered = warmRequests + requests;
  const ok = recorded >= answered && recorded <= answered + CONNECTIONS + 4 &&
      counts.opens === recorded && counts.unique_opens === RECIPIENTS || unsigned && recorded === 0;
  log(
    `requests/s ${rps.toFixed(0)}, median ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms; ` +
      `${answered} answered incl. warm-up (${errors} errors), ${recorded} events recorded, ` +
      `send counters: opens ${counts.opens}, unique ${counts.unique_opens}, machine ${counts.machine_opens}` +
      (ok ? "" : "  <-- MISMATCH"),
  );
  console.log(JSON.stringify({
    database: PG_ADMIN ? "postgres" : "pglite",
    seconds: SECONDS,
    connections: CONNECTIONS,
    requests,
    requests_per_s: Math.round(rps),
    p50_ms: p50,
    p99_ms: p99,
    healthz_requests_per_s: Math.round(refRps),
    healthz_p50_ms: refP50,
    load_average: Deno.loadavg()[0],
    errors: Number(errors),
    answered_incl_warmup: answered,
    events_recorded: recorded,
    all_recorded: ok,
  }));
  if (!ok) Deno.exitCode = 1;
} finally {
  await dropDb();
  await Deno.remove(dataDir, { recursive: true }).catch(() => {});
}
