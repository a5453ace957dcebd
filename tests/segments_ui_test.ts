// Lists and segments in the staff UI as plain form posts (no JavaScript): lists filled by
// search, the segment builder's buttons, count, save, preview, edit, errors by row, isolation.
import assert from "node:assert/strict";
import { Browser, PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { createCustomField, createPerson } from "../core/people/persons.ts";
import { createList } from "../core/people/lists.ts";
import { createSegment } from "../core/people/saved_segments.ts";

const t = await testApp();
const org = await seedTenant(t, { slug: "seg-ui-org" });
const other = await seedTenant(t, { slug: "seg-ui-other" });
await createCustomField(t.deps, org.tenant.id, { key: "year", label: "Year", type: "number" }, "t");
const people: Record<string, string> = {};
for (
  const [first, last, tags, address, year] of [
    ["Anna", "Berg", ["alumni"], "anna@uni.example", 2019],
    ["Bo", "Ek", [], "bo@uni.example", 2020],
    ["Cia", "Lund", ["alumni"], "cia@uni.example", null],
    ["Dan", "Holm", [], null, 2020],
  ] as const
) {
  people[first] = (await createPerson(t.deps, org.tenant.id, {
    first_name: first,
    last_name: last,
    tags: [...tags],
    custom: year === null ? {} : { year },
    addresses: address ? [{ address }] : [],
  }, "test")).id;
}

async function signedIn(email = org.email) {
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email, password: PASSWORD })).status, 303);
  return b;
}

/** The members table only, so search results and flashes do not count. */
const members = (html: string) => /data-testid="members"[\s\S]*?<\/table>/.exec(html)?.[0] ?? "";

Deno.test("lists: create, add two people found by search, remove one, rename, delete", async () => {
  const b = await signedIn();
  assert.match(await (await b.get("/lists")).text(), /No lists yet/);
  const created = await b.post("/lists", { name: "Board" });
  assert.equal(created.status, 303);
  const url = created.headers.get("location")!;
  assert.match(url, /^\/lists\/[0-9a-f-]{36}$/);

  const search = await (await b.get(`${url}?q=b`)).text();
  assert.match(search, /data-testid="found"[\s\S]*Anna Berg[\s\S]*Bo Ek/);
  assert.doesNotMatch(search, /Cia Lund/);
  assert.equal((await b.post(`${url}/add`, {})).status, 303);
  assert.match(await (await b.get(url)).text(), /Tick at least one person/);
  const added = await b.post(`${url}/add`, { person_ids: [people.Anna!, people.Bo!] });
  assert.equal(added.status, 303);
  let page = await (await b.get(url)).text();
  assert.match(page, /2 people added\./);
  assert.match(page, /<h2>2 people<\/h2>/);
  assert.match(members(page), /href="\/people\/[^"]+">Anna Berg<\/a>[\s\S]*anna@uni\.example/);
  assert.match(members(page), /Bo Ek/);

  await b.post(`${url}/add`, { person_ids: people.Anna! });
  assert.match(await (await b.get(url)).text(), /0 people added\. 1 was on the list already\./);

  assert.equal((await b.post(`${url}/remove`, { person_ids: people.Bo! })).status, 303);
  page = await (await b.get(url)).text();
  assert.match(page, /Removed from the list/);
  assert.match(page, /<h2>1 person<\/h2>/);
  assert.doesNotMatch(members(page), /Bo Ek/);

  assert.equal((await b.post(`${url}/rename`, { name: "Styrelsen" })).status, 303);
  assert.match(await (await b.get("/lists")).text(), /Styrelsen<\/a>[\s\S]*?1 person/);
  await b.post("/lists", { name: "Taken" });
  const clash = await b.post(`${url}/rename`, { name: "taken" });
  assert.equal(clash.status, 400);
  assert.match(await clash.text(), /name: Already in use/);

  assert.match(await (await b.get(`${url}/delete`)).text(), /the people on it stay/);
  const gone = await b.post(`${url}/delete`, {});
  assert.equal(gone.status, 303);
  assert.equal(gone.headers.get("location"), "/lists");
  assert.match(await (await b.get("/lists")).text(), /List deleted/);
  assert.equal((await b.get(url)).status, 404);
});

