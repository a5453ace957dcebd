// The review page's test send, as plain forms: merge as a chosen person, a person found by
// search, or a raw address; the captured test carries that recipient's values under a [Test]
// subject; a bad person or too many addresses come back to the card as errors; audited.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { simpleParser } from "mailparser";
import { Browser, PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { createCustomField, createPerson } from "../core/people/persons.ts";
import { createSender, verifySender } from "../core/mailings/senders.ts";
import { createMailing } from "../core/mailings/mailings.ts";
import { SendWorker } from "../core/send/worker.ts";
import { captureTransport } from "../core/send/transport.ts";

const t = await testApp();
const org = await seedTenant(t, { slug: "ts-org" });
const other = await seedTenant(t, { slug: "ts-other" });
const tid = org.tenant.id;
const sender = await createSender(
  t.deps,
  tid,
  { name: "Office", address: "office@uni.example" },
  "t",
);
await verifySender(t.deps, tid, sender.id, "t");
await createCustomField(t.deps, tid, { key: "member_no", label: "Member no", type: "text" }, "t");
const person = (first: string, last: string, address: string, member: string, tenant = tid) =>
  createPerson(t.deps, tenant, {
    first_name: first,
    last_name: last,
    addresses: [{ address }],
    ...(tenant === tid ? { custom: { member_no: member } } : {}),
  }, "test");
const anna = await person("Anna", "Berg", "anna@uni.example", "A-1");
const bo = await person("Bo", "Ek", "bo@uni.example", "B-2");
await person("Cecilia", "Zetterlund", "cecilia@uni.example", "C-3");
const stranger = await person("Dan", "Other", "dan@other.example", "", other.tenant.id);

const mailing = await createMailing(t.deps, tid, {
  from_identity_id: sender.id,
  subject: 'Hello {{firstname default="friend"}}',
  body_html: "<p>Dear {{firstname}} {{lastname}}, member {{member_no}}.</p>",
  recipients: { persons: [anna.id, bo.id], addresses: ["guest@ext.example"] },
}, "test");
const review = `/mailings/${mailing.id}/review`;

async function signedIn() {
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email: org.email, password: PASSWORD })).status, 303);
  return b;
}

/** Runs the queue and answers the test messages delivered to `to`, parsed. */
async function delivered(to: string) {
  const worker = new SendWorker(t.deps, captureTransport(t.deps), { batchSize: 50 });
  while (await worker.runOnce() > 0) { /* until the queue is empty */ }
  const rows = await t.deps.db.selectFrom("captured_mail").select(["raw", "subject"])
    .where("tenant_id", "=", tid).where("rcpt_to", "=", to).orderBy("created_at").execute();
  return await Promise.all(rows.map(async (r) => {
    const mail = await simpleParser(Buffer.from(r.raw));
    return { subject: r.subject, text: mail.text ?? "", html: String(mail.html) };
  }));
}

const testAudits = () =>
  t.deps.db.selectFrom("audit_log").select(["actor", "details"]).where("tenant_id", "=", tid)
    .where("action", "=", "mailing.test_send").orderBy("at").orderBy("id").execute();

Deno.test("the card offers the chosen people; a test as the second one carries their values", async () => {
  const b = await signedIn();
  const page = await (await b.get(review)).text();
  assert.match(page, /data-testid="test-send"/);
  assert.match(page, /value="admin@ts-org\.example"|>admin@ts-org\.example</, "my own address");
  // Both chosen people are options; the first is the default, as before the picker.
  assert.match(page, new RegExp(`value="person:${anna.id}" checked[^>]*/?>\\s*Anna Berg`));
  assert.match(
    page,
    new RegExp(`value="person:${bo.id}"[^>]*/?>\\s*Bo Ek &lt;bo@uni\\.example&gt;`),
  );

  const res = await b.post(`/mailings/${mailing.id}/test`, {
    as: `person:${bo.id}`,
    to: "me@uni.example",
  });
  assert.equal(res.status, 303);
  assert.match(await (await b.get(review)).text(), /Test sent to 1 address\./);
  const [mail, ...more] = await delivered("me@uni.example");
  assert.equal(more.length, 0);
  assert.equal(mail!.subject, "[Test] Hello Bo");
  assert.match(mail!.text, /Dear Bo Ek, member B-2\./);
  assert.match(mail!.html, /Dear Bo Ek, member B-2\./);
  const [audit] = await testAudits();
  assert.equal(audit!.actor, `user:${org.user.id}`);
  assert.deepEqual(audit!.details, {
    send: (audit!.details as { send: string }).send,
    to: ["me@uni.example"],
    as: { person_id: bo.id },
  });
  // Never counted as the mailing's send: it stays a draft.
  const m = await t.deps.db.selectFrom("mailings").select(["status", "send_id"])
    .where("tenant_id", "=", tid).where("id", "=", mailing.id).executeTakeFirstOrThrow();
  assert.deepEqual(m, { status: "draft", send_id: null });
});

Deno.test("search finds any person of the organisation to merge as; or a raw address", async () => {
  const b = await signedIn();
  const found = await (await b.get(`${review}?as_q=zetter`)).text();
  const cecilia = new RegExp(`value="person:([0-9a-f-]{36})" checked[^>]*/?>\\s*Cecilia Zetterlund`)
    .exec(found);
  assert.ok(cecilia, "the person found is offered and chosen");
  assert.match(await (await b.get(`${review}?as_q=nobody-like-this`)).text(), /Nobody found\./);
  assert.doesNotMatch(await (await b.get(`${review}?as_q=dan`)).text(), /Dan Other/);

  await b.post(`/mailings/${mailing.id}/test`, { as: `person:${cecilia[1]}`, to: "s@uni.example" });
  const [mail] = await delivered("s@uni.example");
  assert.equal(mail!.subject, "[Test] Hello Cecilia");
  assert.match(mail!.text, /member C-3/);

  await b.get(review);
  await b.post(`/mailings/${mailing.id}/test`, {
    as: "address",
    as_address: "outsider@ext.example",
    to: "raw@uni.example",
  });
  const [raw] = await delivered("raw@uni.example");
  assert.equal(raw!.subject, "[Test] Hello friend", "no person data: the fallback");
  assert.doesNotMatch(raw!.text, /Anna|Bo|Cecilia/);
});

Deno.test("a bad person, another tenant's person or too many addresses: an error on the card, nothing sent", async () => {
  const b = await signedIn();
  for (
    const as of ["person:not-a-uuid", `person:${stranger.id}`, `person:${crypto.randomUUID()}`]
  ) {
    await b.get(review);
    const res = await b.post(`/mailings/${mailing.id}/test`, { as, to: "bad@uni.example" });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), `${review}#test-send`);
    const page = await (await b.get(review)).text();
    assert.match(
      page,
      /data-testid="test-send"[\s\S]*data-testid="test-error">The person to merge the test as was not found\./,
      as,
    );
    assert.match(page, />bad@uni\.example<\/textarea>/, "the addresses typed are kept");
    assert.doesNotMatch(await (await b.get(review)).text(), /test-error/, "shown once");
  }
  const many = Array.from({ length: 11 }, (_, i) => `t${i}@uni.example`).join("\n");
  await b.get(review);
  await b.post(`/mailings/${mailing.id}/test`, { as: `person:${anna.id}`, to: many });
  assert.match(
    await (await b.get(review)).text(),
    /data-testid="test-error">[^<]*Give between 1 and 10 addresses for a test send\./,
  );
  assert.deepEqual(await delivered("bad@uni.example"), []);
  assert.deepEqual(await delivered("t0@uni.example"), []);
});
