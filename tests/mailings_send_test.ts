// A mailing on its way out: recipient counts with exclusions, the unresolved merge-field report,
// preview as a person, test sends (marked, outside statistics) and a real send to a segment,
// delivered by the SendWorker to the capture mailbox with merge and fallbacks applied.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { apiClient, seedTenant, testApp } from "./helpers/app.ts";
import {
  changeLifecycle,
  createCustomField,
  createPerson,
  markUndeliverable,
} from "../core/people/persons.ts";
import { createSegment } from "../core/people/saved_segments.ts";
import { SendWorker } from "../core/send/worker.ts";
import { captureTransport } from "../core/send/transport.ts";
import { createSender, verifySender } from "../core/mailings/senders.ts";

const t = await testApp();
const org = await seedTenant(t, { slug: "send-org", scopes: ["read", "write", "send"] });
const api = apiClient(t, org.key);
const tid = org.tenant.id;
const sender = await createSender(t.deps, tid, {
  name: "Alumni Office",
  address: "alumni@uni.example",
}, "t");
await verifySender(t.deps, tid, sender.id, "test");

await createCustomField(
  t.deps,
  tid,
  { key: "member_no", label: "Member no", type: "text" },
  "test",
);
const mk = (first: string, address: string | null, tags: string[], custom = {}) =>
  createPerson(t.deps, tid, {
    first_name: first,
    last_name: first ? "Berg" : "",
    tags,
    custom,
    addresses: address ? [{ address }] : [],
  }, "test");
const anna = await mk("Anna", "anna@uni.example", ["alumni"], { member_no: "A1" });
await mk("", "noname@uni.example", ["alumni"], { member_no: "B2" }); // no first name
await mk("Carl", "carl@uni.example", ["alumni", "staff"]); // excluded by segment
await mk("Dora", null, ["alumni"]); // no address
const eva = await mk("Eva", "eva@uni.example", ["alumni"]); // no member_no
await mk("Fred", "fred@bounce.example", ["alumni"]); // undeliverable
const gun = await mk("Gun", "gun@uni.example", ["alumni"]); // deceased
await markUndeliverable(t.deps, tid, "fred@bounce.example", "550 5.1.1 no such user");
await changeLifecycle(t.deps, tid, gun.id, "deceased", "test");
const tag = (name: string) => ({ op: "and", conditions: [{ tag: name, has: true }] });
const alumni = await createSegment(t.deps, tid, { name: "Alumni", definition: tag("alumni") }, "t");
const staff = await createSegment(t.deps, tid, { name: "Staff", definition: tag("staff") }, "t");

async function quiesce() {
  await sql`update sends set status = 'cancelled' where status in ('sending', 'paused')`
    .execute(t.deps.db);
}

const mailing = (await api("POST", "/mailings", {
  from_name: "Alumni Office",
  from_address: "alumni@uni.example",
  subject: 'Hej {{firstname default="vän"}}!',
  preheader: "News for {{firstname}}",
  body_html: '<p>Dear {{firstname default="friend"}} {{lastname}}, member {{member_no}}.</p>' +
    '<p>{{shoe_size}}</p><a href="{{unsubscribe_url}}">Unsubscribe</a>',
  recipients: {
    segments: [alumni.id],
    persons: [anna.id],
    exclude_segments: [staff.id],
    addresses: ["guest@ext.example", "ANNA@uni.example", "no-at-sign"],
  },
})).body;

Deno.test("recipient count: deduped, exclusions by reason, raw addresses counted", async () => {
  const r = await api("GET", `/mailings/${mailing.id}/recipients/count`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  // Anna (segment, person and raw address: once), no-name, Eva, and the guest address.
  assert.deepEqual(r.body, {
    total: 4,
    persons: 3,
    addresses: 1,
    excluded: {
      excluded_segment: 1,
      no_address: 1,
      undeliverable: 1,
      invalid_address: 1,
      inactive: 1,
    },
  });
});

Deno.test("merge-field report: per field, how many recipients have no value", async () => {
  const r = await api("GET", `/mailings/${mailing.id}/merge-fields`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.recipients, 4);
  assert.deepEqual(r.body.raw_addresses, { total: 1, without_person: 1 });
  const by = Object.fromEntries(
    r.body.fields.map((f: { name: string }) => [f.name, f]),
  );
  // firstname: the no-name person and the guest address (raw addresses carry no person data).
  assert.deepEqual(by.firstname, {
    name: "firstname",
    kind: "person",
    has_default: false, // the preheader uses it without a fallback
    missing: 2,
    unknown: false,
  });
  assert.equal(by.lastname.missing, 2);
  assert.equal(by.member_no.missing, 2, "Eva and the guest");
  assert.equal(by.member_no.unknown, false);
  assert.equal(by.shoe_size.missing, 4);
  assert.equal(by.shoe_size.unknown, true);
  assert.equal(by.unsubscribe_url.kind, "system");
  assert.equal(by.unsubscribe_url.missing, 0);
});

Deno.test("preview as a person and as a raw address: merge and fallbacks, HTML and text", async () => {
  const p = await api("POST", `/mailings/${mailing.id}/preview`, { person_id: anna.id });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.body.subject, "Hej Anna!");
  assert.match(p.body.html, /Dear Anna Berg, member A1\./);
  assert.match(p.body.html, /News for Anna/);
  assert.match(p.body.text, /Dear Anna Berg, member A1\./);
  assert.doesNotMatch(p.body.text, /<p>/);
  assert.deepEqual(p.body.recipient, { address: "anna@uni.example", name: "Anna Berg" });
  const raw = await api("POST", `/mailings/${mailing.id}/preview`, { address: "x@ext.example" });
  assert.equal(raw.body.subject, "Hej vän!");
  assert.match(raw.body.html, /Dear friend , member \./);
  const bad = await api("POST", `/mailings/${mailing.id}/preview`, { address: "nope" });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.details[0].path, "address");
});

