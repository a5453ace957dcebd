// Mailing drafts through /api/v1/mailings: create, autosave with a version check, copy, list,
// the state machine (a sent mailing cannot be edited), sanitising on save, tenant isolation.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { apiClient, seedTenant, testApp } from "./helpers/app.ts";
import { createSender, verifySender } from "../core/mailings/senders.ts";

const t = await testApp();
const org = await seedTenant(t, { slug: "drafts-org", scopes: ["read", "write", "send"] });
const api = apiClient(t, org.key);
const sender = await createSender(t.deps, org.tenant.id, {
  name: "Alumni",
  address: "alumni@uni.example",
}, "test");
await verifySender(t.deps, org.tenant.id, sender.id, "test");

/** DELETE answers 204 without a body; the JSON client cannot read that. */
async function del(path: string, key = org.key): Promise<number> {
  const res = await t.app.request(`/api/v1${path}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${key}` },
  });
  await res.body?.cancel();
  return res.status;
}

const draft = {
  from_name: "Alumni\r\nBcc: evil@x.example",
  from_address: "alumni@uni.example",
  subject: 'Hej {{firstname default="vän"}}',
  body_html: '<p onclick="steal()">Hello<script>alert(1)</script></p>',
  recipients: { addresses: ["anna@ext.example"] },
};

Deno.test("create: a draft, sanitised, header values without CR/LF, version 1", async () => {
  const r = await api("POST", "/mailings", draft);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.status, "draft");
  assert.equal(r.body.version, 1);
  assert.equal(r.body.body_html, "<p>Hello</p>");
  assert.equal(r.body.from_name, "Alumni Bcc: evil@x.example");
  assert.deepEqual(r.body.recipients.addresses, ["anna@ext.example"]);
  assert.deepEqual(r.body.recipients.segments, []);
});

Deno.test("create: bad input names each field", async () => {
  const r = await api("POST", "/mailings", {
    from_address: "not an address",
    reply_to: "x@",
    recipients: { segments: ["nope"] },
    colour: "red",
  });
  assert.equal(r.status, 400);
  const paths = r.body.error.details.map((d: { path: string }) => d.path).sort();
  assert.ok(paths.includes("recipients.segments.0"), JSON.stringify(paths));
  const r2 = await api("POST", "/mailings", { from_address: "not an address", reply_to: "x@" });
  assert.equal(r2.status, 400);
  assert.deepEqual(r2.body.error.details.map((d: { path: string }) => d.path).sort(), [
    "from_address",
    "reply_to",
  ]);
});

Deno.test("autosave: a stale version is a conflict, so two tabs never overwrite each other", async () => {
  const m = (await api("POST", "/mailings", draft)).body;
  const tab1 = await api("PATCH", `/mailings/${m.id}`, { version: 1, subject: "From tab 1" });
  assert.equal(tab1.status, 200);
  assert.equal(tab1.body.version, 2);
  const tab2 = await api("PATCH", `/mailings/${m.id}`, { version: 1, subject: "From tab 2" });
  assert.equal(tab2.status, 409);
  const issue = tab2.body.error.details[0];
  assert.equal(issue.code, "stale_version");
  assert.equal(issue.current_version, 2);
  assert.match(issue.message, /Reload/);
  assert.equal((await api("GET", `/mailings/${m.id}`)).body.subject, "From tab 1");
  // Reopened days later: the draft is as it was left.
  t.advance(3 * 86_400_000);
  const again = await api("PATCH", `/mailings/${m.id}`, {
    version: 2,
    body_html: '<a href="javascript:alert(1)">x</a><img src="y.png" onerror="z()">',
  });
  t.advance(-3 * 86_400_000);
  assert.equal(again.status, 200);
  assert.equal(again.body.body_html, '<a>x</a><img src="y.png" />');
  assert.equal(again.body.subject, "From tab 1");
});

Deno.test("copy: any mailing becomes a new draft that remembers its origin", async () => {
  const m = (await api("POST", "/mailings", draft)).body;
  const copy = await api("POST", `/mailings/${m.id}/copy`);
  assert.equal(copy.status, 201);
  assert.notEqual(copy.body.id, m.id);
  assert.equal(copy.body.copied_from, m.id);
  assert.equal(copy.body.status, "draft");
  assert.equal(copy.body.subject, m.subject);
  assert.equal(copy.body.body_html, m.body_html);
  assert.deepEqual(copy.body.recipients, m.recipients);
});

