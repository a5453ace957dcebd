// Mailings in the staff UI as plain form posts (no JavaScript): list and filters, new draft,
// save (sanitised), autosave with its version conflict, person search, attachments, review with
// counts and the merge-field report, preview, test send, send to the capture mailbox, copy,
// and isolation between tenants.
import assert from "node:assert/strict";
import { Browser, PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { createCustomField, createPerson } from "../core/people/persons.ts";
import { createSegment } from "../core/people/saved_segments.ts";
import { createSender, verifySender } from "../core/mailings/senders.ts";
import { SendWorker } from "../core/send/worker.ts";
import { captureTransport } from "../core/send/transport.ts";

const t = await testApp();
const org = await seedTenant(t, { slug: "mail-ui-org" });
const other = await seedTenant(t, { slug: "mail-ui-other" });
const tid = org.tenant.id;
const sender = await createSender(t.deps, tid, {
  name: "Alumni Office",
  address: "alumni@uni.example",
}, "t");
await verifySender(t.deps, tid, sender.id, "t");
await createCustomField(t.deps, tid, { key: "member_no", label: "Member no", type: "text" }, "t");
const mk = (first: string, last: string, address: string | null, tags: string[]) =>
  createPerson(t.deps, tid, {
    first_name: first,
    last_name: last,
    tags,
    addresses: address ? [{ address }] : [],
  }, "test");
const anna = await mk("Anna", "Berg", "anna@uni.example", ["alumni"]);
await mk("", "Ek", "ek@uni.example", ["alumni"]); // no first name
await mk("Carl", "Lund", "carl@uni.example", ["alumni", "staff"]); // excluded by segment
await mk("Dora", "Holm", null, ["alumni"]); // no address
const tag = (name: string) => ({ op: "and", conditions: [{ tag: name, has: true }] });
const alumni = await createSegment(t.deps, tid, { name: "Alumni", definition: tag("alumni") }, "t");
const staff = await createSegment(t.deps, tid, { name: "Staff", definition: tag("staff") }, "t");

async function signedIn(email = org.email) {
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email, password: PASSWORD })).status, 303);
  return b;
}

async function newDraft(b: Browser): Promise<string> {
  await b.get("/mailings");
  const res = await b.post("/mailings/new", {});
  assert.equal(res.status, 303);
  const url = res.headers.get("location")!;
  assert.match(url, /^\/mailings\/[0-9a-f-]{36}$/);
  return url;
}

const stored = (id: string) =>
  t.deps.db.selectFrom("mailings").selectAll().where("tenant_id", "=", tid).where("id", "=", id)
    .executeTakeFirstOrThrow();

/** The compose form's fields, as the page would post them. */
const composeForm = (version: number, extra: Record<string, string | string[]> = {}) => ({
  version: String(version),
  from_identity_id: sender.id,
  reply_to: "",
  subject: "Hello {{firstname}}",
  preheader: "News",
  design_template_version_id: "",
  body_html: '<p onclick="steal()">Dear {{firstname}},</p><script>alert(1)</script>' +
    '<p><a href="javascript:alert(1)">x</a> <a href="{{unsubscribe_url}}">Unsubscribe</a></p>',
  addresses: "guest@ext.example",
  segments: [alumni.id],
  exclude_segments: [staff.id],
  act: "save",
  ...extra,
});

async function drain() {
  const worker = new SendWorker(t.deps, captureTransport(t.deps), { batchSize: 50 });
  let n = 0;
  for (let k = await worker.runOnce(); k > 0; k = await worker.runOnce()) n += k;
  return n;
}

