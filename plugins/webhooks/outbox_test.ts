// The transactional outbox: afterEvents runs inside the transaction that records the events, each
// plugin in its own savepoint. An event that commits has its outbox rows (a failing plugin loses
// only its own writes, the recording and the other plugins stand); an event that rolls back
// leaves none.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { apiClient, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { sendMailing } from "../../tests/helpers/bounces.ts";
import { recordBounces } from "../../core/feedback/bounces.ts";
import { writeEvents } from "../../core/feedback/events.ts";
import { unsubscribe } from "../../core/feedback/unsubscribe.ts";
import { createLogger } from "../../core/log.ts";
import { emitMailEvents } from "../../core/feedback/mail_events.ts";
import {
  MAIL_EVENT_TYPES,
  type MailEvent,
  type Plugin,
  PluginRegistry,
} from "../../core/plugin.ts";
import { webhooksPlugin } from "./mod.ts";

/** Writes a mark, then throws: its mark must never be seen. */
const broken: Plugin = {
  name: "broken",
  tier: "addon",
  hooks: {
    afterEvents: async (events, deps) => {
      await sql`insert into broken_marks (queue_id) select unnest(${
        events.map((e) => e.queueId)
      }::uuid[])`.execute(deps.db);
      throw new Error("broken on purpose");
    },
  },
};

const witnessed: MailEvent[] = [];
/** Runs after the webhooks plugin: writes a mark per event it is told about. */
const witness: Plugin = {
  name: "witness",
  tier: "addon",
  hooks: {
    afterEvents: async (events, deps) => {
      witnessed.push(...events);
      await sql`insert into witness_marks (queue_id, type) select * from unnest(${
        events.map((e) => e.queueId)
      }::uuid[], ${events.map((e) => e.type)}::text[])`.execute(deps.db);
    },
  },
};

const t = await testApp({
  plugins: [broken, webhooksPlugin, witness],
  env: { WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_ALLOW_HTTP: "true" },
});
const logged: { msg: string; plugin?: string }[] = [];
t.deps.log = createLogger("error", {}, (line) => logged.push(JSON.parse(line)));
await sql`create table broken_marks (queue_id uuid not null)`.execute(t.deps.db);
await sql`create table witness_marks (queue_id uuid not null, type text not null)`
  .execute(t.deps.db);
const org = await seedTenant(t, { addons: ["broken", "webhooks", "witness"], slug: "ob-org" });
const ep = await apiClient(t, org.key)("POST", "/webhooks", {
  url: "http://127.0.0.1:9/hook",
  events: [...MAIL_EVENT_TYPES],
});
assert.equal(ep.status, 201);

const outbox = async (queueId: string) =>
  (await sql<{ type: string }>`select type from webhook_events
    where tenant_id = ${org.tenant.id} and payload->>'message_id' = ${queueId}
    order by type`.execute(t.deps.db)).rows.map((r) => r.type);
