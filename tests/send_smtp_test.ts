// The whole pipeline over real SMTP: queue → worker → relay or MX → a real SMTP server, with
// 4xx deferred for retry, 5xx failed, and the message as the recipient's server saw it.
import assert from "node:assert/strict";
import { simpleParser } from "mailparser";
import { seedTenant, testApp } from "./helpers/app.ts";
import { createPerson } from "../core/people/persons.ts";
import { createSend, expandSend, getSend } from "../core/send/queue.ts";
import { SendWorker } from "../core/send/worker.ts";
import { MxTransport, RelayTransport } from "../core/send/smtp_transport.ts";
import { MxResolver } from "../core/smtp/mod.ts";
import { startSmtpServer } from "../core/smtp/_test_servers.ts";
import { RenderPool } from "../core/send/render_pool.ts";
import { generateDkimKey } from "../core/send/dkim.ts";
import { dkimVerify } from "mailauth";
import { Buffer } from "node:buffer";

const t = await testApp();

async function drain(worker: SendWorker) {
  let n = 0;
  for (let got = await worker.runOnce(); got > 0; got = await worker.runOnce()) n += got;
  return n;
}

Deno.test("relay: merged mail arrives; 450 is deferred for retry, 550 fails", async () => {
  const server = await startSmtpServer({
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith("later@")) {
        const e = Object.assign(new Error("Greylisted, try later"), { responseCode: 450 });
        return callback(e);
      }
      if (address.address.startsWith("nobody@")) {
        const e = Object.assign(new Error("5.1.1 No such user"), { responseCode: 550 });
        return callback(e);
      }
      callback();
    },
  });
  const { tenant } = await seedTenant(t, { slug: "relay-org" });
  const persons = [];
  for (
    const [first, address] of [["Åsa", "asa@uni.example"], ["Later", "later@uni.example"], [
      "Nobody",
      "nobody@uni.example",
    ]]
  ) {
    persons.push(
      (await createPerson(t.deps, tenant.id, {
        first_name: first,
        last_name: "Öhman",
        addresses: [{ address: address! }],
      }, "test")).id,
    );
  }
  const s = await createSend(t.deps, tenant.id, {
    kind: "mass",
    content: {
      from: { name: "Lunds universitet", address: "news@lu.example" },
      subject: "Välkommen {{firstname}}",
      html: "<h1>Hej {{firstname}} {{lastname}}!</h1><p>Detta är ett test.</p>",
      text: "Hej {{firstname}} {{lastname}}!",
    },
    audience: { persons },
  }, "test");
  await expandSend(t.deps, tenant.id, s.id, "test");
  const worker = new SendWorker(
    t.deps,
    new RelayTransport(`smtp://127.0.0.1:${server.port}`, { pool: { tls: "off" } }),
  );
  try {
    assert.equal(await drain(worker), 3);
    assert.equal(server.received.length, 1);
    const got = server.received[0]!;
    // MAIL FROM is the VERP return path (issue 4); the From header stays the sender's.
    assert.match(got.from, /^bounce\+[\w-]+@skicka\.test$/);
    assert.deepEqual(got.to, ["asa@uni.example"]);
    const mail = await simpleParser(Buffer.from(got.body));
    assert.equal(mail.subject, "Välkommen Åsa");
    assert.deepEqual(mail.from?.value[0], {
      name: "Lunds universitet",
      address: "news@lu.example",
    });
    assert.match(mail.html as string, /Hej Åsa Öhman!/);
    assert.equal(mail.text?.trim(), "Hej Åsa Öhman!");

    const rows = await t.deps.db.selectFrom("send_queue").select([
      "address",
      "status",
      "last_reply",
    ])
      .where("tenant_id", "=", tenant.id).orderBy("address").execute();
    assert.deepEqual(rows.map((r) => [r.address, r.status]), [
      ["asa@uni.example", "sent"],
      ["later@uni.example", "queued"],
      ["nobody@uni.example", "failed"],
    ]);
    assert.match(rows[1]!.last_reply!, /^450 /);
    assert.match(rows[2]!.last_reply!, /^550 /);
    const send = await getSend(t.deps, tenant.id, s.id);
    assert.deepEqual([send.status, send.sent, send.failed, send.deferred], ["sending", 1, 1, 1]);
  } finally {
    await worker.stop();
    await server.close();
  }
});

