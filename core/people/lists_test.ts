// Static lists: names, bulk membership limited to the tenant's active persons, paging, deletion.
import assert from "node:assert/strict";
import { uuidv7 } from "../db/ids.ts";
import { AppError } from "../errors.ts";
import type { PersonStatus } from "../db/schema.ts";
import { seedTenant, testApp } from "../../tests/helpers/app.ts";
import {
  addListMembers,
  createList,
  deleteList,
  getList,
  listLists,
  listMembers,
  removeListMembers,
  renameList,
} from "./lists.ts";
import { createSegment, deleteSegment } from "./saved_segments.ts";

const t = await testApp();
const db = t.deps.db;
const A = (await seedTenant(t, { slug: "list-a" })).tenant.id;
const B = (await seedTenant(t, { slug: "list-b" })).tenant.id;

async function person(tenantId: string, first: string, status: PersonStatus = "active") {
  const id = uuidv7();
  await db.insertInto("persons").values({
    tenant_id: tenantId,
    id,
    first_name: first,
    status,
    created_at: new Date(),
    updated_at: new Date(),
  }).execute();
  if (first !== "Nomail") {
    await db.insertInto("person_addresses").values({
      tenant_id: tenantId,
      id: uuidv7(),
      person_id: id,
      address: `${first}@example.org`,
      address_key: `${first.toLowerCase()}@example.org`,
      is_primary: true,
      created_at: new Date(),
    }).execute();
  }
  return id;
}

const [anna, bo, cia, nomail] = [
  await person(A, "Anna"),
  await person(A, "Bo"),
  await person(A, "Cia"),
  await person(A, "Nomail"),
];
const gone = await person(A, "Gone", "deleted");
const dead = await person(A, "Dead", "deceased");
const karl = await person(B, "Karl");

const codeOf = async (run: () => Promise<unknown>) => {
  try {
    await run();
  } catch (e) {
    if (e instanceof AppError) return e.code;
    throw e;
  }
  throw new Error("expected an AppError");
};

Deno.test("names are trimmed, unique per tenant case-insensitively, and renamable", async () => {
  const l = await createList(t.deps, A, { name: " Customers " }, "test");
  assert.equal(l.name, "Customers");
  assert.equal(await codeOf(() => createList(t.deps, A, { name: "CUSTOMERS" }, "t")), "conflict");
  const inB = await createList(t.deps, B, { name: "customers" }, "test");
  const other = await createList(t.deps, A, { name: "Other" }, "test");
  assert.equal(
    await codeOf(() => renameList(t.deps, A, other.id, { name: "customers" }, "t")),
    "conflict",
  );
  assert.equal(
    (await renameList(t.deps, A, other.id, { name: "Prospects" }, "t")).name,
    "Prospects",
  );
  // Renaming to its own name in another case is fine.
  assert.equal((await renameList(t.deps, A, l.id, { name: "customers" }, "t")).name, "customers");

  const p1 = await listLists(t.deps, A, { limit: 1 });
  const p2 = await listLists(t.deps, A, { limit: 1, cursor: p1.next_cursor! });
  assert.deepEqual([...p1.items, ...p2.items].map((x) => x.name), ["customers", "Prospects"]);
  assert.equal(p2.next_cursor, null);

  for (const [tenant, id] of [[A, l.id], [A, other.id], [B, inB.id]] as const) {
    await deleteList(t.deps, tenant, id, "test");
  }
});