Deno.test("lists: a list a saved segment uses cannot be deleted, and the page says which", async () => {
  const b = await signedIn();
  const list = await createList(t.deps, org.tenant.id, { name: "In use" }, "test");
  const seg = await createSegment(t.deps, org.tenant.id, {
    name: "Uses the list",
    definition: { op: "and", conditions: [{ list: list.id, member: true }] },
  }, "test");
  const confirm = await (await b.get(`/lists/${list.id}/delete`)).text();
  assert.match(confirm, /data-testid="used-by"[\s\S]*href="\/segments\/[^"]+">Uses the list/);
  const refused = await b.post(`/lists/${list.id}/delete`, {});
  assert.equal(refused.status, 409);
  assert.match(await refused.text(), /Saved segments use this list[\s\S]*Uses the list/);
  assert.equal((await b.get(`/lists/${list.id}`)).status, 200);
  assert.equal((await b.post(`/segments/${seg.id}/delete`, {})).status, 303);
  assert.equal((await b.post(`/lists/${list.id}/delete`, {})).status, 303);
});

Deno.test("segments: build an OR of a tag and a list, count, save, preview, edit, delete", async () => {
  const b = await signedIn();
  await b.get("/lists");
  const list = await b.post("/lists", { name: "Only Bo" });
  const listId = list.headers.get("location")!.split("/").pop()!;
  await b.post(`/lists/${listId}/add`, { person_ids: [people.Bo!] });

  const blank = await (await b.get("/segments/new")).text();
  assert.match(blank, /name="c\[r\]\[op\]"/);
  assert.match(blank, /name="c\[r\.0\]\[kind\]"/);
  const form = {
    name: "Alumni or Bo",
    "c[r][kind]": "group",
    "c[r][op]": "or",
    "c[r.0][kind]": "tag",
    "c[r.0][has]": "yes",
    "c[r.0][tag]": "alumni",
    "c[r.1][kind]": "list",
    "c[r.1][member]": "yes",
    "c[r.1][list]": listId,
  };
  const counted = await b.post("/segments", { ...form, act: "count" });
  assert.equal(counted.status, 200);
  assert.match(await counted.text(), /<output[^>]*data-testid="live-count"[^>]*>3 people</);

  // The builder's buttons re-render the form with the change; nothing is saved.
  const more = await (await b.post("/segments", { ...form, act: "add:r" })).text();
  assert.match(more, /name="c\[r\.2\]\[kind\]"/);
  const grouped = await (await b.post("/segments", { ...form, act: "group:r" })).text();
  assert.match(grouped, /name="c\[r\.2\]\[kind\]" data-prop="kind" value="group"/);
  assert.match(grouped, /name="c\[r\.2\.0\]\[kind\]"/);
  const removed = await (await b.post("/segments", { ...form, act: "remove:r.0" })).text();
  assert.match(removed, /name="c\[r\.0\]\[kind\]"[\s\S]*?<option value="list" selected/);
  assert.doesNotMatch(removed, /name="c\[r\.1\]\[kind\]"/);
  assert.match(await (await b.get("/segments")).text(), /No saved segments yet/);

  const saved = await b.post("/segments", { ...form, act: "save" });
  assert.equal(saved.status, 303);
  const url = saved.headers.get("location")!;
  let page = await (await b.get(url)).text();
  assert.match(page, /Segment saved/);
  assert.match(page, /data-testid="count">3 people</);
  const preview = /data-testid="preview"[\s\S]*?<\/table>/.exec(page)?.[0] ?? "";
  assert.match(preview, /Anna Berg[\s\S]*Bo Ek[\s\S]*Cia Lund/);
  assert.doesNotMatch(preview, /Dan Holm/);
  assert.match(await (await b.get("/segments")).text(), /Alumni or Bo<\/a>[\s\S]*?3 people/);

  // Edit: the saved tree comes back in the builder; AND with "not on the list" leaves two.
  const edit = await (await b.get(`${url}/edit`)).text();
  assert.match(edit, /name="c\[r\.0\]\[tag\]" data-prop="tag" value="alumni"/);
  assert.match(edit, /<option value="or" selected/);
  assert.match(edit, /data-testid="live-count"[^>]*>3 people</);
  const updated = await b.post(url, {
    ...form,
    name: "Alumni not Bo",
    "c[r][op]": "and",
    "c[r.1][member]": "no",
    act: "save",
  });
  assert.equal(updated.status, 303);
  page = await (await b.get(url)).text();
  assert.match(page, /<h1>Alumni not Bo<\/h1>/);
  assert.match(page, /data-testid="count">2 people</);

  assert.match(await (await b.get(`${url}/delete`)).text(), /people in it are not changed/);
  assert.equal((await b.post(`${url}/delete`, {})).status, 303);
  assert.match(await (await b.get("/segments")).text(), /Segment deleted/);
  assert.equal((await b.get(url)).status, 404);
});

