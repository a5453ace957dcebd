// Deliver-stage throughput: batches of 20 KB messages through SmtpPool to real loopback peers.
// Run: deno bench -A bench/smtp_bench.ts   (msg/s medians are printed at the end)
import { Buffer } from "node:buffer";
import nodemailer from "nodemailer";
import { SmtpConnection } from "../core/smtp/client.ts";
import { SmtpPool } from "../core/smtp/pool.ts";
import {
  hasSmtpSink,
  startSmtpServer,
  startSmtpSink,
  type TestSmtpServer,
} from "../core/smtp/_test_servers.ts";

const BATCH = 1000;
const SMALL_BATCH = 100;

/** A 20 KB newsletter as the render stage hands it over: headers, quoted-printable HTML. */
function message(): Uint8Array {
  const head = [
    "From: Skicka Nyheter <news@skicka.example>",
    "To: =?utf-8?Q?=C3=85sa_=C3=96berg?= <asa.oberg@example.se>",
    "Subject: =?utf-8?Q?H=C3=B6stens_erbjudanden?=",
    "Message-ID: <01J9ZK8V7Q3D8H2N4W5X6Y7Z8A@skicka.example>",
    "MIME-Version: 1.0",
    "Content-Type: text/html; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable",
  ].join("\r\n");
  const line = '<p style=3D"margin:0 0 8px">H=C3=B6stens b=C3=A4sta erbjudanden f=C3=B6r di=';
  let body = "";
  for (let i = 0; body.length < 20_000; i++) body += (i % 40 === 0 ? "." : "") + line + "\r\n";
  return new TextEncoder().encode(`${head}\r\n\r\n${body}`);
}

const raw = message();
const envelope = { from: "bounce+01J9ZK8V@skicka.example", to: ["asa.oberg@example.se"] };
const msg = { ...envelope, raw };
const medians: [string, number][] = [];
const cleanups: (() => void | Promise<void>)[] = [];

/** Registers a bench that sends `count` messages per iteration and records msg/s. */
function benchBatch(name: string, count: number, run: () => Promise<unknown>, ignore = false) {
  const times: number[] = [];
  let runs = 0;
  medians.push([name, 0]);
  const slot = medians.length - 1;
  Deno.bench({
    name,
    ignore,
    n: 10,
    warmup: 2,
    async fn() {
      const t0 = performance.now();
      await run();
      // The first runs (warm-up, calibration) open connections and warm the JIT: not counted.
      if (++runs <= 3) return;
      times.push(performance.now() - t0);
      const sorted = times.toSorted((a, b) => a - b);
      medians[slot] = [name, count / (sorted[sorted.length >> 1]! / 1000)];
    },
  });
}

const sendAll = (send: () => Promise<unknown>, count: number) =>
  Promise.all(Array.from({ length: count }, send));

const sink = hasSmtpSink() ? await startSmtpSink({ counter: false }) : undefined;
if (!sink) console.log("smtp-sink not found at /usr/sbin/smtp-sink: its benchmarks are skipped");
const sinkPort = sink?.port ?? 0;
const server: TestSmtpServer = await startSmtpServer({ hideSize: true });

for (const connections of [1, 4, 8]) {
  const pool = new SmtpPool({
    host: "127.0.0.1",
    port: sinkPort,
    tls: "off",
    maxConnections: connections,
  });
  cleanups.push(() => pool.close());
  benchBatch(
    `SmtpPool x${connections} → smtp-sink, ${BATCH} × 20 KB`,
    BATCH,
    () => sendAll(() => pool.send(msg), BATCH),
    !sink,
  );
}

benchBatch(
  `new connection per message → smtp-sink, ${SMALL_BATCH} × 20 KB, 4 at a time`,
  SMALL_BATCH,
  async () => {
    for (let i = 0; i < SMALL_BATCH; i += 4) {
      await sendAll(async () => {
        const conn = await SmtpConnection.connect({
          host: "127.0.0.1",
          port: sinkPort,
          tls: "off",
        });
        await conn.send(msg);
        await conn.quit();
      }, 4);
    }
  },
  !sink,
);

const mailer = nodemailer.createTransport({
  host: "127.0.0.1",
  port: sinkPort,
  pool: true,
  maxConnections: 4,
  maxMessages: Infinity,
  ignoreTLS: true,
});
cleanups.push(() => mailer.close());
const rawBuffer = Buffer.from(raw);
benchBatch(
  `nodemailer pool x4 → smtp-sink, ${BATCH} × 20 KB (reference)`,
  BATCH,
  () => sendAll(() => mailer.sendMail({ envelope, raw: rawBuffer }), BATCH),
  !sink,
);

const serverPool = new SmtpPool({
  host: "127.0.0.1",
  port: server.port,
  tls: "off",
  maxConnections: 4,
});
cleanups.push(() => serverPool.close());
benchBatch(
  `SmtpPool x4 → smtp-server, ${SMALL_BATCH * 5} × 20 KB`,
  SMALL_BATCH * 5,
  () => sendAll(() => serverPool.send(msg), SMALL_BATCH * 5),
);

// Deno.bench has no teardown hook: print the figures and stop the peers when the run ends.
globalThis.addEventListener("unload", () => {
  console.log("\nmsg/s, median of the measured batches:");
  for (const [name, rate] of medians) {
    if (rate > 0) console.log(`  ${rate.toFixed(0).padStart(7)}  ${name}`);
  }
  for (const cleanup of cleanups) void cleanup();
  void server.close();
  void sink?.close();
});
