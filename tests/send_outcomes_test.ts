// What the worker's recorded outcomes set off, over a real SMTP conversation: a 550 at RCPT is a
// hard bounce that blocks the address, a delivered message stamps the contact note, and a
// plugin's afterDeliveryBatch hook hears its tenant's outcomes.
import assert from "node:assert/strict";
import { seedTenant, testApp } from "./helpers/app.ts";
import { createPerson } from "../core/people/persons.ts";
import { createSend, expandSend } from "../core/send/queue.ts";
import { SendWorker } from "../core/send/worker.ts";
import { RelayTransport } from "../core/send/smtp_transport.ts";
import { startSmtpServer } from "../core/smtp/_test_servers.ts";
import { outcomeListeners } from "../core/feedback/outcomes.ts";
import { type DeliveryOutcome, PluginRegistry } from "../core/plugin.ts";

const t = await testApp();

Deno.test("outcomes: a 550 blocks the address, a delivery stamps the note, plugins hear both", async () => {
  const server = await startSmtpServer({
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith("gone@")) {
        const e = Object.assign(new Error("5.1.1 User unknown"), { responseCode: 550 });
        return callback(e);
      }
      callback();
    },
  });
  const heard: DeliveryOutcome[] = [];
  const deps = {
    ...t.deps,
    registry: new PluginRegistry([{
      name: "outcome_probe",
      tier: "light",
      hooks: {
        afterDeliveryBatch(batch) {
          heard.push(...batch);
          return Promise.resolve();
        },
      },
    }]),
  };
  const { tenant } = await seedTenant(t, { slug: "outcomes-org" });
  const here = await createPerson(t.deps, tenant.id, {
    first_name: "Here",
    addresses: [{ address: "here@uni.example" }],
  }, "test");
  const gone = await createPerson(t.deps, tenant.id, {
    first_name: "Gone",
    addresses: [{ address: "gone@uni.example" }],
  }, "test");
  const s = await createSend(t.deps, tenant.id, {
    kind: "mass",
    content: { from: { address: "news@uni.example" }, subject: "Hej {{firstname}}", text: "Hej" },
    audience: { persons: [here.id, gone.id] },
  }, "test");
  await expandSend(t.deps, tenant.id, s.id, "test");
  const worker = new SendWorker(
    deps,
    new RelayTransport(`smtp://127.0.0.1:${server.port}`, { pool: { tls: "off" } }),
    { onOutcomes: outcomeListeners(deps) },
  );
  try {
    assert.equal(await worker.runOnce(), 2);
    const addr = await t.deps.db.selectFrom("person_addresses")
      .select(["address", "undeliverable_at", "undeliverable_reason"])
      .where("tenant_id", "=", tenant.id).orderBy("address").execute();
    assert.equal(addr[0]!.address, "gone@uni.example");
    assert.ok(addr[0]!.undeliverable_at, "the hard bounce blocks the address");
    assert.equal(addr[1]!.undeliverable_at, null);
    const bounce = await t.deps.db.selectFrom("bounces").select(["kind", "source", "status"])
      .where("tenant_id", "=", tenant.id).execute();
    assert.deepEqual(bounce, [{ kind: "hard", source: "sync", status: "5.1.1" }]);
    const send = await t.deps.db.selectFrom("sends").select(["bounced_hard", "sent", "failed"])
      .where("tenant_id", "=", tenant.id).where("id", "=", s.id).executeTakeFirstOrThrow();
    assert.deepEqual(send, { bounced_hard: 1, sent: 1, failed: 1 });

    const notes = await t.deps.db.selectFrom("contact_notes")
      .select(["person_id", "sent_at", "bounced_at"])
      .where("tenant_id", "=", tenant.id).where("kind", "=", "mailing").execute();
    const note = (id: string) => notes.find((n) => n.person_id === id);
    assert.ok(note(here.id)?.sent_at, "delivered: the note says sent");
    assert.ok(note(gone.id)?.bounced_at, "rejected: the note says bounced");

    assert.deepEqual(
      heard.map((o) => [o.recipient, o.status]).sort(),
      [["gone@uni.example", "failed"], ["here@uni.example", "sent"]],
    );
    assert.ok(heard.every((o) => o.tenantId === tenant.id));
  } finally {
    await worker.stop();
    await server.close();
  }
});