Deno.test("segments: nested groups and every condition kind survive save and edit", async () => {
  const b = await signedIn();
  await b.get("/segments/new");
  const saved = await b.post("/segments", {
    name: "Nested",
    "c[r][kind]": "group",
    "c[r][op]": "and",
    "c[r.0][kind]": "created",
    "c[r.0][from]": "2000-01-01",
    "c[r.0][to]": "",
    "c[r.1][kind]": "group",
    "c[r.1][op]": "or",
    "c[r.1.0][kind]": "custom",
    "c[r.1.0][custom]": "year",
    "c[r.1.0][match]": "equals",
    "c[r.1.0][value]": "2020",
    "c[r.1.1][kind]": "group",
    "c[r.1.1][op]": "and",
    "c[r.1.1.0][kind]": "has_address",
    "c[r.1.1.0][address]": "no",
    "c[r.1.1.1][kind]": "updated",
    "c[r.1.1.1][to]": "2999-12-31",
    "c[r.1.1.1][from]": "",
    act: "save",
  });
  assert.equal(saved.status, 303);
  const url = saved.headers.get("location")!;
  const page = await (await b.get(url)).text();
  // Year 2020 (Bo, Dan), or no address (Dan): Bo and Dan.
  assert.match(page, /data-testid="count">2 people</);
  const edit = await (await b.get(`${url}/edit`)).text();
  assert.match(edit, /name="c\[r\.0\]\[from\]" data-prop="from" type="date" value="2000-01-01"/);
  assert.match(edit, /name="c\[r\.1\.0\]\[custom\]"[\s\S]*?<option value="year" selected/);
  assert.match(edit, /name="c\[r\.1\.1\.0\]\[address\]"[\s\S]*?<option value="no" selected/);
  assert.match(edit, /name="c\[r\.1\.1\.1\]\[to\]" data-prop="to" type="date" value="2999-12-31"/);
});

Deno.test("segments: validation errors are shown next to the condition they concern", async () => {
  const b = await signedIn();
  await b.get("/segments/new");
  const bad = await b.post("/segments", {
    name: "Broken",
    "c[r][kind]": "group",
    "c[r][op]": "and",
    "c[r.0][kind]": "tag",
    "c[r.0][tag]": "alumni",
    "c[r.1][kind]": "group",
    "c[r.1][op]": "or",
    "c[r.1.0][kind]": "field",
    "c[r.1.0][field]": "organisation",
    "c[r.1.0][match]": "contains",
    "c[r.1.0][value]": "",
    "c[r.1.1][kind]": "custom",
    "c[r.1.1][custom]": "year",
    "c[r.1.1][match]": "contains",
    "c[r.1.1][value]": "20",
    act: "save",
  });
  assert.equal(bad.status, 400);
  const html = await bad.text();
  assert.match(
    html,
    /data-errors-for="r\.1\.0"><p class="field-error">Value: This match needs a value/,
  );
  assert.match(html, /value="Broken"/, "what was typed is kept");
  assert.match(html, /name="c\[r\.1\.0\]\[field\]"[\s\S]*?<option value="organisation" selected/);
  assert.match(html, /data-errors-for="r\.0"><\/div>/, "the good row has no error");

  // Compile-time issues (the custom field is a number) name their row too; count shows them.
  const fixed = await b.post("/segments", {
    name: "Broken",
    "c[r][kind]": "group",
    "c[r.0][kind]": "custom",
    "c[r.0][custom]": "year",
    "c[r.0][match]": "contains",
    "c[r.0][value]": "20",
    act: "count",
  });
  assert.equal(fixed.status, 400);
  const text = await fixed.text();
  assert.match(text, /data-errors-for="r\.0"><p class="field-error">Match: Only text fields/);
  assert.match(text, /data-testid="live-count"[^>]*>Some fields are not valid\./);
});

