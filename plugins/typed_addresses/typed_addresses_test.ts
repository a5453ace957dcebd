// typed_addresses end to end: add-on gating, one address per type per person, a mailing sent to
// the work address (persons without one excluded, or given their primary with fallback) with
// the count before sending agreeing, the compose form keeping the choice, CSV import into a
// type, segments on "has a work address", and the person's panel in a real browser.
import assert from "node:assert/strict";
import { apiClient, PASSWORD, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { typedAddressesPlugin } from "./mod.ts";
import { createPerson, getPerson, markUndeliverable } from "../../core/people/persons.ts";
import { createSender, verifySender } from "../../core/mailings/senders.ts";
import { createImport, setMapping, startImport } from "../../core/people/import.ts";
import { countSegment } from "../../core/people/segments.ts";
import { hasChromium, shot, signIn, withBrowser } from "../../tests/helpers/browser.ts";

const t = await testApp({ plugins: [typedAddressesPlugin] });

async function org(addons: string[]) {
  const o = await seedTenant(t, { addons, scopes: ["read", "write", "send", "admin"] });
  const tid = o.tenant.id;
  const sender = await createSender(t.deps, tid, { name: "Uni", address: "news@uni.example" }, "t");
  await verifySender(t.deps, tid, sender.id, "t");
  const person = (first: string, addresses: string[]) =>
    createPerson(t.deps, tid, {
      first_name: first,
      addresses: addresses.map((address) => ({ address })),
    }, "t");
  return { ...o, tid, api: apiClient(t, o.key), person };
}

const typed = async (o: Awaited<ReturnType<typeof org>>, personId: string) =>
  Object.fromEntries(
    (await getPerson(t.deps, o.tid, personId)).addresses.map((a) => [a.address, a.type]),
  );

Deno.test("without the add-on: 403, and the send uses primary addresses", async () => {
  const o = await org([]);
  const p = await o.person("Ann", ["ann@home.example"]);
  const r = await o.api("GET", `/typed-addresses/persons/${p.id}`);
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, "plugin_not_enabled");
});

