// Exactly once with several schedulers on PostgreSQL: in one process on separate connections
// sharing a moved clock, and as separate worker processes (main.ts --role=worker) delivering
// over SMTP, which then stop with exit code 0 on SIGTERM. PGlite is one connection, so these
// run only with TEST_DATABASE_URL.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { TEST_DATABASE_URL } from "../../tests/helpers/db.ts";
import { raceDatabase } from "../../tests/helpers/workers.ts";
import { PluginRegistry } from "../../core/plugin.ts";
import { createTenant } from "../../core/tenants/tenants.ts";
import { createPerson } from "../../core/people/persons.ts";
import { createSender, verifySender } from "../../core/mailings/senders.ts";
import { createMailing } from "../../core/mailings/mailings.ts";
import { startSmtpServer } from "../../core/smtp/_test_servers.ts";
import { installedPlugins } from "../mod.ts";
import { Scheduler } from "./scheduler.ts";
import { notifySchedulers, scheduleMailing } from "./schedules.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const ignore = !TEST_DATABASE_URL;
if (ignore) console.warn("scheduler_race_test: set TEST_DATABASE_URL to run it");
const HOUR = 3_600_000;

async function setup(n: number) {
  const race = await raceDatabase(new PluginRegistry(installedPlugins));
  const { deps } = race;
  const tenant = await createTenant(deps, { name: "Race Org", tier: "advanced" }, "test");
  const sender = await createSender(
    deps,
    tenant.id,
    { name: "News", address: "news@race.example" },
    "t",
  );
  await verifySender(deps, tenant.id, sender.id, "test");
  const mailings: { id: string; address: string }[] = [];
  for (let i = 0; i < n; i++) {
    const address = `p${i}@race.example`;
    const p = await createPerson(
      deps,
      tenant.id,
      { first_name: `P${i}`, addresses: [{ address }] },
      "t",
    );
    const m = await createMailing(deps, tenant.id, {
      from_identity_id: sender.id,
      subject: `Mailing ${i}`,
      body_html: "<p>Hej {{firstname}}</p>",
      recipients: { persons: [p.id] },
    }, "user:test");
    mailings.push({ id: m.id, address });
  }
  return {
    ...race,
    tenant,
    mailings,
    async sendsPerMailing() {
      const r = await sql<{ mailing_id: string; n: number }>`select mailing_id, count(*)::int as n
        from sends where tenant_id = ${tenant.id} and not is_test group by mailing_id`
        .execute(deps.db);
      return new Map(r.rows.map((x) => [x.mailing_id, Number(x.n)]));
    },
  };
}

Deno.test({
  name: "four schedulers on separate connections start each of 12 due mailings exactly once",
  ignore,
  async fn() {
    const env = await setup(12);
    const dbs = await env.connections(4, 2);
    const schedulers = dbs.map((d, i) =>
      new Scheduler(env.depsFor(d), { id: `sched-${i}`, batch: 3 })
    );
    try {
      const local = new Intl.DateTimeFormat("sv-SE", {
        timeZone: env.tenant.time_zone,
        dateStyle: "short",
        timeStyle: "short",
      }).format(new Date(env.deps.clock().getTime() + HOUR)).replace(" ", "T");
      for (const m of env.mailings) {
        await scheduleMailing(env.deps, env.tenant, m.id, { local }, "user:test");
      }
      await Promise.all(schedulers.map((s) => s.start()));
      env.advance(HOUR + 60_000);
      await notifySchedulers(env.deps); // all four wake at once and race for the same rows
      const end = Date.now() + 60_000;
      for (;;) {
        const left = await sql<{ n: number }>`select count(*)::int as n from scheduled_mailings
          where status in ('scheduled', 'starting')`.execute(env.deps.db);
        if (Number(left.rows[0]!.n) === 0) break;
        if (Date.now() > end) throw new Error("schedules did not all start");
        await new Promise((r) => setTimeout(r, 50));
      }
      const sends = await env.sendsPerMailing();
      for (const m of env.mailings) assert.equal(sends.get(m.id), 1, `one send for ${m.id}`);
      const rows = await sql<{ status: string; attempts: number; claimed_by: string }>`
        select status, attempts, claimed_by from scheduled_mailings`.execute(env.deps.db);
      assert.ok(rows.rows.every((r) => r.status === "started" && r.attempts === 1));
      const by = new Set(rows.rows.map((r) => r.claimed_by));
      console.log(`12 schedules started by ${by.size} of 4 schedulers`);
    } finally {
      await Promise.all(schedulers.map((s) => s.stop()));
      await Promise.all(dbs.map((d) => d.close()));
      await env.close();
    }
  },
});

function worker(url: string, smtpPort: number, dataDir: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--role=worker"],
    env: {
      DATABASE_URL: url,
      DATA_DIR: dataDir,
      SECRET_KEY: "k".repeat(64),
      DELIVERY: `smtp://127.0.0.1:${smtpPort}`,
      LOG_LEVEL: "info",
      NO_COLOR: "1",
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  (async () => {
    for await (const _ of child.stderr) { /* drained: a full pipe would stall it */ }
  })();
  return child;
}

/** Resolves when the process logged that its scheduler runs; keeps draining stdout. */
async function ready(child: Deno.ChildProcess): Promise<void> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("scheduler started")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`worker exited before it was ready: ${seen}`);
    seen = (seen + value).slice(-4000);
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
}

Deno.test({
  name: "three worker processes start 10 due mailings exactly once; SIGTERM exits 0",
  ignore,
  async fn() {
    const env = await setup(10);
    const server = await startSmtpServer({ disabledCommands: ["STARTTLS"] });
    const dataDir = await Deno.makeTempDir({ prefix: "skicka-sched-" });
    const procs = [1, 2, 3].map(() => worker(env.url, server.port, dataDir));
    try {
      await Promise.all(procs.map(ready));
      // Scheduled "an hour ago" for half an hour ago: already due for the workers' real clocks.
      // Each schedule's NOTIFY wakes all three processes, which race to claim it.
      env.advance(-HOUR);
      const local = new Intl.DateTimeFormat("sv-SE", {
        timeZone: env.tenant.time_zone,
        dateStyle: "short",
        timeStyle: "short",
      }).format(new Date(env.deps.clock().getTime() + 30 * 60_000)).replace(" ", "T");
      await Promise.all(
        env.mailings.map((m) => scheduleMailing(env.deps, env.tenant, m.id, { local }, "user:t")),
      );
      const end = Date.now() + 60_000;
      while (server.received.length < env.mailings.length) {
        if (Date.now() > end) throw new Error(`only ${server.received.length} messages arrived`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 500)); // a duplicate would arrive by now
      const to = server.received.flatMap((r) => r.to).sort();
      assert.deepEqual(to, env.mailings.map((m) => m.address).sort(), "each mailing once");
      const sends = await env.sendsPerMailing();
      for (const m of env.mailings) assert.equal(sends.get(m.id), 1);
    } finally {
      for (const p of procs) p.kill("SIGTERM");
      const codes = await Promise.all(procs.map((p) => p.status));
      await server.close();
      await env.close();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      assert.deepEqual(codes.map((c) => c.code), [0, 0, 0], "SIGTERM stops them cleanly");
    }
  },
});