Deno.test("list: empty, then a new draft; the editor's assets are served locally", async () => {
  const b = await signedIn();
  const list = await (await b.get("/mailings")).text();
  assert.match(list, /No mailings yet\./);
  assert.match(list, /href="\/mailings"[^>]*>Mailings<\/a>/, "nav item");
  const url = await newDraft(b);
  const page = await (await b.get(url)).text();
  assert.match(page, /<form[^>]+id="compose"/);
  assert.match(
    page,
    /<option value="[^"]+"\s*>Alumni Office &lt;alumni@uni\.example&gt;<\/option>/,
  );
  assert.match(page, /<textarea id="body_html" name="body_html"/);
  assert.match(page, /\{\{unsubscribe_url\}\}/, "merge menu offers the unsubscribe link");
  assert.match(page, /At most 10 MB per file and 10 MB in all\./);
  const listed = await (await b.get("/mailings")).text();
  assert.match(listed, new RegExp(`href="${url}">\\(no subject\\)</a>`));
  const js = await b.get("/mailings/assets/quill.js");
  assert.equal(js.status, 200);
  assert.match(js.headers.get("content-type")!, /javascript/);
  assert.ok((await js.text()).length > 100_000);
  assert.equal((await b.get("/mailings/assets/compose.js")).status, 200);
  assert.match(await (await b.get("/mailings/assets/quill.snow.css")).text(), /\.ql-toolbar/);
  assert.equal((await b.get("/mailings/assets/deno.json")).status, 404);
});

Deno.test("save draft: fields stored, body sanitised; autosave bumps the version; a stale version is a clear conflict", async () => {
  const b = await signedIn();
  const url = await newDraft(b);
  const id = url.split("/").pop()!;
  await b.get(url);
  const saved = await b.post(url, composeForm(1));
  assert.equal(saved.status, 303);
  const page = await (await b.get(url)).text();
  assert.match(page, /Draft saved\./);
  assert.match(page, /name="subject" value="Hello \{\{firstname\}\}"/);
  let row = await stored(id);
  assert.equal(row.version, 2);
  assert.equal(row.from_address, "alumni@uni.example");
  assert.match(row.body_html, /Dear \{\{firstname\}\},/);
  assert.match(row.body_html, /href="\{\{unsubscribe_url\}\}"/);
  assert.doesNotMatch(row.body_html, /<script|onclick|javascript:/i);

  const auto = await b.post(`${url}/autosave`, composeForm(2, { subject: "Autosaved" }));
  assert.equal(auto.status, 200);
  assert.deepEqual(await auto.json(), { version: 3 });
  const stale = await b.post(`${url}/autosave`, composeForm(2, { subject: "Overwrite?" }));
  assert.equal(stale.status, 409);
  const body = await stale.json();
  assert.equal(body.error.conflict, true);
  assert.match(body.error.message, /Someone saved this mailing after you opened it/);
  row = await stored(id);
  assert.equal(row.subject, "Autosaved", "the conflicting save changed nothing");
  assert.equal(row.version, 3);

  // Save draft with the stale version: the page says why and keeps what was typed.
  const form = await b.post(url, composeForm(2, { subject: "Typed meanwhile" }));
  assert.equal(form.status, 409);
  const html = await form.text();
  assert.match(html, /data-testid="error"[^>]*>[^<]*Someone saved this mailing/);
  assert.match(html, /name="subject" value="Typed meanwhile"/);
  assert.equal((await stored(id)).subject, "Autosaved");

  // Field errors name the field.
  const bad = await b.post(`${url}/autosave`, composeForm(3, { reply_to: "not-an-address" }));
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /reply_to/);
});

