// The sendData contract with a stand-in plugin: asked once per freeze only when the content
// names its namespace and the tenant has it, its data merged under its name, its veto stopping
// a real send (not a preview), lastSentAt from the mailing's real sends, and a slow hook failing.
import assert from "node:assert/strict";
import { apiClient, seedTenant, testApp } from "../../tests/helpers/app.ts";
import type { Plugin, SendDataContext } from "../plugin.ts";
import { collectSendData, DATA_CUTOFF_KEY } from "./send_data.ts";
import { createSender, verifySender } from "./senders.ts";

const calls: SendDataContext[] = [];
let answer: Awaited<ReturnType<NonNullable<NonNullable<Plugin["hooks"]>["sendData"]>>> = {};
let delayMs = 0;
const stub: Plugin = {
  name: "stub_feed",
  tier: "advanced",
  hooks: {
    async sendData(ctx) {
      calls.push(ctx);
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      return answer;
    },
  },
};

const t = await testApp({ plugins: [stub] });
const org = await seedTenant(t, {
  tier: "advanced",
  slug: "sd-org",
  scopes: ["read", "write", "send"],
});
const light = await seedTenant(t, { tier: "light", slug: "sd-light" });
const api = apiClient(t, org.key);
const sender = await createSender(
  t.deps,
  org.tenant.id,
  { name: "N", address: "n@x.example" },
  "t",
);
await verifySender(t.deps, org.tenant.id, sender.id, "t");

const content = (html: string) => ({ subject: "S", html, text: "" });

Deno.test("only content naming the namespace asks the hook; a tenant without the plugin gets an empty namespace", async () => {
  calls.length = 0;
  answer = { data: { items: [1, 2] } };
  const none = await collectSendData(t.deps, {
    tenantId: org.tenant.id,
    mailingId: crypto.randomUUID(),
    content: content("<p>{{firstname}}</p>"),
    preview: false,
  });
  assert.deepEqual(none, { data: {} });
  assert.equal(calls.length, 0);
  const named = content("{{#each stub_feed.items}}{{this}}{{/each}}");
  const off = await collectSendData(t.deps, {
    tenantId: light.tenant.id,
    mailingId: crypto.randomUUID(),
    content: named,
    preview: false,
  });
  // Person data named stub_feed can never stand in for the plugin's.
  assert.deepEqual(off, { data: { stub_feed: {} } });
  assert.equal(calls.length, 0);
  const on = await collectSendData(t.deps, {
    tenantId: org.tenant.id,
    mailingId: crypto.randomUUID(),
    content: named,
    preview: false,
  });
  const cutoff = (on.data.stub_feed as Record<string, unknown>)[DATA_CUTOFF_KEY];
  assert.equal(typeof cutoff, "string", "the moment the data reflects is kept with it");
  assert.deepEqual(on, { data: { stub_feed: { items: [1, 2], [DATA_CUTOFF_KEY]: cutoff } } });
  assert.equal(calls.length, 1);
  assert.equal(calls[0]!.lastSentAt, null);
});

Deno.test("a veto stops the real send with 409 send_skipped; preview ignores it; lastSentAt follows real sends", async () => {
  const m = (await api("POST", "/mailings", {
    from_address: "n@x.example",
    subject: "Hi",
    body_html: "<ul>{{#each stub_feed.items}}<li>{{this}}</li>{{/each}}</ul>",
    recipients: { addresses: ["r@x.example"] },
  })).body;
  answer = { data: { items: ["a", "b"] } };
  const p = await api("POST", `/mailings/${m.id}/preview`, { address: "r@x.example" });
  assert.match(p.body.html, /<li>a<\/li><li>b<\/li>/);
  calls.length = 0;
  const sent = await api("POST", `/mailings/${m.id}/send`, {});
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  assert.equal(calls.length, 1, "once per send, not per recipient");
  const send = await t.deps.db.selectFrom("sends").select(["content", "created_at"])
    .where("id", "=", sent.body.send_id).executeTakeFirstOrThrow();
  const frozen = (send.content as { data: { stub_feed: Record<string, unknown> } }).data;
  assert.deepEqual(frozen.stub_feed.items, ["a", "b"]);
  const cutoff = new Date(frozen.stub_feed[DATA_CUTOFF_KEY] as string);
  assert.ok(cutoff.getTime() <= new Date(send.created_at).getTime(), "taken before the send");

  await t.deps.db.updateTable("mailings").set({ status: "draft", send_id: null })
    .where("id", "=", m.id).execute();
  answer = { skip: { reason: "nothing to say" } };
  calls.length = 0;
  const skipped = await api("POST", `/mailings/${m.id}/send`, {});
  assert.equal(skipped.status, 409);
  assert.equal(skipped.body.error.code, "send_skipped");
  assert.deepEqual(skipped.body.error.details, { plugin: "stub_feed", reason: "nothing to say" });
  // The next send is told where the last one's data stopped, not when its row was made.
  assert.equal(calls[0]!.lastSentAt?.getTime(), cutoff.getTime());
  assert.equal(calls[0]!.preview, false);
  const preview = await api("POST", `/mailings/${m.id}/preview`, { address: "r@x.example" });
  assert.equal(preview.status, 200);
  assert.equal(calls.at(-1)!.preview, true);
});

Deno.test("a hook over its time limit fails the freeze instead of sending a hole", async () => {
  delayMs = 200;
  answer = { data: { items: [] } };
  try {
    await assert.rejects(
      () =>
        collectSendData(t.deps, {
          tenantId: org.tenant.id,
          mailingId: crypto.randomUUID(),
          content: content("{{stub_feed.x}}"),
          preview: false,
        }, { timeoutMs: 50 }),
      /took over 50 ms/,
    );
  } finally {
    delayMs = 0;
    await new Promise((r) => setTimeout(r, 250)); // let the slow hook finish
  }
});

Deno.test("close the database", async () => {
  await t.close();
});