async function drain() {
  const worker = new SendWorker(t.deps, captureTransport(t.deps), { batchSize: 50 });
  let n = 0;
  for (let k = await worker.runOnce(); k > 0; k = await worker.runOnce()) n += k;
  return n;
}

Deno.test("test send: marked, merged as the chosen person, outside the mailing's statistics", async () => {
  await quiesce();
  const r = await api("POST", `/mailings/${mailing.id}/test`, {
    to: ["me@uni.example", "boss@uni.example"],
    as: { person_id: anna.id },
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.total, 2);
  assert.equal(await drain(), 2);
  const mail = await t.deps.db.selectFrom("captured_mail").select(["rcpt_to", "subject", "raw"])
    .where("tenant_id", "=", tid).where("send_id", "=", r.body.send_id).orderBy("rcpt_to")
    .execute();
  assert.deepEqual(mail.map((m) => [m.rcpt_to, m.subject]), [
    ["boss@uni.example", "[Test] Hej Anna!"],
    ["me@uni.example", "[Test] Hej Anna!"],
  ]);
  const send = await t.deps.db.selectFrom("sends").select(["is_test", "mailing_id", "kind"])
    .where("tenant_id", "=", tid).where("id", "=", r.body.send_id).executeTakeFirstOrThrow();
  assert.deepEqual(send, { is_test: true, mailing_id: mailing.id, kind: "single" });
  const after = (await api("GET", `/mailings/${mailing.id}`)).body;
  assert.equal(after.status, "draft");
  assert.equal(after.send_id, null);
  const progress = (await api("GET", `/mailings/${mailing.id}/progress`)).body;
  assert.equal(progress.send, null);
  const tests = (await api("GET", `/mailings/${mailing.id}/test`)).body.items;
  assert.deepEqual(tests.map((x: { id: string; sent: number }) => [x.id, x.sent]), [
    [r.body.send_id, 2],
  ]);
  // Eleven addresses are too many; an API key without a user must name its addresses.
  const many = Array.from({ length: 11 }, (_, i) => `t${i}@uni.example`);
  assert.equal((await api("POST", `/mailings/${mailing.id}/test`, { to: many })).status, 400);
  const none = await api("POST", `/mailings/${mailing.id}/test`, {});
  assert.equal(none.body.error.details[0].path, "to");
});

Deno.test("send to a segment: delivered with merge applied; the mailing ends as sent", async () => {
  await quiesce();
  const copy = (await api("POST", `/mailings/${mailing.id}/copy`)).body;
  const r = await api("POST", `/mailings/${copy.id}/send`, { version: copy.version });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.total, 4);
  assert.equal(r.body.excluded.excluded_segment, 1);
  const sending = (await api("GET", `/mailings/${copy.id}/progress`)).body;
  assert.equal(sending.status, "sending");
  assert.equal(sending.send.total, 4);
  assert.equal(await drain(), 4);
  const mail = await t.deps.db.selectFrom("captured_mail").select(["rcpt_to", "subject", "raw"])
    .where("tenant_id", "=", tid).where("send_id", "=", r.body.send_id).orderBy("rcpt_to")
    .execute();
  assert.deepEqual(mail.map((m) => [m.rcpt_to, m.subject]), [
    ["anna@uni.example", "Hej Anna!"],
    ["eva@uni.example", "Hej Eva!"],
    ["guest@ext.example", "Hej vän!"],
    ["noname@uni.example", "Hej vän!"],
  ]);
  const body = (raw: string) => {
    const b64 = raw.split(/\r\n\r\n/).slice(1).join("\n").match(/^[A-Za-z0-9+/=\r\n]{40,}$/gm);
    return (b64 ?? []).map((x) =>
      new TextDecoder().decode(
        Uint8Array.from(atob(x.replace(/\s/g, "")), (ch) => ch.charCodeAt(0)),
      )
    ).join("\n") + raw;
  };
  assert.match(body(mail[0]!.raw), /Dear Anna Berg, member A1\./);
  assert.match(body(mail[3]!.raw), /Dear friend , member B2\./);
  const done = (await api("GET", `/mailings/${copy.id}/progress`)).body;
  assert.equal(done.status, "sent");
  assert.equal(done.send.sent, 4);
  assert.equal(done.eta_seconds, 0);
  const sent = (await api("GET", `/mailings/${copy.id}`)).body;
  assert.equal(sent.status, "sent");
  // One person and nothing else makes a 'single' send.
  const single = (await api("POST", "/mailings", {
    from_address: "alumni@uni.example",
    subject: "Hi",
    body_html: "<p>Hi</p>",
    recipients: { persons: [eva.id] },
  })).body;
  const s = await api("POST", `/mailings/${single.id}/send`, {});
  const kind = await t.deps.db.selectFrom("sends").select("kind")
    .where("tenant_id", "=", tid).where("id", "=", s.body.send_id).executeTakeFirstOrThrow();
  assert.equal(kind.kind, "single");
});

