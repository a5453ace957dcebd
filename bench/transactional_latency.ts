// deno task bench:transactional — how long a transactional message takes from the API's 202 to
// the sink's 250 while a mass mailing runs at full speed (issue 7: at most a second), on
// PostgreSQL, against Postfix's smtp-sink, API and worker in one process (--role=all).
//
// "Arrival" is the moment the sink answered 250 to the message's DATA, taken from the transport
// (a wrapper around the relay transport notes it per queue row): smtp-sink itself cannot say
// which message it counted. Messages are posted one every BENCH_TX_INTERVAL_MS over real HTTP
// and each is timed on its own. A baseline without a campaign runs first.
//
// Env: BENCH_N (campaign size, default 100000), BENCH_TX (messages timed during the campaign,
// default 200), BENCH_TX_INTERVAL_MS (default 100), BENCH_FINISH=1 (wait for the campaign), BENCH_DATABASE_URL (default
// TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test), BENCH_RENDER_WORKERS (2).
import { PluginRegistry } from "../core/plugin.ts";
import { registerMessages } from "../core/i18n/mod.ts";
import { createApiKey } from "../core/auth/api_keys.ts";
import { createList } from "../core/people/lists.ts";
import { generateTenantDkimKey } from "../core/send/dkim_keys.ts";
import { createSend, expandSend } from "../core/send/queue.ts";
import { notifyWorkers, SendWorker } from "../core/send/worker.ts";
import { RenderPool } from "../core/send/render_pool.ts";
import type { Transport } from "../core/send/transport.ts";
import { freePort, startSmtpSink } from "../core/smtp/_test_servers.ts";
import { buildApp } from "../routes/mod.ts";
import { transactionalPlugin } from "../plugins/transactional/mod.ts";
import {
  benchDatabase,
  benchDeps,
  benchShop,
  insertAudience,
  loadAverageLine,
  log,
  relayToSink,
  sleep,
  stats,
} from "./_shared.ts";

const N = Number(Deno.env.get("BENCH_N") ?? 100_000);
const TX = Number(Deno.env.get("BENCH_TX") ?? 200);
const INTERVAL = Number(Deno.env.get("BENCH_TX_INTERVAL_MS") ?? 100);
const DOMAINS = 50;

/**
 * The relay transport, noting when each message was handed to it (claimed and rendered) and
 * when the sink accepted it.
 */
function timedTransport(
  inner: Transport,
  handed: Map<string, number>,
  arrived: Map<string, number>,
): Transport {
  return {
    name: inner.name,
    deliver(batch, onResult) {
      const now = performance.now();
      for (const m of batch) if (m.urgent) handed.set(m.key, now);
      return inner.deliver(batch, (r) => {
        if (r.status === "sent") arrived.set(r.key, performance.now());
        onResult?.(r);
      });
    },
    close: () => inner.close(),
  };
}