Deno.test("address types: one address per type per person, moved in one call", async () => {
  const o = await org(["typed_addresses"]);
  const p = await o.person("Ann", ["ann@home.example", "ann@work.example", "ann@uni.example"]);
  const ids = Object.fromEntries(
    (await getPerson(t.deps, o.tid, p.id)).addresses.map((a) => [a.address, a.id]),
  );
  let r = await o.api("PUT", `/typed-addresses/persons/${p.id}`, {
    types: { [ids["ann@work.example"]!]: "work", [ids["ann@uni.example"]!]: "student" },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(await typed(o, p.id), {
    "ann@home.example": null,
    "ann@work.example": "work",
    "ann@uni.example": "student",
  });
  // "work" moves to another address: the old one loses it.
  r = await o.api("PUT", `/typed-addresses/persons/${p.id}`, {
    types: { [ids["ann@home.example"]!]: "work" },
  });
  assert.equal(r.status, 200);
  assert.equal((await typed(o, p.id))["ann@work.example"], null);
  assert.equal((await typed(o, p.id))["ann@home.example"], "work");
  // The same type twice in one call, an unknown type, another person's address: field errors.
  r = await o.api("PUT", `/typed-addresses/persons/${p.id}`, {
    types: { [ids["ann@home.example"]!]: "private", [ids["ann@uni.example"]!]: "private" },
  });
  assert.equal(r.status, 400);
  assert.match(r.body.error.details[0].path, /^types\./);
  r = await o.api("PUT", `/typed-addresses/persons/${p.id}`, {
    types: { [ids["ann@home.example"]!]: "holiday" },
  });
  assert.equal(r.status, 400);
  const other = await o.person("Bo", ["bo@home.example"]);
  r = await o.api("PUT", `/typed-addresses/persons/${other.id}`, {
    types: { [ids["ann@home.example"]!]: "work" },
  });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.details[0].code, "unknown_address");
});

Deno.test("a mailing sent to the work address: excluded without one, or the primary", async () => {
  const o = await org(["typed_addresses"]);
  const ann = await o.person("Ann", ["ann@home.example", "ann@work.example"]);
  const bo = await o.person("Bo", ["bo@home.example"]);
  const cy = await o.person("Cy", ["cy@work.example"]); // the primary is also the work address
  for (const p of [ann, cy]) {
    const a = (await getPerson(t.deps, o.tid, p.id)).addresses
      .find((x) => x.address.endsWith("@work.example"))!;
    await o.api("PUT", `/typed-addresses/persons/${p.id}`, { types: { [a.id]: "work" } });
  }
  const create = async () =>
    (await o.api("POST", "/mailings", {
      from_address: "news@uni.example",
      subject: "Hello",
      body_html: "<p>Hi</p>",
      recipients: { persons: [ann.id, bo.id, cy.id] },
    })).body;

  const strict = await create();
  let r = await o.api("PUT", `/typed-addresses/mailings/${strict.id}`, {
    version: strict.version,
    choice: { type: "work" },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const count = await o.api("GET", `/mailings/${strict.id}/recipients/count`);
  assert.equal(count.body.total, 2);
  assert.deepEqual(count.body.excluded, { "typed_addresses.no_address_of_type": 1 });
  r = await o.api("POST", `/mailings/${strict.id}/send`, {});
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const queued = async (sendId: string) =>
    (await t.deps.db.selectFrom("send_queue").select("address").where("tenant_id", "=", o.tid)
      .where("send_id", "=", sendId).orderBy("address").execute()).map((x) => x.address);
  assert.deepEqual(await queued(r.body.send_id), ["ann@work.example", "cy@work.example"]);
  assert.deepEqual(r.body.excluded, count.body.excluded, "the send agrees with the count");

  const lenient = await create();
  r = await o.api("PUT", `/typed-addresses/mailings/${lenient.id}`, {
    version: lenient.version,
    choice: { type: "work", fallback: true },
  });
  // The compose form saves recipients without plugin options: the choice stays.
  r = await o.api("PATCH", `/mailings/${lenient.id}`, {
    version: r.body.version,
    recipients: { persons: [ann.id, bo.id, cy.id] },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.recipients.plugins, {
    typed_addresses: { type: "work", fallback: true },
  });
  r = await o.api("POST", `/mailings/${lenient.id}/send`, {});
  assert.deepEqual(await queued(r.body.send_id), [
    "ann@work.example",
    "bo@home.example",
    "cy@work.example",
  ]);

  // A bad choice is a field error naming it.
  const bad = await create();
  r = await o.api("PUT", `/typed-addresses/mailings/${bad.id}`, {
    version: bad.version,
    choice: { type: "holiday" },
  });
  assert.equal(r.status, 400);
  assert.match(JSON.stringify(r.body.error.details), /choice\.type/);
});

Deno.test("CSV import targets a type; segments find persons with a work address", async () => {
  const o = await org(["typed_addresses"]);
  const csv = "email;work email\nann@home.example;ann@work.example\nbo@home.example;\n";
  const imp = await createImport(t.deps, o.tid, {
    filename: "people.csv",
    body: new Blob([csv]).stream(),
  }, "t");
  await setMapping(t.deps, o.tid, imp.id, { columns: ["email", "email.work"] });
  for (const apply of [false, true]) {
    const { done } = await startImport(t.deps, o.tid, imp.id, { apply }, "t");
    await done;
  }
  const ann = await o.api("GET", "/persons?q=ann@");
  const annId = ann.body.items[0].id;
  assert.deepEqual(await typed(o, annId), { "ann@home.example": null, "ann@work.example": "work" });

  const definition = { op: "and", conditions: [{ has_address: true, type: "work" }] };
  assert.equal(await countSegment(t.deps, o.tid, definition), 1);

  // A tenant without the add-on cannot map a column to a type.
  const plain = await org([]);
  const imp2 = await createImport(t.deps, plain.tid, {
    filename: "p.csv",
    body: new Blob([csv]).stream(),
  }, "t");
  await assert.rejects(
    setMapping(t.deps, plain.tid, imp2.id, { columns: ["email", "email.work"] }),
    (e: Error & { details?: { code: string }[] }) =>
      e.details?.[0]?.code === "unknown_address_type",
  );
});

Deno.test({
  name: "browser: the person's panel sets the work address",
  ignore: !hasChromium,
  async fn() {
    const o = await org(["typed_addresses"]);
    const p = await o.person("Ann", ["ann@home.example", "ann@work.example"]);
    await withBrowser(t, async (browser, base) => {
      const page = await browser.newPage();
      await signIn(page, base, o.email, PASSWORD);
      await page.goto(`${base}/people/${p.id}`);
      const panel = page.locator("[data-testid=typed-addresses-panel]");
      await panel.locator('select[data-address="ann@work.example"]').selectOption("work");
      await panel.locator("button[type=submit]").click();
      await page.waitForURL(`${base}/people/${p.id}`);
      await shot(page, "typed-addresses-person");
      assert.equal(
        await page.locator('[data-testid=addresses] [data-type="work"]').count(),
        1,
        "the address list shows the work badge",
      );
      assert.equal((await typed(o, p.id))["ann@work.example"], "work");
    });
  },
});

Deno.test("fallback passes over a bounced work address to a working primary", async () => {
  const o = await org(["typed_addresses"]);
  const di = await o.person("Di", ["di@home.example", "di@work.example"]);
  const work = (await getPerson(t.deps, o.tid, di.id)).addresses
    .find((x) => x.address === "di@work.example")!;
  await o.api("PUT", `/typed-addresses/persons/${di.id}`, { types: { [work.id]: "work" } });
  await markUndeliverable(t.deps, o.tid, "di@work.example", "550 5.1.1 no such user");
  const count = async (fallback: boolean) => {
    const m = (await o.api("POST", "/mailings", {
      from_address: "news@uni.example",
      subject: "Hello",
      body_html: "<p>Hi</p>",
      recipients: { persons: [di.id] },
    })).body;
    await o.api("PUT", `/typed-addresses/mailings/${m.id}`, {
      version: m.version,
      choice: { type: "work", fallback },
    });
    return (await o.api("GET", `/mailings/${m.id}/recipients/count`)).body;
  };
  assert.deepEqual((await count(true)).total, 1);
  const strict = await count(false);
  assert.equal(strict.total, 0);
  assert.deepEqual(strict.excluded, { undeliverable: 1 });
});

Deno.test("import: a typed column moves the type; the plain email column stays primary", async () => {
  const o = await org(["typed_addresses"]);
  const ann = await o.person("Ann", ["ann@home.example", "ann@old-work.example"]);
  const old = (await getPerson(t.deps, o.tid, ann.id)).addresses
    .find((x) => x.address === "ann@old-work.example")!;
  await o.api("PUT", `/typed-addresses/persons/${ann.id}`, { types: { [old.id]: "work" } });
  // The typed column comes first in the file; the new person's primary is still the plain one.
  const csv =
    "work;email\nann@new-work.example;ann@home.example\nbo@work.example;bo@home.example\n";
  const imp = await createImport(t.deps, o.tid, {
    filename: "p.csv",
    body: new Blob([csv]).stream(),
  }, "t");
  await setMapping(t.deps, o.tid, imp.id, { columns: ["email.work", "email"] });
  for (const apply of [false, true]) {
    await (await startImport(t.deps, o.tid, imp.id, { apply }, "t")).done;
  }
  assert.deepEqual(await typed(o, ann.id), {
    "ann@home.example": null,
    "ann@old-work.example": null,
    "ann@new-work.example": "work",
  });
  const bo = (await o.api("GET", "/persons?q=bo@")).body.items[0];
  const boAddresses = (await getPerson(t.deps, o.tid, bo.id)).addresses;
  assert.equal(boAddresses.find((a) => a.is_primary)?.address, "bo@home.example");
  assert.equal(boAddresses.find((a) => a.type === "work")?.address, "bo@work.example");
});