Deno.test("send: only as a verified sender identity, whose name and address are used", async () => {
  const other = await createSender(
    t.deps,
    tid,
    { name: "Rector", address: "rector@uni.example" },
    "t",
  );
  const m = (await api("POST", "/mailings", {
    from_address: "rector@uni.example",
    subject: "Hi",
    body_html: "<p>Hi</p>",
    recipients: { persons: [eva.id] },
  })).body;
  const refused = await api("POST", `/mailings/${m.id}/send`, {});
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error.details[0].path, "from_address");
  assert.equal(refused.body.error.details[0].code, "unknown_sender");
  const byId = await api("PATCH", `/mailings/${m.id}`, {
    version: m.version,
    from_identity_id: other.id,
  });
  assert.equal(byId.status, 400, "an unverified identity cannot be chosen");
  assert.equal(byId.body.error.details[0].path, "from_identity_id");
  const chosen = await api("PATCH", `/mailings/${m.id}`, {
    version: m.version,
    from_identity_id: sender.id,
  });
  assert.equal(chosen.status, 200);
  assert.deepEqual([chosen.body.from_name, chosen.body.from_address], [
    "Alumni Office",
    "alumni@uni.example",
  ]);
  const p = await api("POST", `/mailings/${m.id}/send`, {});
  assert.equal(p.status, 202, JSON.stringify(p.body));
  const s = await t.deps.db.selectFrom("sends").select("content").where("tenant_id", "=", tid)
    .where("id", "=", p.body.send_id).executeTakeFirstOrThrow();
  assert.deepEqual((s.content as { from: unknown }).from, {
    name: "Alumni Office",
    address: "alumni@uni.example",
  });
});

Deno.test("send: a mailing without sender, subject, body or recipients is refused by field", async () => {
  const empty = (await api("POST", "/mailings", {})).body;
  const r = await api("POST", `/mailings/${empty.id}/send`, {});
  assert.equal(r.status, 400);
  assert.deepEqual(r.body.error.details.map((d: { path: string }) => d.path), ["recipients"]);
  const noBody = (await api("POST", "/mailings", { recipients: { persons: [eva.id] } })).body;
  const r2 = await api("POST", `/mailings/${noBody.id}/send`, {});
  assert.deepEqual(r2.body.error.details.map((d: { path: string }) => d.path), [
    "from_address",
    "subject",
    "body_html",
  ]);
  assert.equal((await api("GET", `/mailings/${noBody.id}`)).body.status, "draft");
});

Deno.test("cancel a sending mailing: the rest of its send is dropped", async () => {
  await quiesce();
  const copy = (await api("POST", `/mailings/${mailing.id}/copy`)).body;
  await api("POST", `/mailings/${copy.id}/send`, {});
  const c = await api("POST", `/mailings/${copy.id}/cancel`);
  assert.equal(c.status, 200);
  assert.equal(c.body.status, "cancelled");
  const p = (await api("GET", `/mailings/${copy.id}/progress`)).body;
  assert.equal(p.send.status, "cancelled");
  assert.equal(p.send.cancelled, 4);
  assert.equal(await drain(), 0);
});

Deno.test("send: when the audience cannot be expanded, the mailing stays a draft", async () => {
  const m = (await api("POST", "/mailings", {
    from_address: "alumni@uni.example",
    subject: "Hi",
    body_html: "<p>Hi</p>",
    recipients: { segments: [crypto.randomUUID()] },
  })).body;
  const r = await api("POST", `/mailings/${m.id}/send`, {});
  assert.equal(r.status, 404, JSON.stringify(r.body));
  const after = (await api("GET", `/mailings/${m.id}`)).body;
  assert.equal(after.status, "draft");
  assert.equal(after.send_id, null);
  const left = await t.deps.db.selectFrom("sends").select("id").where("tenant_id", "=", tid)
    .where("mailing_id", "=", m.id).execute();
  assert.deepEqual(left, []);
});
