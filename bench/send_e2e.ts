// deno task bench:send — the send pipeline end to end on PostgreSQL, against Postfix's smtp-sink,
// next to two references measured in the same run: smtp-source blasting the same sink (the
// machine's physical limit) and a plain nodemailer pool + handlebars script (what a developer
// would write instead). Ends with one JSON line.
//
// Env: BENCH_N (default 100000), SINK_HOST/SINK_PORT (an external sink; default: start one),
// BENCH_DATABASE_URL (a database the bench may create and drop databases from; default
// TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test).
import process from "node:process";
import Handlebars from "handlebars";
import nodemailer from "nodemailer";
import mjml2html from "mjml";
import { createTenant } from "../core/tenants/tenants.ts";
import { createList } from "../core/people/lists.ts";
import { createSend, expandSend } from "../core/send/queue.ts";
import { notifyWorkers, SendWorker } from "../core/send/worker.ts";
import { RenderPool } from "../core/send/render_pool.ts";
import { createDkimSigner, generateDkimKey } from "../core/send/dkim.ts";
import { compileContent, renderMessage, trackingSettings } from "../core/send/render.ts";
import { uuidv7 } from "../core/db/ids.ts";
import { startSmtpSink } from "../core/smtp/_test_servers.ts";
import {
  benchDatabase,
  benchDeps,
  insertAudience,
  log,
  relayToSink,
  traceLogger,
} from "./_shared.ts";

const N = Number(Deno.env.get("BENCH_N") ?? 100_000);
const DOMAINS = 50;