Deno.test("mx: recipients' domains are looked up and delivered to their MX host", async () => {
  const server = await startSmtpServer();
  const { tenant } = await seedTenant(t, { slug: "mx-org" });
  const resolver = new MxResolver({
    resolver: {
      // Every domain's MX is this machine; nomail.example has neither MX nor A records.
      mx: (d) =>
        Promise.resolve(d === "nomail.example" ? [] : [{ exchange: "127.0.0.1", preference: 10 }]),
      a: () => Promise.resolve([]),
      aaaa: () => Promise.resolve([]),
    },
  });
  const s = await createSend(t.deps, tenant.id, {
    kind: "single",
    content: { from: { address: "staff@org.example" }, subject: "Hello", text: "Hi" },
    audience: { addresses: ["a@one.example", "b@two.example", "c@nomail.example"] },
  }, "test");
  await expandSend(t.deps, tenant.id, s.id, "test");
  const worker = new SendWorker(
    t.deps,
    new MxTransport({ resolver, port: server.port, pool: { tls: "off" } }),
  );
  try {
    await drain(worker);
    assert.deepEqual(server.received.map((r) => r.to[0]).sort(), [
      "a@one.example",
      "b@two.example",
    ]);
    const rows = await t.deps.db.selectFrom("send_queue").select([
      "address",
      "status",
      "last_reply",
    ])
      .where("tenant_id", "=", tenant.id).orderBy("address").execute();
    assert.deepEqual(rows.map((r) => r.status), ["sent", "sent", "failed"]);
    assert.match(rows[2]!.last_reply!, /dns/);
  } finally {
    await worker.stop();
    await server.close();
  }
});

Deno.test("a render pool of Web Workers renders and DKIM-signs off the main thread", async () => {
  const server = await startSmtpServer({ disabledCommands: ["STARTTLS"] });
  const { tenant } = await seedTenant(t, { slug: "pool-org" });
  const key = generateDkimKey("ed25519");
  const dns: Record<string, string> = { "s1._domainkey.lu.example": key.dnsTxtValue };
  const resolver = (name: string, type: string): Promise<string[][]> =>
    type === "TXT" && dns[name]
      ? Promise.resolve([[dns[name]!]])
      : Promise.reject(Object.assign(new Error(`ENOTFOUND ${name}`), { code: "ENOTFOUND" }));
  const persons = [];
  for (let i = 0; i < 30; i++) {
    persons.push(
      (await createPerson(t.deps, tenant.id, {
        first_name: `Åke${i}`,
        addresses: [{ address: `ake${i}@d${i % 4}.example` }],
      }, "test")).id,
    );
  }
  const s = await createSend(t.deps, tenant.id, {
    kind: "mass",
    content: {
      from: { name: "LU", address: "news@lu.example" },
      subject: "Hej {{firstname}}",
      html: "<p>Hej {{firstname}}, välkommen!</p>",
    },
    audience: { persons },
  }, "test");
  await expandSend(t.deps, tenant.id, s.id, "test");
  const pool = new RenderPool(2);
  const worker = new SendWorker(
    t.deps,
    new RelayTransport(`smtp://127.0.0.1:${server.port}`, { pool: { tls: "off" } }),
    {
      renderPool: pool,
      dkim: { domain: "lu.example", selector: "s1", privateKeyPem: key.privateKeyPem },
      batchSize: 10,
    },
  );
  try {
    assert.equal(await drain(worker), 30);
    assert.equal(server.received.length, 30);
    for (const r of server.received.slice(0, 5)) {
      const raw = new TextDecoder().decode(r.body);
      const mail = await simpleParser(Buffer.from(r.body));
      const first = /^ake(\d+)@/.exec(r.to[0]!)![1];
      assert.equal(mail.subject, `Hej Åke${first}`);
      const v = await dkimVerify(raw, { resolver });
      assert.equal(v.results[0]?.status.result, "pass");
    }
  } finally {
    await worker.stop();
    pool.close();
    await server.close();
  }
});
