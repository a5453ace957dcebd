// "View in browser": the signed link in a delivered message opens that recipient's copy, merged;
// a tampered token or a token made for another purpose gets a plain 404.
import assert from "node:assert/strict";
import { simpleParser } from "mailparser";
import { Buffer } from "node:buffer";
import { seedTenant, testApp } from "./helpers/app.ts";
import { createPerson } from "../core/people/persons.ts";
import { createSend, expandSend } from "../core/send/queue.ts";
import { SendWorker } from "../core/send/worker.ts";
import { captureTransport } from "../core/send/transport.ts";
import { TokenSigner } from "../core/feedback/tokens.ts";

const t = await testApp();

Deno.test("view in browser: the recipient's own copy, merged; forged links get a 404", async () => {
  const { tenant } = await seedTenant(t, { slug: "view-org" });
  const anna = await createPerson(t.deps, tenant.id, {
    first_name: "Anna",
    last_name: "<Öberg>",
    addresses: [{ address: "anna@uni.example" }],
  }, "test");
  const s = await createSend(t.deps, tenant.id, {
    kind: "mass",
    content: {
      from: { address: "news@uni.example" },
      subject: "Nytt",
      html: '<html><body><p><a href="{{view_in_browser_url}}">View in browser</a></p>' +
        "<h1>Hej {{firstname}} {{lastname}}</h1>" +
        '<a href="https://uni.example/news">News</a></body></html>',
    },
    audience: { persons: [anna.id] },
  }, "test");
  await expandSend(t.deps, tenant.id, s.id, "test");
  const worker = new SendWorker(t.deps, captureTransport(t.deps));
  assert.equal(await worker.runOnce(), 1);
  const raw = (await t.deps.db.selectFrom("captured_mail").select("raw")
    .where("tenant_id", "=", tenant.id).executeTakeFirstOrThrow()).raw;
  const mail = await simpleParser(Buffer.from(raw));
  const link = /href="([^"]*\/v\/[\w-]+)"/.exec(mail.html as string)?.[1];
  assert.ok(link?.startsWith(t.deps.config.baseUrl), `view link: ${link}`);
  const path = new URL(link!).pathname;

  const res = await t.app.request(path);
  assert.equal(res.status, 200);
  const page = await res.text();
  assert.match(page, /Hej Anna &lt;Öberg&gt;/, "merged for Anna, her data escaped");
  assert.match(page, /href="[^"]*\/t\/c\/[\w-]+"/, "links tracked as in the mail");
  assert.doesNotMatch(page, /\/t\/o\//, "no open pixel");
  assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'/);
  assert.equal(res.headers.get("referrer-policy"), "no-referrer");
  assert.match(res.headers.get("cache-control") ?? "", /no-store/);

  const token = path.slice("/v/".length);
  const flipped = token.slice(0, -1) + (token.endsWith("A") ? "B" : "A");
  assert.equal((await t.app.request(`/v/${flipped}`)).status, 404);
  // A token for another purpose, for the same message, is no view link.
  const queueId = (await t.deps.db.selectFrom("send_queue").select("id")
    .where("tenant_id", "=", tenant.id).executeTakeFirstOrThrow()).id;
  const unsub = new TokenSigner(t.deps.secret).message("unsubscribe", {
    tenantId: tenant.id,
    queueId,
  });
  const wrong = await t.app.request(`/v/${unsub}`);
  assert.equal(wrong.status, 404);
  assert.doesNotMatch(await wrong.text(), /Anna/);
});