/** Peak RSS of this process, sampled every 50 ms while `fn` runs. */
async function measured<T>(fn: () => Promise<T>) {
  let peak = Deno.memoryUsage().rss;
  const timer = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 50);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    const value = await fn();
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return { value, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMb: peak / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

/**
 * A newsletter designed in MJML, with merge fields and 10 tracked links (3 articles, 7 in the
 * footer): ~18 KB of HTML, ~20+ KB on the wire (the issue's reference; base64 adds a third).
 */
async function newsletterHtml(): Promise<string> {
  const articles = Array.from({ length: 3 }, (_, i) => `
    <mj-section><mj-column>
      <mj-text font-size="18px" font-weight="bold">Nyhet ${
    i + 1
  }: Forskning vid universitetet</mj-text>
      <mj-text>Hej {{firstname}}! ${
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. "
      .repeat(1)
  }</mj-text>
      <mj-button href="https://www.uni.example/news/${i + 1}?utm_source=skicka">Läs mer</mj-button>
    </mj-column></mj-section>`).join("");
  const doc = `<mjml><mj-body>
    <mj-section><mj-column><mj-text font-size="24px">Alumninytt för {{firstname}} {{lastname}}</mj-text></mj-column></mj-section>
    ${articles}
    <mj-section><mj-column><mj-text font-size="11px">${
    ["alumni", "events", "research", "library", "careers", "giving", "contact"]
      .map((p) => `<a href="https://www.uni.example/${p}?utm_source=skicka">${p}</a>`).join(" · ")
  }</mj-text></mj-column></mj-section>
    <mj-section><mj-column><mj-text font-size="11px">{{organisation}} · Du får detta brev som alumn.</mj-text></mj-column></mj-section>
  </mj-body></mjml>`;
  const out = await mjml2html(doc, { validationLevel: "soft" });
  return out.html;
}

async function main() {
  const html = await newsletterHtml();
  log(`message: ${Math.round(html.length / 1024)} KB of HTML, N=${N}, ${DOMAINS} domains`);

  const sink = Deno.env.get("SINK_PORT") ? null : await startSmtpSink({ counter: true });
  const sinkHost = Deno.env.get("SINK_HOST") ?? "127.0.0.1";
  const sinkPort = Number(Deno.env.get("SINK_PORT") ?? sink!.port);
  const received = () => sink?.messages() ?? NaN;

  const bench = await benchDatabase("send", { poolSize: 8 });
  try {
    const deps = benchDeps(bench, { log: traceLogger() });
    const tenant = await createTenant(
      deps,
      { name: "Bench University", tier: "advanced" },
      "bench",
    );
    const list = await createList(deps, tenant.id, { name: "Everyone" }, "bench");
    log("creating persons…");
    await insertAudience(deps, tenant.id, list.id, { n: N, domains: DOMAINS, organisations: true });

    const content = {
      from: { name: "Alumni", address: "alumni@bench.skicka.test" },
      subject: "Alumninytt för {{firstname}}",
      html,
    };
    const sample = renderMessage(compileContent(content), {
      address: "user1@domain1.example",
      first_name: "Förnamn1",
      last_name: "Efternamn1",
    }, {
      tracking: trackingSettings(deps),
      message: { tenantId: tenant.id, queueId: uuidv7(), sendId: uuidv7(), kind: "mass" },
    });
    log(`message on the wire: ${(sample.raw.length / 1024).toFixed(1)} KB (tracked, unsigned)`);
    const dkimKey = {
      domain: "bench.skicka.test",
      selector: "s1",
      privateKeyPem: generateDkimKey("rsa").privateKeyPem,
    };
    const signer = createDkimSigner(dkimKey);
    // BENCH_RENDER_WORKERS=0 renders on the main thread (as before the pool).
    const workers = Number(Deno.env.get("BENCH_RENDER_WORKERS") ?? 2);
    const pool = workers > 0 ? new RenderPool(workers) : undefined;

    const runs: Record<
      string,
      { seconds: number; cpuSeconds: number; peakRssMb: number; sink: number }
    > = {};
    // BENCH_ONLY=unsigned skips the DKIM run and the references (for profiling).
    const only = Deno.env.get("BENCH_ONLY");
    for (const variant of ["unsigned", "dkim"] as const) {
      if (only && only !== variant) continue;
      const before = received();
      const s = await createSend(deps, tenant.id, {
        kind: "mass",
        content,
        audience: { lists: [list.id] },
      }, "bench");
      const expand = await measured(() => expandSend(deps, tenant.id, s.id, "bench"));
      log(`${variant}: expanded ${expand.value.total} in ${expand.seconds.toFixed(2)} s`);
      const worker = new SendWorker(
        deps,
        relayToSink(sinkHost, sinkPort, Number(Deno.env.get("BENCH_CONNECTIONS") ?? 8)),
        {
          batchSize: Number(Deno.env.get("BENCH_BATCH") ?? 500),
          pipelines: Number(Deno.env.get("BENCH_PIPELINES") ?? 3),
          renderPool: pool,
          // Signing happens where rendering does: in the pool's workers when there is a pool.
          sign: variant === "dkim" && !pool ? signer : undefined,
          dkim: variant === "dkim" && pool ? dkimKey : undefined,
        },
      );
      // The worker as it runs in production: its own loops (pipelines), woken by NOTIFY.
      const run = await measured(async () => {
        await worker.start();
        await notifyWorkers(deps);
        while (true) {
          const row = await deps.db.selectFrom("sends").select(["status", "sent", "failed"])
            .where("id", "=", s.id).executeTakeFirstOrThrow();
          if (row.status === "done") return row.sent + row.failed;
          await new Promise((r) => setTimeout(r, 20));
        }
      });
      await worker.stop();
      await new Promise((r) => setTimeout(r, 300)); // the sink's counter prints once a second
      runs[variant] = { ...run, sink: received() - before };
      log(`${variant}: ${run.value} messages in ${run.seconds.toFixed(2)} s`);
    }

    pool?.close();
    if (only) return;
    // Reference 1: smtp-source, same size and count, 8 sessions in parallel.
    const before = received();
    const source = await measured(async () => {
      const out = await new Deno.Command("/usr/sbin/smtp-source", {
        args: [
          "-s",
          "8",
          "-l",
          String(html.length),
          "-m",
          String(N),
          "-f",
          "bench@skicka.test",
          "-t",
          "sink@domain1.example",
          `${sinkHost}:${sinkPort}`,
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    });
    await new Promise((r) => setTimeout(r, 1200));
    const sourceSink = received() - before;

    // Reference 2: nodemailer's pooled transport + handlebars, as an app developer would.
    const template = Handlebars.compile(html);
    const subject = Handlebars.compile(content.subject);
    const transporter = nodemailer.createTransport({
      pool: true,
      maxConnections: 8,
      maxMessages: Infinity,
      host: sinkHost,
      port: sinkPort,
      secure: false,
      ignoreTLS: true,
    });
    const before2 = received();
    const nm = await measured(async () => {
      let next = 0;
      const one = async () => {
        for (let i = next++; i < N; i = next++) {
          const ctx = { firstname: `Förnamn${i}`, lastname: `Efternamn${i}`, organisation: "Org" };
          await transporter.sendMail({
            from: "Alumni <alumni@bench.skicka.test>",
            to: `user${i}@domain${i % DOMAINS}.example`,
            subject: subject(ctx),
            html: template(ctx),
          });
        }
      };
      await Promise.all(Array.from({ length: 64 }, one));
    });
    transporter.close();
    await new Promise((r) => setTimeout(r, 1200));
    const nmSink = received() - before2;

    const rate = (s: number) => Math.round(N / s);
    const rows = [
      ["Skicka, unsigned", runs.unsigned!],
      ["Skicka, DKIM rsa-2048", runs.dkim!],
      ["smtp-source (physical limit)", { ...source, sink: sourceSink }],
      ["nodemailer pool + handlebars", { ...nm, sink: nmSink }],
    ] as const;
    const unsigned = rate(runs.unsigned!.seconds);
    console.log(
      `\n| run | msgs/s | CPU s | peak RSS MB | sink received | Skicka unsigned ÷ this |\n|---|---|---|---|---|---|`,
    );
    for (const [name, r] of rows) {
      console.log(
        `| ${name} | ${rate(r.seconds)} | ${r.cpuSeconds.toFixed(1)} | ${
          Math.round(r.peakRssMb)
        } | ${r.sink} | ${(unsigned / rate(r.seconds)).toFixed(2)} |`,
      );
    }
    console.log(JSON.stringify({
      n: N,
      unsigned_msgs_per_s: unsigned,
      dkim_msgs_per_s: rate(runs.dkim!.seconds),
      smtp_source_msgs_per_s: rate(source.seconds),
      nodemailer_msgs_per_s: rate(nm.seconds),
      sink_received: runs.unsigned!.sink + runs.dkim!.sink,
      peak_rss_mb: Math.round(Math.max(runs.unsigned!.peakRssMb, runs.dkim!.peakRssMb)),
    }));
  } finally {
    await bench.close();
    await sink?.close();
  }
}

await main();
