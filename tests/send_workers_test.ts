// Send workers as separate processes against one PostgreSQL: two share a send without sending
// anything twice; a worker killed with SIGKILL mid-send loses nothing. (PGlite is one process:
// these run only with TEST_DATABASE_URL.)
import assert from "node:assert/strict";
import { sql } from "kysely";
import { CORE_MIGRATIONS, migrate, openDatabase } from "../core/db/mod.ts";
import { freshPostgresUrl, TEST_DATABASE_URL } from "./helpers/db.ts";
import { createTenant } from "../core/tenants/tenants.ts";
import { createSend, expandSend, getSend } from "../core/send/queue.ts";
import { notifyWorkers } from "../core/send/worker.ts";
import { PluginRegistry } from "../core/plugin.ts";
import { startSmtpServer } from "../core/smtp/_test_servers.ts";
import { ensureOperator } from "../core/bootstrap.ts";
import { loadConfig } from "../core/config.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const ignore = !TEST_DATABASE_URL;
if (ignore) console.warn("send_workers_test: set TEST_DATABASE_URL to run the multi-process tests");

async function setup(n: number) {
  const fresh = await freshPostgresUrl();
  const database = await openDatabase({ url: fresh.url, poolSize: 4 });
  await migrate(database.db, [{ scope: "core", dir: CORE_MIGRATIONS }]);
  const deps = { db: database.db, clock: () => new Date(), registry: new PluginRegistry([]) };
  const tenant = await createTenant(deps, { name: "Workers Org", tier: "standard" }, "test");
  await sql`insert into persons (tenant_id, id, first_name, created_at, updated_at)
    select ${tenant.id}, skicka_uuidv7(), 'P' || g, now(), now() from generate_series(1, ${n}) g`
    .execute(database.db);
  await sql`insert into person_addresses (tenant_id, id, person_id, address, address_key,
      is_primary, created_at)
    select tenant_id, skicka_uuidv7(), id, lower(first_name) || '@d' || (length(first_name) % 7)
      || '.example', lower(first_name) || '@d' || (length(first_name) % 7) || '.example', true, now()
    from persons where tenant_id = ${tenant.id}`.execute(database.db);
  const list = (await sql<{ id: string }>`insert into lists (tenant_id, id, name, created_at,
      updated_at) values (${tenant.id}, skicka_uuidv7(), 'Everyone', now(), now()) returning id`
    .execute(database.db)).rows[0]!.id;
  await sql`insert into list_members (tenant_id, list_id, person_id, added_at)
    select ${tenant.id}, ${list}, id, now() from persons`.execute(database.db);
  const s = await createSend(deps, tenant.id, {
    kind: "mass",
    content: { from: { address: "news@org.example" }, subject: "Hi {{firstname}}", text: "Hej" },
    audience: { lists: [list] },
  }, "test");
  return {
    /** Queues the send; workers started before this all wake on its NOTIFY together. */
    async expand() {
      const { total } = await expandSend(deps, tenant.id, s.id, "test");
      assert.equal(total, n);
      await notifyWorkers({ db: database.db });
    },
    url: fresh.url,
    database,
    tenantId: tenant.id,
    sendId: s.id,
    async close() {
      await database.close();
      await fresh.drop();
    },
  };
}

function worker(url: string, smtpPort: number, extra: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--role=worker"],
    env: {
      DATABASE_URL: url,
      DELIVERY: `smtp://127.0.0.1:${smtpPort}`,
      SEND_BATCH_SIZE: "100",
      SEND_LEASE_SECONDS: "5",
      LOG_LEVEL: "info",
      NO_COLOR: "1",
      ...extra,
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Drained all along (a full pipe would stall the worker); its tail explains a failed start.
  const tail = { text: "" };
  stderrTails.set(child, tail);
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      tail.text = (tail.text + chunk).slice(-2000);
    }
  })();
  return child;
}
const stderrTails = new WeakMap<Deno.ChildProcess, { text: string }>();

/** Resolves when the worker process logged that its send worker runs; keeps draining stdout. */
async function ready(child: Deno.ChildProcess): Promise<void> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("send worker started")) {
    const { value, done } = await reader.read();
    if (done) {
      const { code } = await child.status;
      throw new Error(
        `worker exited (code ${code}) before it was ready.\nstdout: ${seen}\nstderr: ${
          stderrTails.get(child)?.text ?? ""
        }`,
      );
    }
    seen = (seen + value).slice(-2000);
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
}