async function main() {
  const sink = await startSmtpSink({ counter: true });
  const registry = new PluginRegistry([transactionalPlugin]);
  const bench = await benchDatabase("tx", { poolSize: 8, registry });
  registerMessages(transactionalPlugin.name, transactionalPlugin.messages!);
  let server: Deno.HttpServer | undefined;
  let worker: SendWorker | undefined;
  const pool = Number(Deno.env.get("BENCH_RENDER_WORKERS") ?? 2) > 0
    ? new RenderPool(Number(Deno.env.get("BENCH_RENDER_WORKERS") ?? 2))
    : undefined;
  try {
    const port = freePort();
    const deps = benchDeps(bench, { registry, config: { API_SEND_RATE: "0" } });
    const { tenant } = await benchShop(deps, "advanced");
    const key = await createApiKey(deps, { tenantId: tenant.id, name: "bench", scopes: ["send"] });
    // Both streams signed with the tenant's own RSA key, as in production.
    await generateTenantDkimKey(deps, tenant.id, { domain: "bench.skicka.test" }, "bench");

    log(`creating ${N} persons…`);
    const list = await createList(deps, tenant.id, { name: "Everyone" }, "bench");
    await insertAudience(deps, tenant.id, list.id, { n: N, domains: DOMAINS });

    const app = await buildApp(deps);
    server = Deno.serve({ port, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
    const arrived = new Map<string, number>();
    const handed = new Map<string, number>();
    worker = new SendWorker(
      deps,
      timedTransport(
        relayToSink("127.0.0.1", sink.port),
        handed,
        arrived,
      ),
      { batchSize: 500, pipelines: 3, renderPool: pool },
    );
    await worker.start();

    let seq = 0;
    /** Posts one message; answers the ms from 202 to the sink's 250, and from request to 202. */
    const timeOne = async (): Promise<{ toSink: number; to202: number; toHand: number }> => {
      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json" },
        body: JSON.stringify({
          from: { name: "Shop", address: "orders@bench.skicka.test" },
          to: [`buyer${seq++}@customer.example`],
          subject: "Your password reset code {{code}}",
          html: "<p>Your code is <b>{{code}}</b>. It expires in 15 minutes.</p>",
          data: { code: String(100000 + seq) },
        }),
      });
      const body = await res.json();
      const t202 = performance.now();
      if (res.status !== 202) {
        throw new Error(`POST answered ${res.status}: ${JSON.stringify(body)}`);
      }
      const id = body.id as string;
      const deadline = t202 + 60_000;
      while (!arrived.has(id)) {
        if (performance.now() > deadline) throw new Error(`message ${id} not delivered in 60 s`);
        await sleep(2);
      }
      return {
        toSink: arrived.get(id)! - t202,
        to202: t202 - t0,
        toHand: handed.get(id)! - t202,
      };
    };

    log("baseline: no campaign");
    const idle: number[] = [];
    for (let i = 0; i < 30; i++) {
      idle.push((await timeOne()).toSink);
      await sleep(INTERVAL);
    }

    const s = await createSend(deps, tenant.id, {
      kind: "mass",
      content: {
        from: { name: "Alumni", address: "news@bench.skicka.test" },
        subject: "Nyheter för {{firstname}}",
        html: `<h1>Hej {{firstname}} {{lastname}}!</h1>${
          "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>".repeat(250)
        }<a href="https://www.uni.example/news">Läs mer</a>`,
      },
      audience: { lists: [list.id] },
    }, "bench");
    const expand = await expandSend(deps, tenant.id, s.id, "bench");
    log(`campaign: ${expand.total} queued; waiting until it runs at full speed…`);
    const sink0 = sink.messages();
    const c0 = performance.now();
    await notifyWorkers(deps);
    await sink.waitFor(sink0 + Math.min(2_000, Math.floor(N / 10)), 120_000);

    const during: number[] = [];
    const to202: number[] = [];
    const toHand: number[] = [];
    // Event-loop lag: how late a 10 ms timer fires while the campaign runs (CPU starvation).
    const lag: number[] = [];
    let tick = performance.now();
    const lagTimer = setInterval(() => {
      const now = performance.now();
      lag.push(now - tick - 10);
      tick = now;
    }, 10);
    const campaignDone = async () => {
      const r = await deps.db.selectFrom("sends").select("status").where("id", "=", s.id)
        .executeTakeFirstOrThrow();
      return r.status === "done";
    };
    const running = { sinkAtStart: sink.messages(), at: performance.now() };
    for (let i = 0; i < TX; i++) {
      if (await campaignDone()) break;
      const r = await timeOne();
      // Only messages whose whole trip overlapped the campaign count.
      if (await campaignDone()) break;
      during.push(r.toSink);
      to202.push(r.to202);
      toHand.push(r.toHand);
      await sleep(INTERVAL);
    }
    clearInterval(lagTimer);
    const window = (performance.now() - running.at) / 1000;
    const campaignRate = (sink.messages() - running.sinkAtStart) / window;
    log(
      `timed ${during.length} messages over ${window.toFixed(1)} s while the campaign ran at ` +
        `~${Math.round(campaignRate)} msg/s`,
    );
    // The rest of the campaign is not waited for unless BENCH_FINISH=1: the figures are taken.
    if (Deno.env.get("BENCH_FINISH")) { while (!(await campaignDone())) await sleep(200); }
    const campaignSeconds = (performance.now() - c0) / 1000;

    const result = {
      bench: "transactional_latency",
      campaign: {
        n: expand.total,
        seconds: Math.round(campaignSeconds * 10) / 10,
        finished: await campaignDone(),
      },
      campaign_rate_while_timed: Math.round(campaignRate),
      idle_ms_202_to_sink: stats(idle),
      during_ms_202_to_sink: stats(during),
      during_ms_request_to_202: stats(to202),
      during_ms_202_to_transport: stats(toHand),
      event_loop_lag_ms: stats(lag),
      load_average: Deno.loadavg(),
    };
    console.log(
      `\n| phase | n | median ms | p99 ms | max ms |\n|---|---|---|---|---|\n` +
        `| 202 → sink, no campaign | ${result.idle_ms_202_to_sink.n} | ` +
        `${result.idle_ms_202_to_sink.median} | ${result.idle_ms_202_to_sink.p99} | ` +
        `${result.idle_ms_202_to_sink.max} |\n` +
        `| 202 → sink, campaign at ~${result.campaign_rate_while_timed}/s | ` +
        `${result.during_ms_202_to_sink.n} | ${result.during_ms_202_to_sink.median} | ` +
        `${result.during_ms_202_to_sink.p99} | ${result.during_ms_202_to_sink.max} |\n` +
        `| request → 202, campaign running | ${result.during_ms_request_to_202.n} | ` +
        `${result.during_ms_request_to_202.median} | ${result.during_ms_request_to_202.p99} | ` +
        `${result.during_ms_request_to_202.max} |\n` +
        `| 202 → claimed, rendered, handed to SMTP | ${result.during_ms_202_to_transport.n} | ` +
        `${result.during_ms_202_to_transport.median} | ${result.during_ms_202_to_transport.p99} | ` +
        `${result.during_ms_202_to_transport.max} |\n` +
        `| event-loop lag (10 ms timer) | ${result.event_loop_lag_ms.n} | ` +
        `${result.event_loop_lag_ms.median} | ${result.event_loop_lag_ms.p99} | ` +
        `${result.event_loop_lag_ms.max} |${loadAverageLine(result.load_average)}`,
    );
    console.log(JSON.stringify(result));
  } finally {
    await worker?.stop();
    pool?.close();
    await server?.shutdown();
    await bench.close();
    await sink.close();
  }
}

if (import.meta.main) await main();
