// Persons through the API: unique addresses, primary switching, undeliverable, lifecycle rules.
import assert from "node:assert/strict";
import { markUndeliverable } from "../core/people/persons.ts";
import { createApiKey } from "../core/auth/api_keys.ts";
import { apiClient, seedTenant, testApp } from "./helpers/app.ts";

const t = await testApp();
const org = await seedTenant(t, { slug: "people-org", scopes: ["read", "write", "admin"] });
// A key of the same tenant without the admin scope: staff, not administrators.
const staffKey = (await createApiKey(t.deps, {
  tenantId: org.tenant.id,
  name: "staff",
  scopes: ["read", "write"],
})).key;
const other = await seedTenant(t, { slug: "people-other" });

// deno-lint-ignore no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;
const call = (key: string, method: string, path: string, body?: unknown) =>
  apiClient(t, key)(method, path, body);
const api = (method: string, path: string, body?: unknown) => call(org.key, method, path, body);

async function person(first: string, last: string, ...addresses: string[]) {
  const r = await api("POST", "/persons", {
    first_name: first,
    last_name: last,
    addresses: addresses.map((address) => ({ address })),
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

Deno.test("addresses are normalised and the first one is primary", async () => {
  const p = await person("Åsa", "Öberg", "  Asa.Oberg@Exämple.SE ", "asa@home.example");
  assert.deepEqual(p.addresses.map((a: Json) => [a.address, a.is_primary]), [
    ["Asa.Oberg@xn--exmple-cua.se", true],
    ["asa@home.example", false],
  ]);
  const got = await api("GET", `/persons/${p.id}`);
  assert.equal(got.status, 200);
  assert.equal(got.body.first_name, "Åsa");
});

Deno.test("an address belongs to one person per tenant; the error names the holder", async () => {
  const holder = await person("Matti", "Meikäläinen", "matti@uni.fi");
  const dup = await api("POST", "/persons", {
    first_name: "Other",
    addresses: [{ address: "MATTI@UNI.FI" }],
  });
  assert.equal(dup.status, 409);
  assert.equal(dup.body.error.code, "address_taken");
  assert.match(dup.body.error.message, /matti@uni\.fi.*Matti Meikäläinen/i);
  assert.ok(dup.body.error.details.some((d: Json) => d.path === "addresses.0.address"));
  assert.ok(dup.body.error.details.some((d: Json) => d.message === holder.id));
  // Nothing half-written: the failed create left no person behind.
  const search = await api("GET", "/persons?q=Other");
  assert.equal(search.body.items.length, 0);

  const second = await person("Maija", "Virtanen", "maija@uni.fi");
  const add = await api("POST", `/persons/${second.id}/addresses`, { address: "matti@uni.fi" });
  assert.equal(add.status, 409);
  // Another tenant may have the same address: uniqueness is per tenant.
  const elsewhere = await call(other.key, "POST", "/persons", {
    addresses: [{ address: "matti@uni.fi" }],
  });
  assert.equal(elsewhere.status, 201);
});

Deno.test("invalid addresses are refused with the field and the reason", async () => {
  const r = await api("POST", "/persons", {
    first_name: "Bad",
    addresses: [{ address: "ok@example.org" }, { address: "no-at-sign" }],
  });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, "address_invalid");
  const issue = r.body.error.details[0];
  assert.equal(issue.path, "addresses.1.address");
  assert.equal(issue.code, "missing_at");
  assert.match(issue.message, /@/);
  const local = "x".repeat(65);
  const long = await api("POST", "/persons", { addresses: [{ address: `${local}@example.org` }] });
  assert.equal(long.body.error.details[0].code, "local_too_long");
});

Deno.test("staff switch the primary address in one action", async () => {
  const p = await person("Pekka", "Pouta", "pekka@work.fi", "pekka@home.fi");
  const home = p.addresses.find((a: Json) => a.address === "pekka@home.fi");
  const r = await api("POST", `/persons/${p.id}/addresses/${home.id}/primary`);
  assert.equal(r.status, 200);
  assert.deepEqual(
    r.body.addresses.filter((a: Json) => a.is_primary).map((a: Json) => a.address),
    ["pekka@home.fi"],
  );
  // Removing the primary promotes the other one.
  const removed = await api("DELETE", `/persons/${p.id}/addresses/${home.id}`);
  assert.deepEqual(removed.body.addresses.map((a: Json) => [a.address, a.is_primary]), [
    ["pekka@work.fi", true],
  ]);
});

Deno.test("undeliverable: flagged by bounce handling, cleared only by an admin, noted", async () => {
  const p = await person("Bo", "Studsare", "bo@bounce.example");
  assert.equal(
    await markUndeliverable(t.deps, org.tenant.id, "BO@bounce.example", "550 5.1.1"),
    true,
  );
  const flagged = await api("GET", `/persons/${p.id}`);
  const a = flagged.body.addresses[0];
  assert.ok(a.undeliverable_at);
  assert.equal(a.undeliverable_reason, "550 5.1.1");
  const list = await api("GET", "/persons?q=studsare");
  assert.ok(list.body.items[0].undeliverable_at, "the list shows the block");

  // Staff without the admin scope may not unblock.
  const denied = await call(
    staffKey,
    "POST",
    `/persons/${p.id}/addresses/${a.id}/clear-undeliverable`,
  );
  assert.equal(denied.status, 403);

  const cleared = await api("POST", `/persons/${p.id}/addresses/${a.id}/clear-undeliverable`);
  assert.equal(cleared.status, 200);
  const c = cleared.body.addresses[0];
  assert.equal(c.undeliverable_at, null);
  assert.ok(c.cleared_at);
  assert.match(c.cleared_by, /api-key|key/);
  const notes = await api("GET", `/persons/${p.id}/notes`);
  assert.equal(notes.body.items[0].kind, "system");
  assert.match(notes.body.items[0].body, /bo@bounce\.example/);
});

Deno.test("deceased: addresses and contact details go, the profile and history stay", async () => {
  const p = await person("Gustav", "Vasa", "gustav@kungen.se", "g@vasa.se");
  await api("POST", `/persons/${p.id}/notes`, { body: "Met at the alumni dinner" });
  const r = await api("POST", `/persons/${p.id}/lifecycle`, { action: "deceased" });
  assert.equal(r.status, 200);
  assert.equal(r.body.status, "deceased");
  assert.equal(r.body.first_name, "Gustav");
  assert.deepEqual(r.body.addresses, []);
  const notes = await api("GET", `/persons/${p.id}/notes`);
  assert.equal(notes.body.items.length, 1);
  // The freed addresses can be used again.
  await person("New", "Owner", "gustav@kungen.se");
  // A deceased person cannot be given addresses or be restored.
  const add = await api("POST", `/persons/${p.id}/addresses`, { address: "again@vasa.se" });
  assert.equal(add.status, 409);
  assert.equal(add.body.error.code, "person_not_active");
  const undo = await api("POST", `/persons/${p.id}/lifecycle`, { action: "restore" });
  assert.equal(undo.status, 409);
});

Deno.test("purged: personal data erased, an anonymous stub remains (admins only)", async () => {
  const p = await person("Erika", "Glömd", "erika@gdpr.example");
  await api("PATCH", `/persons/${p.id}`, { organisation: "Lund", tags: ["alumni"] });
  await api("POST", `/persons/${p.id}/notes`, { body: "Private remark" });
  const notAdmin = await call(staffKey, "POST", `/persons/${p.id}/lifecycle`, {
    action: "purge",
  });
  assert.equal(notAdmin.status, 403);
  const r = await api("POST", `/persons/${p.id}/lifecycle`, { action: "purge" });
  assert.equal(r.status, 200);
  const stub = r.body;
  assert.equal(stub.status, "purged");
  for (const field of ["first_name", "last_name", "organisation", "title"]) {
    assert.equal(stub[field], "", field);
  }
  assert.deepEqual([stub.addresses, stub.tags, stub.custom], [[], [], {}]);
  assert.equal((await api("GET", `/persons/${p.id}/notes`)).body.items.length, 0);
  const found = await api("GET", "/persons?q=erika&status=any");
  assert.equal(found.body.items.length, 0, "nothing left to find her by");
});

Deno.test("deleted: undo restores the person as before, minus addresses taken since", async () => {
  const p = await person("Karin", "Månsdotter", "karin@slott.se", "karin@hem.se");
  const del = await api("POST", `/persons/${p.id}/lifecycle`, { action: "delete" });
  assert.equal(del.body.status, "deleted");
  assert.equal(del.body.addresses.length, 2, "addresses stay with the deleted profile");
  assert.equal((await api("GET", "/persons?q=karin")).body.items.length, 0);

  // Someone else gets one of her addresses: it moves there.
  const taker = await person("Erik", "XIV", "karin@hem.se");
  assert.equal(taker.addresses[0].address, "karin@hem.se");

  const undo = await api("POST", `/persons/${p.id}/lifecycle`, { action: "restore" });
  assert.equal(undo.status, 200);
  assert.equal(undo.body.status, "active");
  assert.equal(undo.body.first_name, "Karin");
  assert.deepEqual(undo.body.addresses.map((a: Json) => [a.address, a.is_primary]), [
    ["karin@slott.se", true],
  ]);
});

Deno.test("search by any part of a name or the start of any address; tenant-scoped", async () => {
  await person("Anna-Liisa", "Järvinen", "al@jyu.fi", "anna.jarvinen@gmail.example");
  const byName = await api("GET", "/persons?q=liisa j");
  assert.deepEqual(byName.body.items.map((p: Json) => p.last_name), ["Järvinen"]);
  const bySecondary = await api("GET", "/persons?q=anna.jarv");
  assert.equal(bySecondary.body.items.length, 1);
  assert.equal(bySecondary.body.items[0].primary_address, "al@jyu.fi");
  const wildcard = await api("GET", "/persons?q=%25");
  assert.equal(wildcard.body.items.length, 0, "% is a character, not a wildcard");
  const otherTenant = await call(other.key, "GET", "/persons?q=liisa");
  assert.equal(otherTenant.body.items.length, 0);
});

Deno.test("custom fields are typed; values of the wrong type name the field", async () => {
  const f = await api("POST", "/custom-fields", {
    key: "student_id",
    label: "Student ID",
    type: "number",
  });
  assert.equal(f.status, 201);
  const ok = await api("POST", "/persons", { first_name: "C", custom: { student_id: 12345 } });
  assert.equal(ok.status, 201);
  assert.deepEqual(ok.body.custom, { student_id: 12345 });
  const bad = await api("POST", "/persons", { custom: { student_id: "abc", shoe: "42" } });
  assert.equal(bad.status, 400);
  assert.deepEqual(
    bad.body.error.details.map((d: Json) => [d.path, d.code]),
    [["custom.student_id", "expected_number"], ["custom.shoe", "unknown_field"]],
  );
});

Deno.test("every person endpoint hides other tenants' persons behind 404", async () => {
  const p = await person("Hidden", "Person", "hidden@org.example");
  const aid = p.addresses[0].id;
  const probes: [string, string, unknown?][] = [
    ["GET", `/persons/${p.id}`],
    ["PATCH", `/persons/${p.id}`, { first_name: "X" }],
    ["POST", `/persons/${p.id}/addresses`, { address: "n@org.example" }],
    ["DELETE", `/persons/${p.id}/addresses/${aid}`],
    ["POST", `/persons/${p.id}/addresses/${aid}/primary`],
    ["POST", `/persons/${p.id}/addresses/${aid}/clear-undeliverable`],
    ["POST", `/persons/${p.id}/lifecycle`, { action: "delete" }],
    ["GET", `/persons/${p.id}/notes`],
    ["POST", `/persons/${p.id}/notes`, { body: "x" }],
  ];
  for (const [method, path, body] of probes) {
    const r = await call(other.key, method, path, body);
    assert.equal(r.status, 404, `${method} ${path}`);
  }
  const still = await api("GET", `/persons/${p.id}`);
  assert.equal(still.body.first_name, "Hidden");
  assert.equal(still.body.status, "active");
});