async function until(what: string, cond: () => Promise<boolean>, limitMs = 120_000) {
  const end = Date.now() + limitMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function messageIds(received: { body: Uint8Array }[]): string[] {
  const decoder = new TextDecoder();
  return received.map((r) => /^Message-ID: (<[^>]+>)/im.exec(decoder.decode(r.body))?.[1] ?? "?");
}

// The cause of a flaky "worker exited before it was ready": workers started together on a new
// database each created the operator account, and all but one died on its unique email.
Deno.test({
  name: "processes starting together on a new database create the operator once, none fails",
  ignore,
  async fn() {
    const fresh = await freshPostgresUrl();
    const dbs = await Promise.all(
      [1, 2, 3].map(() => openDatabase({ url: fresh.url, poolSize: 1 })),
    );
    try {
      await migrate(dbs[0]!.db, [{ scope: "core", dir: CORE_MIGRATIONS }]);
      const config = loadConfig({ DATABASE_URL: fresh.url, SECRET_KEY: "k".repeat(64) });
      for (let round = 0; round < 10; round++) {
        await sql`truncate operators cascade`.execute(dbs[0]!.db);
        const links = await Promise.all(
          dbs.map((d) => ensureOperator({ db: d.db, clock: () => new Date(), config })),
        );
        assert.equal(links.filter(Boolean).length, 1, `round ${round}: one link, to one creator`);
        const ops = await dbs[0]!.db.selectFrom("operators").select("email").execute();
        assert.deepEqual(ops.map((o) => o.email), [config.operatorEmail]);
      }
    } finally {
      await Promise.all(dbs.map((d) => d.close()));
      await fresh.drop();
    }
  },
});

Deno.test({
  name: "two worker processes share one send without a single duplicate",
  ignore,
  async fn() {
    const N = 3000;
    const env = await setup(N);
    const server = await startSmtpServer({ disabledCommands: ["STARTTLS"] });
    const a = worker(env.url, server.port);
    const b = worker(env.url, server.port);
    try {
      await Promise.all([ready(a), ready(b)]);
      await env.expand();
      await until(
        "the send to finish",
        async () =>
          (await getSend({ db: env.database.db }, env.tenantId, env.sendId)).status === "done",
      );
      assert.equal(server.received.length, N);
      assert.equal(new Set(messageIds(server.received)).size, N, "no message twice");
      const by = await env.database.db.selectFrom("send_queue")
        .select(["leased_by", sql<number>`count(*)::int`.as("n")]).where("status", "=", "sent")
        .groupBy("leased_by").execute();
      assert.equal(by.length, 2, `both workers sent: ${JSON.stringify(by)}`);
    } finally {
      a.kill("SIGTERM");
      b.kill("SIGTERM");
      await Promise.all([a.status, b.status]);
      await server.close();
      await env.close();
    }
  },
});

Deno.test({
  name: "a worker killed with SIGKILL mid-send loses nothing; duplicates stay within its batches",
  ignore,
  async fn() {
    const N = 2000;
    const env = await setup(N);
    // A slowish server (5 ms per message) so the kill lands mid-send.
    const slow = await startSmtpServer({
      disabledCommands: ["STARTTLS"],
      async onData(stream, _session, callback) {
        const chunks: Uint8Array[] = [];
        try {
          for await (const c of stream) chunks.push(c as Uint8Array);
        } catch (e) {
          return callback(e as Error); // the killed worker's connection broke mid-message
        }
        const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        let o = 0;
        for (const c of chunks) body.set(c, (o += c.length) - c.length);
        received.push({ body });
        setTimeout(callback, 5);
      },
    });
    const received: { body: Uint8Array }[] = [];
    const a = worker(env.url, slow.port);
    let b: Deno.ChildProcess | undefined;
    try {
      await ready(a);
      await env.expand();
      await until("some mail to arrive", () => Promise.resolve(received.length >= 400));
      a.kill("SIGKILL");
      await a.status;
      const atKill = received.length;
      b = worker(env.url, slow.port);
      await ready(b);
      await until(
        "the send to finish",
        async () =>
          (await getSend({ db: env.database.db }, env.tenantId, env.sendId)).status === "done",
      );
      const ids = messageIds(received);
      const unique = new Set(ids).size;
      assert.equal(unique, N, "every message delivered");
      const duplicates = ids.length - unique;
      console.log(`SIGKILL after ${atKill} received: ${duplicates} duplicates (3 batches of 100)`);
      // A worker keeps 3 batches in flight; what it delivered but had not recorded is sent again.
      assert.ok(duplicates <= 300, `${duplicates} duplicates: more than the batches in flight`);
    } finally {
      try {
        a.kill("SIGKILL");
      } catch { /* already dead */ }
      b?.kill("SIGTERM");
      await b?.status;
      await slow.close();
      await env.close();
    }
  },
});