Deno.test("bulk add takes the tenant's active persons only and reports the rest", async () => {
  const l = await createList(t.deps, A, { name: "Bulk" }, "test");
  const r = await addListMembers(t.deps, A, l.id, {
    person_ids: [anna, bo, bo, gone, dead, karl, "0193e5a0-0000-7000-8000-000000000000"],
  }, "test");
  assert.deepEqual(r, {
    added: 2,
    unchanged: 0,
    not_found: [karl, "0193e5a0-0000-7000-8000-000000000000"],
    not_active: [gone, dead].sort(),
  });
  const again = await addListMembers(t.deps, A, l.id, { person_ids: [anna, cia] }, "test");
  assert.deepEqual(again, { added: 1, unchanged: 1, not_found: [], not_active: [] });

  const rows = await db.selectFrom("list_members").select(["tenant_id", "person_id"])
    .where("list_id", "=", l.id).execute();
  assert.deepEqual(rows.map((m) => m.person_id).sort(), [anna, bo, cia].sort());
  assert.ok(rows.every((m) => m.tenant_id === A));
  assert.equal((await getList(t.deps, A, l.id)).member_count, 3);

  // Tenant B can neither see A's list nor add its own person to it.
  assert.equal(await codeOf(() => getList(t.deps, B, l.id)), "not_found");
  assert.equal(
    await codeOf(() => addListMembers(t.deps, B, l.id, { person_ids: [karl] }, "t")),
    "not_found",
  );
  assert.equal(
    await codeOf(() => removeListMembers(t.deps, B, l.id, { person_ids: [anna] }, "t")),
    "not_found",
  );
  assert.equal(await codeOf(() => listMembers(t.deps, B, l.id, { limit: 10 })), "not_found");
  assert.equal(await codeOf(() => deleteList(t.deps, B, l.id, "t")), "not_found");

  assert.deepEqual(
    await removeListMembers(t.deps, A, l.id, { person_ids: [bo, karl, nomail] }, "test"),
    { removed: 1 },
  );
  assert.equal((await getList(t.deps, A, l.id)).member_count, 2);
  await assert.rejects(
    () => addListMembers(t.deps, A, l.id, { person_ids: ["not-a-uuid"] }, "t"),
    (e: unknown) => (e as Error).name === "ZodError",
  );
  await deleteList(t.deps, A, l.id, "test");
});

Deno.test("members page in id order; a soft-deleted member is hidden until restored", async () => {
  const l = await createList(t.deps, A, { name: "Paged" }, "test");
  await addListMembers(t.deps, A, l.id, { person_ids: [anna, bo, cia, nomail] }, "test");
  const first = await listMembers(t.deps, A, l.id, { limit: 3 });
  assert.deepEqual(first.items.map((m) => [m.first_name, m.primary_address]), [
    ["Anna", "Anna@example.org"],
    ["Bo", "Bo@example.org"],
    ["Cia", "Cia@example.org"],
  ]);
  const rest = await listMembers(t.deps, A, l.id, { limit: 3, cursor: first.next_cursor! });
  assert.deepEqual(rest.items.map((m) => [m.first_name, m.primary_address]), [["Nomail", null]]);
  assert.equal(rest.next_cursor, null);

  await db.updateTable("persons").set({ status: "deleted" }).where("id", "=", bo).execute();
  assert.equal((await getList(t.deps, A, l.id)).member_count, 3);
  await db.updateTable("persons").set({ status: "active" }).where("id", "=", bo).execute();
  assert.equal((await getList(t.deps, A, l.id)).member_count, 4);
  await deleteList(t.deps, A, l.id, "test");
});

Deno.test("a list a saved segment uses cannot be deleted until the segment lets go", async () => {
  const l = await createList(t.deps, A, { name: "Used" }, "test");
  await addListMembers(t.deps, A, l.id, { person_ids: [anna] }, "test");
  const seg = await createSegment(t.deps, A, {
    name: "Uses the list deep down",
    definition: {
      op: "or",
      conditions: [{ op: "and", conditions: [{ list: l.id, member: true }] }],
    },
  }, "test");
  try {
    await deleteList(t.deps, A, l.id, "test");
    assert.fail("expected a conflict");
  } catch (e) {
    assert.ok(e instanceof AppError);
    assert.equal(e.code, "conflict");
    assert.deepEqual(e.details, {
      reason: "list_in_use",
      segments: [{ id: seg.id, name: "Uses the list deep down" }],
    });
  }
  await deleteSegment(t.deps, A, seg.id, "test");
  await deleteList(t.deps, A, l.id, "test");
  assert.equal(await codeOf(() => getList(t.deps, A, l.id)), "not_found");
  const left = await db.selectFrom("list_members").select("person_id").where("list_id", "=", l.id)
    .execute();
  assert.deepEqual(left, []);
});

Deno.test.afterAll(() => t.close());