Deno.test("recipients: a person found by search, then the review shows the count and the merge-field report", async () => {
  const b = await signedIn();
  const url = await newDraft(b);
  await b.get(url);
  const search = await b.post(url, composeForm(1, { act: "search", q: "Anna" }));
  assert.equal(search.status, 303);
  assert.match(search.headers.get("location")!, /\?q=Anna#recipients$/);
  const found = await (await b.get(search.headers.get("location")!)).text();
  assert.match(found, new RegExp(`name="persons" value="${anna.id}"\\s*/?>\\s*Anna Berg`));
  assert.equal((await b.post(url, composeForm(2, { persons: [anna.id] }))).status, 303);
  const page = await (await b.get(url)).text();
  assert.match(page, new RegExp(`name="persons" value="${anna.id}" checked`));

  const review = await (await b.get(`${url}/review`)).text();
  // Anna (segment and person: once), Ek, and the guest address; Carl excluded, Dora no address.
  assert.match(review, /<h2>3 recipients<\/h2>/);
  assert.match(review, /2 people from the register and 1 other addresses/);
  assert.match(review, /In an excluded segment: 1/);
  assert.match(review, /No address: 1/);
  assert.match(
    review,
    /data-field="firstname"><code>\{\{firstname\}\}<\/code> is empty for 2 of 3 recipients/,
  );
  assert.doesNotMatch(review, /data-field="unsubscribe_url"/);
  assert.match(review, /data-testid="raw-warning">1 addresses are not people in the register/);
});

Deno.test("preview: merged for a chosen person in sandboxed iframes at 1024 and 375 px, plus text", async () => {
  const b = await signedIn();
  const url = await newDraft(b);
  await b.get(url);
  await b.post(url, composeForm(1, { persons: [anna.id] }));
  const html = await (await b.get(`${url}/preview?person=${anna.id}`)).text();
  assert.match(html, /data-testid="preview-subject">Hello Anna</);
  const frames = [...html.matchAll(/<iframe[^>]*>/g)].map((m) => m[0]);
  assert.equal(frames.length, 2);
  for (const f of frames) {
    assert.match(f, /sandbox=""/);
    assert.match(f, /srcdoc="[^"]*Dear Anna,/);
    // Inside the attribute markup is escaped: a script would show as &lt;script.
    assert.doesNotMatch(f, /&lt;script/i);
  }
  assert.match(frames[0]!, /width="1024"/);
  assert.match(frames[1]!, /width="375"/);
  assert.match(html, /data-testid="preview-text">[^<]*Dear Anna,/);
  const raw = await (await b.get(`${url}/preview?address=x@ext.example`)).text();
  assert.match(raw, /data-testid="preview-subject">Hello </);
  const search = await (await b.get(`${url}/preview?q=Berg`)).text();
  assert.match(search, new RegExp(`href="${url}/preview\\?person=${anna.id}">Anna Berg`));
});