Deno.test("segments: POST /segments/count answers JSON with the CSRF header", async () => {
  const b = await signedIn();
  await b.get("/segments/new");
  const count = (body: Record<string, string>, token: string | null) =>
    t.app.request("/segments/count", {
      method: "POST",
      headers: {
        cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
        "content-type": "application/x-www-form-urlencoded",
        ...(token ? { "x-csrf-token": token } : {}),
      },
      body: new URLSearchParams(body),
    });
  const ok = await count({ "c[r.0][kind]": "tag", "c[r.0][tag]": "alumni" }, b.csrf);
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { count: 2, text: "2 people" });

  const bad = await count({ "c[r.0][kind]": "field", "c[r.0][match]": "equals" }, b.csrf);
  assert.equal(bad.status, 400);
  const body = await bad.json();
  assert.equal(body.error.message, "Some fields are not valid.");
  assert.equal(body.error.details[0].path, "conditions.0.value");
  assert.equal(body.error.details[0].node, "r.0");
  assert.equal(body.error.details[0].text, "Value: This match needs a value");

  assert.equal((await count({ "c[r.0][kind]": "tag" }, null)).status, 403);
});

Deno.test("lists and segments of another tenant answer 404", async () => {
  const list = await createList(t.deps, org.tenant.id, { name: "Private" }, "test");
  const seg = await createSegment(t.deps, org.tenant.id, {
    name: "Private segment",
    definition: { op: "and", conditions: [{ tag: "alumni", has: true }] },
  }, "test");
  const ob = await signedIn(other.email);
  for (
    const path of [
      `/lists/${list.id}`,
      `/lists/${list.id}/delete`,
      `/segments/${seg.id}`,
      `/segments/${seg.id}/edit`,
      `/segments/${seg.id}/delete`,
      "/lists/not-a-uuid",
      "/segments/not-a-uuid",
    ]
  ) {
    const res = await ob.get(path);
    assert.equal(res.status, 404, path);
    assert.match(await res.text(), /Page not found/);
  }
  await ob.get("/lists");
  for (
    const [path, form] of [
      [`/lists/${list.id}/add`, { person_ids: people.Anna! }],
      [`/lists/${list.id}/remove`, { person_ids: people.Anna! }],
      [`/lists/${list.id}/rename`, { name: "Mine now" }],
      [`/lists/${list.id}/delete`, {}],
      [`/segments/${seg.id}`, { name: "Mine now", act: "save" }],
      [`/segments/${seg.id}/delete`, {}],
    ] as const
  ) {
    assert.equal((await ob.post(path, form)).status, 404, path);
  }
  // Their list is not offered in the builder, and naming it in a condition finds no such list.
  const theirs = await (await ob.get("/segments/new")).text();
  assert.doesNotMatch(theirs, /Private/);
  const probe = await ob.post("/segments", {
    "c[r.0][kind]": "list",
    "c[r.0][list]": list.id,
    act: "count",
  });
  assert.equal(probe.status, 400);
  assert.match(await probe.text(), /List: No such list/);
  assert.doesNotMatch(await (await ob.get("/lists")).text(), /Private/);
  assert.doesNotMatch(await (await ob.get("/segments")).text(), /Private segment/);
});

Deno.test.afterAll(() => t.close());
