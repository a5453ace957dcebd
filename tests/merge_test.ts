// Merging duplicates: everything of B moves to A in one transaction, B is gone, audited.
import assert from "node:assert/strict";
import { apiClient, seedTenant, testApp } from "./helpers/app.ts";

const t = await testApp();
const org = await seedTenant(t, { slug: "merge-org" });
const other = await seedTenant(t, { slug: "merge-other" });

// deno-lint-ignore no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;
const call = (key: string, method: string, path: string, body?: unknown) =>
  apiClient(t, key)(method, path, body);
const api = (method: string, path: string, body?: unknown) => call(org.key, method, path, body);

async function person(p: Json) {
  const r = await api("POST", "/persons", p);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

async function listWith(name: string, ...ids: string[]) {
  const list = await t.deps.db.insertInto("lists").values({
    tenant_id: org.tenant.id,
    id: crypto.randomUUID(),
    name,
    created_at: new Date(),
    updated_at: new Date(),
  }).returning("id").executeTakeFirstOrThrow();
  for (const id of ids) {
    await t.deps.db.insertInto("list_members").values({
      tenant_id: org.tenant.id,
      list_id: list.id,
      person_id: id,
      added_at: new Date(),
    }).execute();
  }
  return list.id;
}

Deno.test("merge moves B's addresses, notes, tags and lists to A; B is gone", async () => {
  const a = await person({
    first_name: "Anna",
    last_name: "Berg",
    organisation: "",
    tags: ["alumni"],
    addresses: [{ address: "anna.berg@uni.se" }],
  });
  const b = await person({
    first_name: "Anna",
    last_name: "Berg",
    organisation: "Uppsala universitet",
    tags: ["staff", "alumni"],
    addresses: [{ address: "anna.berg@gmail.example" }, { address: "ab@old.example" }],
  });
  await api("POST", `/persons/${b.id}/notes`, { body: "Called about the reunion" });
  const both = await listWith("Newsletter", a.id, b.id);
  const onlyB = await listWith("Board", b.id);

  const r = await api("POST", `/persons/${a.id}/merge`, { from: b.id });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const m = r.body;
  assert.deepEqual(m.addresses.map((x: Json) => [x.address, x.is_primary]), [
    ["anna.berg@uni.se", true],
    ["anna.berg@gmail.example", false],
    ["ab@old.example", false],
  ]);
  assert.equal(m.organisation, "Uppsala universitet", "B fills what A lacked");
  assert.deepEqual([...m.tags].sort(), ["alumni", "staff"]);

  assert.equal((await api("GET", `/persons/${b.id}`)).status, 404);
  const notes = (await api("GET", `/persons/${a.id}/notes`)).body.items;
  assert.ok(notes.some((n: Json) => n.body === "Called about the reunion"));
  assert.ok(notes.some((n: Json) => n.kind === "system" && /merged/.test(n.body)));
  const members = await t.deps.db.selectFrom("list_members").select(["list_id", "person_id"])
    .where("tenant_id", "=", org.tenant.id).where("list_id", "in", [both, onlyB]).execute();
  assert.deepEqual(
    members.map((x) => [x.list_id, x.person_id]).sort(),
    [[both, a.id], [onlyB, a.id]].sort(),
    "one membership each, all A's",
  );
  const log = await t.deps.db.selectFrom("audit_log").select(["action", "details"])
    .where("tenant_id", "=", org.tenant.id).where("action", "=", "person.merge").execute();
  assert.equal(log.length, 1);
});

Deno.test("merge can keep the other person's primary address as the sending one", async () => {
  const a = await person({ first_name: "Lars", addresses: [{ address: "lars@old.example" }] });
  const b = await person({ first_name: "Lars", addresses: [{ address: "lars@new.example" }] });
  const r = await api("POST", `/persons/${a.id}/merge`, { from: b.id, primary: "other" });
  assert.deepEqual(
    r.body.addresses.filter((x: Json) => x.is_primary).map((x: Json) => x.address),
    ["lars@new.example"],
  );
});

Deno.test("merge refuses itself, other tenants' persons and non-active persons, changing nothing", async () => {
  const a = await person({ first_name: "Solo", addresses: [{ address: "solo@x.example" }] });
  const self = await api("POST", `/persons/${a.id}/merge`, { from: a.id });
  assert.equal(self.status, 400);

  const foreign = await call(other.key, "POST", "/persons", {
    addresses: [{ address: "f@x.example" }],
  });
  const cross = await api("POST", `/persons/${a.id}/merge`, { from: foreign.body.id });
  assert.equal(cross.status, 404);
  assert.equal((await call(other.key, "GET", `/persons/${foreign.body.id}`)).status, 200);

  const gone = await person({ first_name: "Gone", addresses: [{ address: "gone@x.example" }] });
  await api("POST", `/persons/${gone.id}/lifecycle`, { action: "deceased" });
  const dead = await api("POST", `/persons/${a.id}/merge`, { from: gone.id });
  assert.equal(dead.status, 409);
  assert.equal((await api("GET", `/persons/${gone.id}`)).body.status, "deceased");
});

Deno.test("the duplicates view finds same name + organisation and same local part", async () => {
  const x = await person({
    first_name: "Erik",
    last_name: "Lind",
    organisation: "KTH",
    addresses: [{ address: "erik.lind@kth.example" }],
  });
  const y = await person({ first_name: "erik", last_name: "LIND", organisation: "kth" });
  const z = await person({ first_name: "E.", addresses: [{ address: "Erik.Lind@gmail.example" }] });
  const groups = (await api("GET", "/duplicates")).body.items as Json[];
  const sets = groups.map((g) => [g.reason, g.persons.map((p: Json) => p.id).sort().join()]);
  assert.ok(
    sets.some(([r, ids]) =>
      r === "same_name_and_organisation" && ids === [x.id, y.id].sort().join()
    ),
  );
  assert.ok(sets.some(([r, ids]) => r === "same_local_part" && ids === [x.id, z.id].sort().join()));
  assert.equal((await call(other.key, "GET", "/duplicates")).body.items.length, 0);
});