Deno.test("attachments: upload within limits, listed, removed; programs refused", async () => {
  const b = await signedIn();
  const url = await newDraft(b);
  await b.get(url);
  const upload = async (name: string, bytes: Uint8Array) => {
    const fd = new FormData();
    fd.append("_csrf", b.csrf!);
    fd.append("file", new File([bytes as Uint8Array<ArrayBuffer>], name));
    const cookie = [...b.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await t.app.request(`${url}/attachments`, {
      method: "POST",
      body: fd,
      headers: { cookie },
    });
    // Keep the flash cookie, as the Browser helper does for its own requests.
    for (const line of res.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const i = pair.indexOf("=");
      b.cookies.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return res;
  };
  const ok = await upload("agenda.txt", new TextEncoder().encode("Agenda for the meeting\n"));
  assert.equal(ok.status, 303);
  let page = await (await b.get(url)).text();
  assert.match(page, /File attached\./);
  assert.match(page, /data-testid="attachments"[\s\S]*agenda\.txt[\s\S]*text\/plain/);
  const exe = await upload("setup.exe", new Uint8Array([0x4d, 0x5a, 0x90, 0, 3, 0, 0, 0]));
  assert.equal(exe.status, 303);
  page = await (await b.get(url)).text();
  assert.match(page, /Programs and scripts cannot be attached\./);
  const del = /action="(\/mailings\/[^"]+\/attachments\/[^"]+\/delete)"/.exec(page)![1]!;
  assert.equal((await b.post(del, {})).status, 303);
  page = await (await b.get(url)).text();
  assert.match(page, /Attachment removed\./);
  assert.match(page, /No attachments\./);
});

Deno.test("test send, then send: confirmation needed, delivered to the capture mailbox, shown as sent; copy", async () => {
  const b = await signedIn();
  const url = await newDraft(b);
  const id = url.split("/").pop()!;
  await b.get(url);
  await b.post(url, composeForm(1));
  await b.get(`${url}/review`);
  const test = await b.post(`${url}/test`, { to: "me@uni.example" });
  assert.equal(test.status, 303);
  assert.match(await (await b.get(`${url}/review`)).text(), /Test sent to 1 address\./);
  assert.equal(await drain(), 1);
  const testMail = await t.deps.db.selectFrom("captured_mail").select(["rcpt_to", "subject"])
    .where("tenant_id", "=", tid).where("rcpt_to", "=", "me@uni.example").execute();
  assert.deepEqual(testMail.map((m) => m.subject), ["[Test] Hello "]);

  const version = String((await stored(id)).version);
  assert.equal((await b.post(`${url}/send`, { version })).status, 303);
  assert.match(await (await b.get(`${url}/review`)).text(), /Tick the box to confirm the send\./);
  assert.equal((await stored(id)).status, "draft");
  const sent = await b.post(`${url}/send`, { version, confirm: "yes" });
  assert.equal(sent.status, 303);
  assert.equal(sent.headers.get("location"), url);
  const sending = await (await b.get(url)).text();
  assert.match(sending, /Sending has started\./);
  assert.match(sending, /data-testid="status">Sending</);
  assert.match(sending, /data-progress-url="\/mailings\/[^"]+\/progress\.json"/);
  const p1 = await (await b.get(`${url}/progress.json`)).json();
  assert.equal(p1.total, 3);
  assert.equal(p1.done, false);
  assert.equal(p1.text, "0 of 3 sent");

  assert.equal(await drain(), 3);
  const mail = await t.deps.db.selectFrom("captured_mail").select(["rcpt_to", "subject"])
    .where("tenant_id", "=", tid).where("send_id", "=", (await stored(id)).send_id!)
    .orderBy("rcpt_to").execute();
  assert.deepEqual(mail.map((m) => [m.rcpt_to, m.subject]), [
    ["anna@uni.example", "Hello Anna"],
    ["ek@uni.example", "Hello "],
    ["guest@ext.example", "Hello "],
  ]);
  const p2 = await (await b.get(`${url}/progress.json`)).json();
  assert.equal(p2.done, true);
  assert.equal(p2.final, "Done: 3 sent, 0 failed, 0 cancelled.");
  const done = await (await b.get(url)).text();
  assert.match(done, /data-testid="status">Sent</);
  assert.match(done, /data-testid="progress">3 of 3 sent/);
  assert.doesNotMatch(done, /id="compose"/, "a sent mailing is not editable");
  assert.match(await (await b.get("/mailings?status=sent")).text(), new RegExp(url));
  assert.doesNotMatch(await (await b.get("/mailings?status=draft")).text(), new RegExp(url));
  assert.equal((await b.post(url, composeForm(5))).status, 409);

  const copy = await b.post(`${url}/copy`, {});
  assert.equal(copy.status, 303);
  const copyUrl = copy.headers.get("location")!;
  assert.notEqual(copyUrl, url);
  const copied = await (await b.get(copyUrl)).text();
  assert.match(copied, /Copied into a new draft\./);
  assert.match(copied, /name="subject" value="Hello \{\{firstname\}\}"/);
});

Deno.test("another tenant's mailing is not found, for every page and action", async () => {
  const b = await signedIn();
  const url = await newDraft(b);
  const intruder = await signedIn(other.email);
  assert.doesNotMatch(await (await intruder.get("/mailings")).text(), new RegExp(url));
  for (const path of [url, `${url}/review`, `${url}/preview`, `${url}/progress.json`]) {
    assert.equal((await intruder.get(path)).status, 404, path);
  }
  for (
    const path of [
      url,
      `${url}/autosave`,
      `${url}/copy`,
      `${url}/send`,
      `${url}/delete`,
      `${url}/cancel`,
    ]
  ) {
    assert.equal((await intruder.post(path, composeForm(1, { confirm: "yes" }))).status, 404, path);
  }
  assert.equal((await stored(url.split("/").pop()!)).subject, "");
  assert.equal((await intruder.get("/mailings/not-a-uuid")).status, 404);
});
