// deno task bench:smtp-relay — Skicka's SMTP relay end to end on PostgreSQL, as issue #7 asks:
// Postfix's smtp-source with 50 sessions submits ~20 KB messages in the clear to Skicka, which
// authorises the client by a relay network (127.0.0.0/8, like Postfix's mynetworks), commits each
// message to the queue before 250, and a send worker delivers them to Postfix's smtp-sink. In the
// same run the same smtp-source load goes to a throwaway Postfix relay (mynetworks) in front of
// the same sink, for the ratio. End to end means until the sink has received all N.
//
// A second row (BENCH_NODEMAILER=0 skips it): nodemailer's pool from a separate process (this
// file with `client`) with STARTTLS + AUTH against Skicka and STARTTLS against Postfix, and an
// smtp-server that discards as that client's ceiling. Ends with one JSON line.
//
// Env: BENCH_N (default 20000), BENCH_SESSIONS (50), BENCH_KB (20), BENCH_DATABASE_URL (a
// database the bench may create and drop databases from; default TEST_DATABASE_URL or
// postgres://postgres@127.0.0.1:5432/test), BENCH_POSTFIX=0 skips the Postfix runs,
// BENCH_NODEMAILER=0 skips the nodemailer runs, BENCH_SOURCE_REUSE=1 lets each smtp-source
// session keep its connection (-d; default: a connection per message), BENCH_DELIVER=after
// starts the send worker only once smtp-source is done (acceptance alone), BENCH_POOL
// (database connections, 10), BENCH_GROUP_MAX / BENCH_IN_FLIGHT (group commit: messages per
// transaction, transactions at once).
import nodemailer from "nodemailer";
import { PluginRegistry } from "../core/plugin.ts";
import { SendWorker } from "../core/send/worker.ts";
import { RenderPool } from "../core/send/render_pool.ts";
import { startSmtpSink } from "../core/smtp/_test_servers.ts";
import { startDiscardServer, startPostfix } from "./smtp_relay_peers.ts";
import { transactionalPlugin } from "../plugins/transactional/mod.ts";
import { createSmtpCredential } from "../plugins/transactional/credentials.ts";
import { addRelayNetwork } from "../plugins/transactional/relay_networks.ts";
import { startSubmission } from "../plugins/transactional/smtp_server.ts";
import { DEFAULT_GROUP_COMMIT } from "../plugins/transactional/smtp_group_commit.ts";
import { selfSignedCertificate } from "../plugins/transactional/smtp_tls.ts";
import {
  benchDatabase,
  benchDeps,
  benchShop,
  log,
  relayToSink,
  SHOP_ADDRESS,
  traceLogger,
} from "./_shared.ts";

const N = Number(Deno.env.get("BENCH_N") ?? 20_000);
const SESSIONS = Number(Deno.env.get("BENCH_SESSIONS") ?? 50);
const KB = Number(Deno.env.get("BENCH_KB") ?? 20);
const FROM = SHOP_ADDRESS;

