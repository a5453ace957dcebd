// Lists and segments in the staff UI: plain form posts (no JavaScript), and the live count in a
// real browser.
import assert from "node:assert/strict";
import { Browser, PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { hasChromium, shot, signIn, withBrowser } from "./helpers/browser.ts";
import { createPerson } from "../core/people/persons.ts";

const t = await testApp();
const org = await seedTenant(t, { slug: "audience-org" });
const other = await seedTenant(t, { slug: "audience-other" });
const people: Record<string, string> = {};
for (
  const [first, last, tags] of [["Anna", "Berg", ["alumni"]], ["Bo", "Ek", []], ["Cia", "Lund", [
    "alumni",
  ]]] as const
) {
  people[first] = (await createPerson(t.deps, org.tenant.id, {
    first_name: first,
    last_name: last,
    tags: [...tags],
    addresses: [{ address: `${first.toLowerCase()}@uni.example` }],
  }, "test")).id;
}

async function signedIn() {
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email: org.email, password: PASSWORD })).status, 303);
  return b;
}

Deno.test("lists: create, add people found by search, remove, rename, delete", async () => {
  const b = await signedIn();
  await b.get("/lists");
  const created = await b.post("/lists", { name: "Board" });
  assert.equal(created.status, 303);
  const url = created.headers.get("location")!;
  const search = await (await b.get(`${url}?q=b`)).text();
  assert.match(search, /Anna Berg[\s\S]*Bo Ek/);
  const added = await b.post(`${url}/add`, { person_ids: [people.Anna!, people.Bo!] });
  assert.equal(added.status, 303);
  let page = await (await b.get(url)).text();
  assert.match(page, /2 people/);
  assert.match(page, /Anna Berg[\s\S]*Bo Ek/);
  await b.post(`${url}/remove`, { person_ids: people.Bo! });
  page = await (await b.get(url)).text();
  assert.match(page, /1 person\b/);
  assert.doesNotMatch(page, /Bo Ek/);
  await b.post(`${url}/rename`, { name: "Styrelsen" });
  assert.match(await (await b.get("/lists")).text(), /Styrelsen/);
  assert.match(await (await b.get(`${url}/delete`)).text(), /the people on it stay/);
  assert.equal((await b.post(`${url}/delete`, {})).status, 303);
  assert.equal((await b.get(url)).status, 404);
});

Deno.test("segments: build with OR, count without JavaScript, save, preview, errors by row", async () => {
  const b = await signedIn();
  await b.get("/segments/new");
  const list = await b.post("/lists", { name: "Only Bo" });
  const listId = list.headers.get("location")!.split("/").pop()!;
  await b.post(`/lists/${listId}/add`, { person_ids: [people.Bo!] });
  await b.get("/segments/new");
  const form = {
    name: "Alumni or Bo",
    op: "or",
    kind: ["tag", "list"],
    field: ["name", "name"],
    match: ["contains", "contains"],
    value: ["alumni", listId],
    negate: ["no", "no"],
  };
  const counted = await b.post("/segments", { ...form, count: "1" });
  assert.match(await counted.text(), /3 people/);
  const added = await b.post("/segments", { ...form, add: "1" });
  assert.equal((await added.text()).match(/name="kind"/g)?.length, 3, "a third condition row");

  const bad = await b.post("/segments", {
    ...form,
    kind: ["tag", "list", "field"],
    field: ["name", "name", "name"],
    match: ["contains", "contains", "contains"],
    value: ["alumni", listId, ""],
    negate: ["no", "no", "no"],
    save: "1",
  });
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /This match needs a value/);

  const saved = await b.post("/segments", { ...form, save: "1" });
  assert.equal(saved.status, 303);
  const segUrl = saved.headers.get("location")!;
  const page = await (await b.get(segUrl)).text();
  assert.match(page, /3 people/);
  assert.match(page, /data-testid="preview"[\s\S]*Anna Berg[\s\S]*Bo Ek[\s\S]*Cia Lund/);
  assert.match(await (await b.get("/segments")).text(), /Alumni or Bo[\s\S]*3 people/);

  // Another tenant's admin sees neither.
  const ob = new Browser(t.app);
  await ob.get("/login");
  await ob.post("/login", { email: other.email, password: PASSWORD });
  assert.equal((await ob.get(segUrl)).status, 404);
  assert.equal((await ob.get(`/lists/${listId}`)).status, 404);
});

Deno.test({
  name: "browser: the segment builder's count updates live as conditions change",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withBrowser(t, async (browser, base) => {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      await signIn(page, base, org.email, PASSWORD);
      await page.goto(`${base}/segments/new`);
      const count = page.locator('[data-testid="live-count"]');
      await page.selectOption('select[name="kind"]', "tag");
      await page.fill('input[name="value"]', "alumni");
      await page.waitForFunction(() =>
        document.querySelector('[data-testid="live-count"]')?.textContent === "2 people"
      );
      await shot(page, "20-segment-builder-live-count");
      await page.selectOption('select[name="negate"]', "yes");
      await page.waitForFunction(() =>
        document.querySelector('[data-testid="live-count"]')?.textContent === "1 person"
      );
      assert.equal(await count.textContent(), "1 person");
    });
  },
});
