// Shared set-up for the bounce tests: a mass send really delivered (capture) to given addresses.
import type { TestApp } from "./app.ts";
import { createPerson } from "../../core/people/persons.ts";
import { createSend, expandSend } from "../../core/send/queue.ts";
import { SendWorker } from "../../core/send/worker.ts";
import { captureTransport, type Transport } from "../../core/send/transport.ts";

export interface SentMessage {
  queueId: string;
  sendId: string;
  personId: string;
  address: string;
  messageId: string;
  status: string;
  reply: string;
  raw: string | null;
}

/**
 * Sends a mailing to these addresses (a person is created for each address not yet known) and
 * returns each message's queue row.
 */
export async function sendMailing(
  t: TestApp,
  tenantId: string,
  addresses: string[],
  transport: Transport = captureTransport(t.deps),
): Promise<SentMessage[]> {
  const persons: string[] = [];
  for (const address of addresses) {
    const known = await t.deps.db.selectFrom("person_addresses").select("person_id")
      .where("tenant_id", "=", tenantId).where("address_key", "=", address.toLowerCase())
      .executeTakeFirst();
    if (known) {
      persons.push(known.person_id);
      continue;
    }
    const p = await createPerson(t.deps, tenantId, {
      first_name: address.split("@")[0]!,
      addresses: [{ address }],
    }, "test");
    persons.push(p.id);
  }
  const s = await createSend(t.deps, tenantId, {
    kind: "mass",
    content: {
      from: { name: "Lunds universitet", address: "news@lu.example" },
      subject: "Nyhetsbrev",
      html: "<p>Hej {{firstname}}!</p>",
      text: "Hej {{firstname}}!",
    },
    audience: { persons },
  }, "test");
  await expandSend(t.deps, tenantId, s.id, "test");
  const worker = new SendWorker(t.deps, transport);
  while (await worker.runOnce() > 0) { /* until the queue is empty */ }
  await transport.close();
  const rows = await t.deps.db.selectFrom("send_queue as q")
    .leftJoin(
      "captured_mail as c",
      (j) => j.onRef("c.tenant_id", "=", "q.tenant_id").onRef("c.queue_id", "=", "q.id"),
    )
    .select([
      "q.id",
      "q.send_id",
      "q.person_id",
      "q.address",
      "q.message_id",
      "q.status",
      "q.last_reply",
      "c.raw",
    ])
    .where("q.tenant_id", "=", tenantId).where("q.send_id", "=", s.id).execute();
  return addresses.map((a) => {
    const r = rows.find((x) => x.address === a)!;
    return {
      queueId: r.id,
      sendId: r.send_id,
      personId: r.person_id!,
      address: r.address,
      messageId: r.message_id ?? "",
      status: r.status,
      reply: r.last_reply ?? "",
      raw: r.raw,
    };
  });
}

/** The address row's undeliverable state. */
export async function addressState(t: TestApp, tenantId: string, address: string) {
  return await t.deps.db.selectFrom("person_addresses")
    .select(["id", "person_id", "undeliverable_at", "undeliverable_reason", "cleared_at"])
    .where("tenant_id", "=", tenantId).where("address_key", "=", address.toLowerCase())
    .executeTakeFirstOrThrow();
}