Deno.test("states: a sent mailing cannot be edited or deleted, but can be copied", async () => {
  const m = (await api("POST", "/mailings", draft)).body;
  const sent = await api("POST", `/mailings/${m.id}/send`, {});
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  const now = (await api("GET", `/mailings/${m.id}`)).body;
  assert.ok(["sending", "sent"].includes(now.status));
  const edit = await api("PATCH", `/mailings/${m.id}`, { version: now.version, subject: "x" });
  assert.equal(edit.status, 409);
  assert.match(edit.body.error.details[0].code, /^mailing_(sending|sent)$/);
  assert.equal(await del(`/mailings/${m.id}`), 409);
  assert.equal((await api("POST", `/mailings/${m.id}/send`, {})).status, 409);
  // Once its send is done the mailing reads as sent.
  await sql`update sends set status = 'done', finished_at = now() where id = ${now.send_id}`
    .execute(t.deps.db);
  const done = (await api("GET", `/mailings/${m.id}`)).body;
  assert.equal(done.status, "sent");
  assert.ok(done.sent_at);
  assert.equal((await api("PATCH", `/mailings/${m.id}`, { version: done.version })).status, 409);
  assert.equal((await api("POST", `/mailings/${m.id}/copy`)).status, 201);
});

Deno.test("states: a draft can be deleted or cancelled; a cancelled one no longer edited", async () => {
  const a = (await api("POST", "/mailings", draft)).body;
  assert.equal(await del(`/mailings/${a.id}`), 204);
  assert.equal((await api("GET", `/mailings/${a.id}`)).status, 404);
  const b = (await api("POST", "/mailings", draft)).body;
  const cancelled = await api("POST", `/mailings/${b.id}/cancel`);
  assert.equal(cancelled.body.status, "cancelled");
  const edit = await api("PATCH", `/mailings/${b.id}`, { version: cancelled.body.version });
  assert.equal(edit.body.error.details[0].code, "mailing_cancelled");
});

Deno.test("list: newest first, filtered by status and subject words, cursor pages", async () => {
  const other = await seedTenant(t, { slug: "drafts-list" });
  const api2 = apiClient(t, other.key);
  for (const s of ["Spring news", "Summer news", "Autumn party", "Winter news"]) {
    await api2("POST", "/mailings", { subject: s });
  }
  const first = await api2("GET", "/mailings?limit=2&q=news");
  assert.deepEqual(first.body.items.map((m: { subject: string }) => m.subject), [
    "Winter news",
    "Summer news",
  ]);
  const second = await api2("GET", `/mailings?limit=2&q=news&cursor=${first.body.next_cursor}`);
  assert.deepEqual(second.body.items.map((m: { subject: string }) => m.subject), ["Spring news"]);
  assert.equal(second.body.next_cursor, null);
  assert.equal((await api2("GET", "/mailings?status=sent")).body.items.length, 0);
  assert.equal((await api2("GET", "/mailings?status=draft")).body.items.length, 4);
});

Deno.test("tenants: another organisation's mailing is not found", async () => {
  const m = (await api("POST", "/mailings", draft)).body;
  const other = await seedTenant(t, { slug: "drafts-other" });
  const api2 = apiClient(t, other.key);
  assert.equal((await api2("GET", `/mailings/${m.id}`)).status, 404);
  assert.equal((await api2("PATCH", `/mailings/${m.id}`, { version: 1 })).status, 404);
  assert.equal((await api2("POST", `/mailings/${m.id}/copy`)).status, 404);
  assert.equal((await api2("GET", "/mailings")).body.items.length, 0);
});

Deno.test("OpenAPI documents the mailings routes", async () => {
  const doc = await (await t.app.request("/api/v1/openapi.json")).json();
  for (
    const p of ["/mailings", "/mailings/{id}", "/mailings/{id}/merge-fields", "/mailings/{id}/test"]
  ) {
    assert.ok(doc.paths[p], p);
  }
});