const marks = async (table: "broken_marks" | "witness_marks", queueId: string) =>
  Number(
    (await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}
      where queue_id = ${queueId}`.execute(t.deps.db)).rows[0]!.n,
  );
const failures = (plugin: string) =>
  logged.filter((l) => l.msg.startsWith("afterEvents hook failed") && l.plugin === plugin).length;

const [msg, other] = await sendMailing(t, org.tenant.id, ["ada@ext.example", "bo@ext.example"]);

Deno.test("delivery outcomes commit with their outbox rows; a throwing hook loses only its own writes", async () => {
  assert.equal(msg!.status, "sent");
  assert.deepEqual(await outbox(msg!.queueId), ["delivered", "sent"]);
  assert.equal(await marks("broken_marks", msg!.queueId), 0);
  assert.equal(await marks("witness_marks", msg!.queueId), 2);
  assert.ok(failures("broken") >= 1);
});

Deno.test("a failing outbox insert rolls back alone: the bounce is recorded and later plugins still run", async () => {
  await sql`create function refuse_webhook_events() returns trigger language plpgsql as $$
    begin raise exception 'outbox unavailable'; end $$`.execute(t.deps.db);
  await sql`create trigger refuse before insert on webhook_events
    for each row execute function refuse_webhook_events()`.execute(t.deps.db);
  try {
    const before = failures("webhooks");
    const r = await recordBounces(t.deps, [{
      tenantId: org.tenant.id,
      queueId: msg!.queueId,
      address: msg!.address,
      kind: "hard",
      status: "5.1.1",
      reason: "user_unknown",
      source: "async_dsn",
    }]);
    assert.equal(r.recorded, 1);
    const bounce = await t.deps.db.selectFrom("bounces").select("kind")
      .where("tenant_id", "=", org.tenant.id).where("queue_id", "=", msg!.queueId).execute();
    assert.deepEqual(bounce, [{ kind: "hard" }]);
    assert.deepEqual(await outbox(msg!.queueId), ["delivered", "sent"]);
    assert.equal(failures("webhooks"), before + 1);
    const seen = await sql<{ type: string }>`select type from witness_marks
      where queue_id = ${msg!.queueId} and type = 'bounced'`.execute(t.deps.db);
    assert.equal(seen.rows.length, 1);
  } finally {
    await sql`drop trigger refuse on webhook_events`.execute(t.deps.db);
    await sql`drop function refuse_webhook_events()`.execute(t.deps.db);
  }
});

Deno.test("opens and clicks commit with their outbox rows", async () => {
  const base = {
    tenantId: org.tenant.id,
    queueId: other!.queueId,
    userAgent: "Mozilla/5.0",
    ip: "192.0.2.0",
    machine: false,
    reason: null,
    at: t.deps.clock(),
  };
  const n = await writeEvents(t.deps, [
    { ...base, kind: "open", link: null, url: null },
    { ...base, kind: "click", link: 0, url: "https://lu.example/" },
  ]);
  assert.equal(n, 2);
  assert.deepEqual(await outbox(other!.queueId), ["clicked", "delivered", "opened", "sent"]);
  assert.equal(await marks("broken_marks", other!.queueId), 0);
});

Deno.test("an unsubscribe whose transaction rolls back leaves no outbox row", async () => {
  witnessed.length = 0;
  await assert.rejects(
    t.deps.db.transaction().execute(async (trx) => {
      const r = await unsubscribe({ ...t.deps, db: trx }, {
        tenantId: org.tenant.id,
        queueId: other!.queueId,
        scope: { kind: "all" },
        source: "link",
      });
      assert.equal(r.created, true);
      throw new Error("the caller rolls back");
    }),
    /the caller rolls back/,
  );
  // The hooks ran, in the caller's transaction, and went with it.
  assert.deepEqual(witnessed.map((e) => e.type), ["unsubscribed"]);
  assert.ok(!(await outbox(other!.queueId)).includes("unsubscribed"));
  const rows = await t.deps.db.selectFrom("unsubscribes").select("id")
    .where("tenant_id", "=", org.tenant.id).execute();
  assert.equal(rows.length, 0);

  // The same unsubscribe committed: the event and its outbox row together.
  const r = await unsubscribe(t.deps, {
    tenantId: org.tenant.id,
    queueId: other!.queueId,
    scope: { kind: "all" },
    source: "link",
  });
  assert.equal(r.created, true);
  assert.ok((await outbox(other!.queueId)).includes("unsubscribed"));
});

Deno.test("a hook that runs out of time cannot write into the transaction afterwards", async () => {
  const late: unknown[] = [];
  const slow: Plugin = {
    name: "slow",
    tier: "addon",
    hooks: {
      afterEvents: async (_events, deps) => {
        await new Promise((r) => setTimeout(r, 5_300)); // past the 5 s limit
        try {
          await sql`insert into broken_marks (queue_id) values (${other!.queueId})`
            .execute(deps.db);
        } catch (e) {
          late.push(e);
        }
      },
    },
  };
  const registry = new PluginRegistry([slow]);
  const deps = { ...t.deps, registry };
  await sql`update tenants set addons = ${["slow"]}, updated_at = now() where id = ${org.tenant.id}`
    .execute(t.deps.db);
  await t.deps.db.transaction().execute(async (trx) => {
    await emitMailEvents(trx, deps, [{
      tenantId: org.tenant.id,
      type: "opened",
      at: t.deps.clock(),
      sendId: other!.sendId,
      queueId: other!.queueId,
      recipient: other!.address,
      details: {},
    }]);
    // The recording goes on while the late hook wakes up and tries to write.
    await new Promise((r) => setTimeout(r, 600));
  });
  assert.equal(late.length, 1);
  assert.match(String(late[0]), /queried after its turn ended/);
  assert.equal(await marks("broken_marks", other!.queueId), 0);
  assert.equal(failures("slow"), 1);
});

Deno.test("cleanup", async () => {
  await t.close();
});