/** A ~KB KB order confirmation as a shop would submit it: headers, then 76-character lines. */
function messageOf(i: number, kb: number): string {
  const line = "Tack för din beställning! Din order packas och skickas inom två arbetsdagar.";
  const body = Array.from({ length: Math.ceil((kb * 1024) / (line.length + 2)) }, () => line);
  return [
    `From: Shop <${FROM}>`,
    `To: <customer${i}@domain${i % 50}.example>`,
    `Subject: Order ${i} confirmed`,
    `Message-ID: <order-${i}@bench.skicka.test>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "X-Skicka-Tags: orders",
    "",
    ...body,
    "",
  ].join("\r\n");
}

// ---- the load client (a process of its own) ----

interface ClientJob {
  port: number;
  n: number;
  sessions: number;
  kb: number;
  /** PEM to trust for STARTTLS; null sends in the clear. */
  ca: string | null;
  auth: { user: string; pass: string } | null;
}

async function client(job: ClientJob) {
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: job.sessions,
    maxMessages: Infinity,
    host: "127.0.0.1",
    port: job.port,
    secure: false,
    requireTLS: job.ca !== null,
    ignoreTLS: job.ca === null,
    tls: job.ca ? { ca: [job.ca], servername: "localhost" } : undefined,
    auth: job.auth ?? undefined,
  });
  let next = 0;
  let failed = 0;
  let firstError = "";
  const t0 = performance.now();
  const loop = async () => {
    for (let i = next++; i < job.n; i = next++) {
      try {
        await transport.sendMail({
          envelope: { from: FROM, to: [`customer${i}@domain${i % 50}.example`] },
          raw: messageOf(i, job.kb),
        });
      } catch (e) {
        failed++;
        firstError ||= String(e);
      }
    }
  };
  await Promise.all(Array.from({ length: job.sessions * 2 }, loop));
  const seconds = (performance.now() - t0) / 1000;
  transport.close();
  console.log(JSON.stringify({ seconds, ok: job.n - failed, failed, firstError }));
}

async function runClient(job: ClientJob) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "client"],
    env: { BENCH_CLIENT_JOB: JSON.stringify(job) },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (!out.success) throw new Error(`load client failed: ${text}`);
  return JSON.parse(text) as { seconds: number; ok: number; failed: number; firstError: string };
}

// ---- the run ----

const rate = (n: number, s: number) => Math.round(n / s);

interface Row {
  name: string;
  accepted: number;
  acceptSeconds: number;
  endToEndSeconds: number;
  sink: number;
}

/** Runs one load against `port` and waits until the sink has all of it (or 120 s). */
async function measure(
  name: string,
  sink: { messages(): number },
  load: () => Promise<{ ok: number; seconds: number; failed: number; firstError: string }>,
): Promise<Row> {
  const before = sink.messages();
  const t0 = performance.now();
  const r = await load();
  if (r.failed) log(`${name}: ${r.failed} refused, first: ${r.firstError}`);
  const deadline = performance.now() + 120_000;
  while (sink.messages() - before < r.ok && performance.now() < deadline) {
    await new Promise((res) => setTimeout(res, 10));
  }
  const row = {
    name,
    accepted: r.ok,
    acceptSeconds: r.seconds,
    endToEndSeconds: (performance.now() - t0) / 1000,
    sink: sink.messages() - before,
  };
  log(
    `${name}: ${row.accepted} accepted in ${
      row.acceptSeconds.toFixed(2)
    } s, ${row.sink} at the sink after ${row.endToEndSeconds.toFixed(2)} s`,
  );
  return row;
}

/**
 * Postfix's smtp-source: N copies of the prepared message (`-F`, so its From: is the verified
 * shop sender) over SESSIONS sessions in the clear, MAIL FROM the shop, each message to a
 * different recipient (`-N` numbers them).
 */
async function runSmtpSource(port: number, file: string) {
  const t0 = performance.now();
  const out = await new Deno.Command("/usr/sbin/smtp-source", {
    args: [
      ...["-s", String(SESSIONS), "-m", String(N), "-F", file, "-f", FROM, "-N"],
      // smtp-source's default is a connection per message; -d keeps each session's connection.
      ...(Deno.env.get("BENCH_SOURCE_REUSE") === "1" ? ["-d"] : []),
      ...["-t", "customer@domain1.example", `127.0.0.1:${port}`],
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  return {
    ok: out.success ? N : 0,
    failed: out.success ? 0 : N,
    firstError: new TextDecoder().decode(out.stderr).slice(0, 300),
    seconds: (performance.now() - t0) / 1000,
  };
}

const SKICKA_SOURCE = "Skicka, fed by smtp-source (plain, relay network, queued in PostgreSQL)";
const POSTFIX_SOURCE = "Postfix relay, fed by smtp-source (plain, mynetworks)";
const SKICKA_NODEMAILER = "Skicka, fed by nodemailer (STARTTLS + AUTH, queued in PostgreSQL)";
const POSTFIX_NODEMAILER = "Postfix relay, fed by nodemailer (STARTTLS, mynetworks)";

async function main() {
  log(`N=${N}, ${SESSIONS} sessions, ~${KB} KB per message (${messageOf(0, KB).length} bytes)`);
  const nodemailerRuns = Deno.env.get("BENCH_NODEMAILER") !== "0";
  const sink = await startSmtpSink({ counter: true });
  const tls = await selfSignedCertificate("localhost");
  const registry = new PluginRegistry([transactionalPlugin]);
  const bench = await benchDatabase("relay", {
    poolSize: Number(Deno.env.get("BENCH_POOL") ?? 10),
    registry,
  });
  const dir = await Deno.makeTempDir({ prefix: "skicka-bench-relay-" });
  // smtp-source appends CRLF to each line of the file.
  const file = `${dir}/message.eml`;
  await Deno.writeTextFile(file, messageOf(0, KB).replaceAll("\r\n", "\n"));
  const rows: Row[] = [];
  let ceiling = 0;
  try {
    const deps = benchDeps(bench, { registry, log: traceLogger() });
    const { tenant } = await benchShop(deps, "light");
    await addRelayNetwork(deps, tenant.id, { network: "127.0.0.0/8", note: "bench" }, {
      actor: "bench",
    });
    const cred = await createSmtpCredential(deps, tenant.id, { name: "bench" }, {
      id: null,
      label: "bench",
    });
    const submission = await startSubmission(deps, {
      port: 0,
      host: "127.0.0.1",
      tls,
      groupCommit: {
        maxBatch: Number(Deno.env.get("BENCH_GROUP_MAX") ?? DEFAULT_GROUP_COMMIT.maxBatch),
        maxInFlight: Number(Deno.env.get("BENCH_IN_FLIGHT") ?? DEFAULT_GROUP_COMMIT.maxInFlight),
      },
    });
    const pool = new RenderPool(1);
    const worker = new SendWorker(
      deps,
      relayToSink("127.0.0.1", sink.port),
      { batchSize: 500, renderPool: pool },
    );
    // BENCH_DELIVER=after measures the headline run's acceptance alone: the worker starts once
    // smtp-source is done (and stays on for the nodemailer run).
    const after = Deno.env.get("BENCH_DELIVER") === "after";
    if (!after) await worker.start();
    try {
      rows.push(
        await measure(
          SKICKA_SOURCE,
          sink,
          () => runSmtpSource(submission.port, file).finally(() => after && worker.start()),
        ),
      );
      if (nodemailerRuns) {
        rows.push(
          await measure(SKICKA_NODEMAILER, sink, () =>
            runClient({
              port: submission.port,
              n: N,
              sessions: SESSIONS,
              kb: KB,
              ca: tls.cert,
              auth: { user: cred.username, pass: cred.password },
            })),
        );
      }
    } finally {
      await worker.stop();
      pool.close();
      await submission.close();
    }

    if (nodemailerRuns) {
      // The ceiling of this client, TLS and smtp-server on this machine: a server that discards.
      const discard = await startDiscardServer(tls);
      try {
        const r = await runClient({
          port: discard.port,
          n: N,
          sessions: SESSIONS,
          kb: KB,
          ca: tls.cert,
          auth: { user: "bench", pass: "bench" },
        });
        ceiling = rate(r.ok, r.seconds);
        log(`smtp-server that discards: ${r.ok} accepted in ${r.seconds.toFixed(2)} s`);
      } finally {
        await discard.close();
      }
    }

    if (Deno.env.get("BENCH_POSTFIX") !== "0") {
      const postfix = await startPostfix(sink.port, tls, SESSIONS);
      try {
        rows.push(await measure(POSTFIX_SOURCE, sink, () => runSmtpSource(postfix.port, file)));
        if (nodemailerRuns) {
          rows.push(
            await measure(POSTFIX_NODEMAILER, sink, () =>
              runClient({
                port: postfix.port,
                n: N,
                sessions: SESSIONS,
                kb: KB,
                ca: tls.cert,
                auth: null,
              })),
          );
        }
      } finally {
        await postfix.stop();
      }
    }
  } finally {
    await bench.close();
    await sink.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }

  console.log(
    "\n| run | accepted msgs/s | end to end msgs/s (at the sink) | at the sink |\n|---|---|---|---|",
  );
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${rate(r.accepted, r.acceptSeconds)} | ${
        rate(r.sink, r.endToEndSeconds)
      } | ${r.sink}/${r.accepted} |`,
    );
  }
  const endToEnd = (name: string) => {
    const r = rows.find((x) => x.name === name);
    return r ? rate(r.sink, r.endToEndSeconds) : null;
  };
  const ratio = (a: number | null, b: number | null) => a && b ? +(a / b).toFixed(2) : null;
  const headline = rows.find((x) => x.name === SKICKA_SOURCE)!;
  const skickaSource = endToEnd(SKICKA_SOURCE);
  const postfixSource = endToEnd(POSTFIX_SOURCE);
  const skickaNodemailer = endToEnd(SKICKA_NODEMAILER);
  const postfixNodemailer = endToEnd(POSTFIX_NODEMAILER);
  if (postfixSource) {
    log(`smtp-source end to end: Skicka/Postfix = ${ratio(skickaSource, postfixSource)}`);
  }
  console.log(JSON.stringify({
    n: N,
    sessions: SESSIONS,
    kb: KB,
    skicka_accepted_per_s: rate(headline.accepted, headline.acceptSeconds),
    skicka_end_to_end_per_s: skickaSource,
    postfix_relay_end_to_end_per_s: postfixSource,
    ratio_end_to_end: ratio(skickaSource, postfixSource),
    nodemailer_skicka_end_to_end_per_s: skickaNodemailer,
    nodemailer_postfix_end_to_end_per_s: postfixNodemailer,
    nodemailer_ratio_end_to_end: ratio(skickaNodemailer, postfixNodemailer),
    discarding_smtp_server_accepted_per_s: nodemailerRuns ? ceiling : null,
  }));
}

if (Deno.args[0] === "client") {
  await client(JSON.parse(Deno.env.get("BENCH_CLIENT_JOB")!) as ClientJob);
} else {
  await main();
}
