// The people pages as staff use them, with plain form posts (no JavaScript).
import assert from "node:assert/strict";
import { Browser, PASSWORD, seedTenant, testApp } from "./helpers/app.ts";

const t = await testApp();
const org = await seedTenant(t, { slug: "ui-people" });

async function signedIn() {
  const b = new Browser(t.app);
  await b.get("/login");
  const res = await b.post("/login", { email: org.email, password: PASSWORD });
  assert.equal(res.status, 303);
  return b;
}

Deno.test("staff create a person, add and switch addresses, note, delete and restore", async () => {
  const b = await signedIn();
  const empty = await (await b.get("/people")).text();
  assert.match(empty, /No people match/);

  await b.get("/people/new");
  const bad = await b.post("/people", { first_name: "Sanna", address: "sanna(at)uni.fi" });
  assert.equal(bad.status, 400);
  const badHtml = await bad.text();
  assert.match(badHtml, /not a valid email address/);
  assert.match(badHtml, /value="Sanna"/, "what was typed is kept");

  const created = await b.post("/people", {
    first_name: "Sanna",
    last_name: "Marin",
    organisation: "Tampereen yliopisto",
    address: "sanna@tuni.example",
  });
  assert.equal(created.status, 303);
  const profileUrl = created.headers.get("location")!;
  let html = await (await b.get(profileUrl)).text();
  assert.match(html, /Person created/);
  assert.match(html, /sanna@tuni\.example<\/strong> <span class="badge">Primary/);

  await b.post(`${profileUrl}/addresses`, { address: "sanna@home.example" });
  html = await (await b.get(profileUrl)).text();
  const id = /action="[^"]+\/addresses\/([0-9a-f-]+)\/primary"/.exec(html)?.[1];
  assert.ok(id, "the second address offers 'Make primary'");
  const switched = await b.post(`${profileUrl}/addresses/${id}/primary`, {});
  assert.equal(switched.status, 303);
  html = await (await b.get(profileUrl)).text();
  assert.match(html, /sanna@home\.example<\/strong> <span class="badge">Primary/);

  // Taking another person's address is refused on the page, naming the holder.
  await b.post("/people", { first_name: "Other", address: "other@tuni.example" });
  const clash = await b.post(`${profileUrl}/addresses`, { address: "OTHER@tuni.example" });
  assert.equal(clash.status, 400);
  assert.match(await clash.text(), /already belongs to Other/);

  await b.post(`${profileUrl}/notes`, { body: "Asked for the English newsletter" });
  html = await (await b.get(profileUrl)).text();
  assert.match(html, /Asked for the English newsletter/);

  const list = await (await b.get("/people?q=marin")).text();
  assert.match(list, /Sanna Marin/);
  assert.match(list, /sanna@home\.example/);

  const confirm = await (await b.get(`${profileUrl}/lifecycle/delete`)).text();
  assert.match(confirm, /you can restore the person later/);
  assert.equal((await b.post(`${profileUrl}/lifecycle/delete`, {})).status, 303);
  assert.doesNotMatch(await (await b.get("/people?q=marin")).text(), /Sanna Marin/);
  assert.match(await (await b.get("/people?q=marin&status=deleted")).text(), /Sanna Marin/);
  assert.equal((await b.post(`${profileUrl}/lifecycle/restore`, {})).status, 303);
  html = await (await b.get(profileUrl)).text();
  assert.match(html, /sanna@home\.example<\/strong> <span class="badge">Primary/);
  assert.match(await (await b.get("/people?q=marin")).text(), /Sanna Marin/);
});

Deno.test("an unknown lifecycle action or another tenant's person is a 404 page", async () => {
  const b = await signedIn();
  const other = await seedTenant(t, { slug: "ui-people-2" });
  const res = await t.app.request("/api/v1/persons", {
    method: "POST",
    headers: { authorization: `Bearer ${other.key}`, "content-type": "application/json" },
    body: JSON.stringify({ first_name: "Foreign" }),
  });
  const foreign = await res.json();
  assert.equal((await b.get(`/people/${foreign.id}`)).status, 404);
  assert.equal((await b.get(`/people/${foreign.id}/lifecycle/explode`)).status, 404);
  assert.equal((await b.post(`/people/${foreign.id}/notes`, { body: "x" })).status, 404);
});

Deno.test("duplicates view → compare → merge, keeping the chosen person", async () => {
  const b = await signedIn();
  await b.get("/people/new");
  await b.post("/people", {
    first_name: "Mia",
    last_name: "Holm",
    organisation: "Åbo Akademi",
    address: "mia.holm@abo.example",
  });
  await b.post("/people", {
    first_name: "Mia",
    last_name: "Holm",
    organisation: "åbo akademi",
    address: "mia@gmail.example",
  });
  const dup = await (await b.get("/people/duplicates")).text();
  assert.match(dup, /Same name and organisation/);
  const href = /href="(\/people\/merge\?a=[^"]+)"/.exec(dup)?.[1]?.replaceAll("&amp;", "&");
  assert.ok(href);
  const page = await (await b.get(href)).text();
  assert.match(page, /Who stays\?/);
  const pair = /name="pair" value="([^"]+)"/.exec(page)![1]!;
  const res = await b.post("/people/merge", { pair, primary: "other" });
  assert.equal(res.status, 303);
  const profile = await (await b.get(res.headers.get("location")!)).text();
  assert.match(profile, /Merged\./);
  assert.match(profile, /mia@gmail\.example<\/strong> <span class="badge">Primary/);
  assert.match(profile, /mia\.holm@abo\.example/);
  assert.doesNotMatch(await (await b.get("/people/duplicates")).text(), /Mia Holm/);
});

Deno.test("the profile edits language, tags and typed custom fields", async () => {
  const b = await signedIn();
  await t.app.request("/api/v1/custom-fields", {
    method: "POST",
    headers: { authorization: `Bearer ${org.key}`, "content-type": "application/json" },
    body: JSON.stringify({ key: "graduated", label: "Graduation year", type: "number" }),
  });
  await b.get("/people/new");
  const created = await b.post("/people", { first_name: "Tove", address: "tove@abo.example" });
  const url = created.headers.get("location")!;
  const page = await (await b.get(url)).text();
  assert.match(page, /Graduation year/);
  const saved = await b.post(url, {
    first_name: "Tove",
    last_name: "Jansson",
    organisation: "",
    title: "",
    language: "sv",
    tags: "alumni, board ,",
    "custom.graduated": "1938",
  });
  assert.equal(saved.status, 303);
  const p = await t.deps.db.selectFrom("persons").select(["language", "tags", "custom"])
    .where("tenant_id", "=", org.tenant.id).where("first_name", "=", "Tove")
    .executeTakeFirstOrThrow();
  assert.deepEqual(p, { language: "sv", tags: ["alumni", "board"], custom: { graduated: 1938 } });
  const bad = await b.post(url, { first_name: "Tove", "custom.graduated": "nineteen" });
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /Expected a number/);
});
