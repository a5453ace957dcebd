// Segments in SQL: AND/OR trees, every condition type, custom field typing, LIKE escaping,
// status exclusion, audience dedupe, tenant isolation and validation paths.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { z } from "zod";
import { uuidv7 } from "../db/ids.ts";
import { jsonb } from "../db/json.ts";
import { AppError } from "../errors.ts";
import type { PersonStatus } from "../db/schema.ts";
import { seedTenant, testApp } from "../../tests/helpers/app.ts";
import {
  audiencePredicate,
  audienceQuery,
  compileSegment,
  countSegment,
  previewSegment,
} from "./segments.ts";
import {
  createSegment,
  deleteSegment,
  getSegment,
  listSegments,
  updateSegment,
} from "./saved_segments.ts";
import { addListMembers, createList } from "./lists.ts";
import type { FieldCondition, Group, Match } from "./segment_definition.ts";

const t = await testApp();
const db = t.deps.db;
const A = (await seedTenant(t, { slug: "seg-a" })).tenant.id;
const B = (await seedTenant(t, { slug: "seg-b" })).tenant.id;

interface P {
  first: string;
  last?: string;
  org?: string;
  title?: string;
  language?: string | null;
  tags?: string[];
  custom?: Record<string, unknown>;
  status?: PersonStatus;
  created?: string;
  updated?: string;
  addresses?: { address: string; type?: string }[];
}

async function person(tenantId: string, p: P): Promise<string> {
  const id = uuidv7();
  await db.insertInto("persons").values({
    tenant_id: tenantId,
    id,
    first_name: p.first,
    last_name: p.last ?? "",
    organisation: p.org ?? "",
    title: p.title ?? "",
    language: p.language ?? null,
    tags: p.tags ?? [],
    custom: jsonb(p.custom ?? {}),
    status: p.status ?? "active",
    created_at: p.created ?? "2024-06-01T12:00:00Z",
    updated_at: p.updated ?? p.created ?? "2024-06-01T12:00:00Z",
  }).execute();
  for (const [i, a] of (p.addresses ?? []).entries()) {
    await db.insertInto("person_addresses").values({
      tenant_id: tenantId,
      id: uuidv7(),
      person_id: id,
      address: a.address,
      address_key: a.address.toLowerCase(),
      is_primary: i === 0,
      type: a.type ?? null,
      created_at: new Date(),
    }).execute();
  }
  return id;
}

for (
  const [key, type] of [["size", "number"], ["member", "boolean"], ["joined", "date"], [
    "note",
    "text",
  ]] as const
) {
  await db.insertInto("custom_fields").values({
    tenant_id: A,
    key,
    label: key,
    type,
    created_at: new Date(),
  }).execute();
}

// The hand-built tenant A. Anna was created at 00:30 on 10 January in Stockholm (UTC+1).
const ids: Record<string, string> = {};
const people: P[] = [
  {
    first: "Anna",
    last: "Andersson",
    org: "Acme AB",
    title: "CEO",
    language: "sv",
    tags: ["vip", "newsletter"],
    custom: { size: 5, member: true, joined: "2020-01-01", note: "50% off" },
    created: "2024-01-09T23:30:00Z",
    updated: "2024-05-01T10:00:00Z",
    addresses: [{ address: "anna@acme.example", type: "work" }],
  },
  {
    first: "Bertil",
    last: "Berg",
    org: "Acme AB",
    title: "Engineer",
    language: "en",
    tags: ["newsletter"],
    custom: { size: 10.0, member: false },
    created: "2024-02-01T12:00:00Z",
    addresses: [{ address: "bertil@acme.example" }],
  },
  {
    first: "Cecilia",
    last: "Carlsson",
    org: "Beta_Corp",
    tags: ["vip"],
    custom: { note: "under_score" },
    created: "2024-03-05T12:00:00Z",
    addresses: [{ address: "cecilia@beta.example", type: "private" }],
  },
  { first: "David", last: "Dahl", org: "Gamma 100%", created: "2024-03-20T12:00:00Z" },
  {
    first: "Eva",
    last: "Ek",
    org: "acme ab",
    title: "R\\D",
    tags: ["newsletter"],
    addresses: [{ address: "eva@ek.example" }],
  },
  {
    first: "Fredrik",
    org: "",
    custom: { member: false, note: "" },
    addresses: [{ address: "fredrik@x.example" }, { address: "f@work.example", type: "work" }],
  },
  { first: "Greta", last: "Gran", org: "BetaXCorp", tags: ["vip"] },
  { first: "Hans", last: "Holm", org: "Gamma 1000", language: "fi", title: "RxD" },
  { first: "Ivar", last: "Is", org: "Acme AB", tags: ["vip"], status: "deleted" },
  { first: "Johan", last: "Jul", org: "Acme AB", tags: ["vip"], status: "deceased" },
  { first: "Kim", org: "Acme AB", tags: ["vip"], status: "purged" },
];
for (const p of people) ids[p.first] = await person(A, p);
const karl = await person(B, { first: "Karl", org: "Acme AB", tags: ["vip"] });

const friends = await createList(t.deps, A, { name: "Friends" }, "test");
const press = await createList(t.deps, A, { name: "Press" }, "test");
const bList = await createList(t.deps, B, { name: "B list" }, "test");
await db.insertInto("list_members").values(
  [["Anna", friends], ["Cecilia", friends], ["Ivar", friends], ["David", press], ["Eva", press]]
    .map(([name, list]) => ({
      tenant_id: A,
      list_id: (list as { id: string }).id,
      person_id: ids[name as string]!,
      added_at: new Date(),
    })),
).execute();
await addListMembers(t.deps, B, bList.id, { person_ids: [karl] }, "test");

const and = (...conditions: Group["conditions"]): Group => ({ op: "and", conditions });
const or = (...conditions: Group["conditions"]): Group => ({ op: "or", conditions });

/** First names of tenant A's persons the definition matches, sorted. */
async function names(def: unknown, tenantId = A): Promise<string[]> {
  const filter = await compileSegment(db, tenantId, def);
  const rows = await filter(db.selectFrom("persons as p").select("p.first_name"))
    .orderBy("p.first_name").execute();
  return rows.map((r) => r.first_name);
}

/** The field issues of a failed compile or parse, as "path code". */
async function issues(run: () => Promise<unknown>): Promise<string[]> {
  try {
    await run();
  } catch (e) {
    if (e instanceof z.ZodError) return e.issues.map((i) => `${i.path.join(".")} ${i.code}`);
    if (e instanceof AppError && Array.isArray(e.details)) {
      return e.details.map((d) => `${d.path} ${d.code}`);
    }
    throw e;
  }
  throw new Error("expected a validation error");
}

const ACTIVE = ["Anna", "Bertil", "Cecilia", "David", "Eva", "Fredrik", "Greta", "Hans"];
const field = (f: string, match: Match, value?: string): FieldCondition => ({
  field: f,
  match,
  value,
});

Deno.test("an empty AND matches every active person of the tenant; an empty OR no one", async () => {
  assert.deepEqual(await names(and()), ACTIVE);
  assert.deepEqual(await names(or()), []);
  assert.equal(await countSegment(t.deps, A, and()), 8);
  assert.deepEqual(await names(and(), B), ["Karl"]);
});

Deno.test("AND and OR combine in nested groups", async () => {
  // (organisation is Acme AB AND tag vip) OR member of Friends
  assert.deepEqual(
    await names(or(
      and(field("organisation", "equals", "ACME AB"), { tag: "vip", has: true }),
      { list: friends.id, member: true },
    )),
    ["Anna", "Cecilia"],
  );
  // organisation contains acme AND (no newsletter tag OR title is engineer)
  assert.deepEqual(
    await names(and(
      field("organisation", "contains", "acme"),
      or({ tag: "newsletter", has: false }, field("title", "equals", "engineer")),
    )),
    ["Bertil"],
  );
  // Four levels deep: (vip AND (Friends OR (Press AND NOT organisation empty)))
  assert.deepEqual(
    await names(or(
      and({ tag: "vip", has: true }, { list: friends.id, member: true }),
      and(or(and({ list: press.id, member: true }, field("organisation", "is_not_empty")))),
    )),
    ["Anna", "Cecilia", "David", "Eva"],
  );
});

Deno.test("field conditions: every match, case-insensitive, on every person field", async () => {
  assert.deepEqual(await names(and(field("first_name", "equals", "anna"))), ["Anna"]);
  assert.deepEqual(await names(and(field("last_name", "starts_with", "CA"))), ["Cecilia"]);
  assert.deepEqual(await names(and(field("name", "contains", "a ande"))), ["Anna"]);
  assert.deepEqual(await names(and(field("name", "is_empty"))), []);
  assert.deepEqual(await names(and(field("last_name", "is_empty"))), ["Fredrik"]);
  assert.deepEqual(await names(and(field("organisation", "is_empty"))), ["Fredrik"]);
  assert.deepEqual(
    await names(and(field("organisation", "not_contains", "a"))),
    ["Fredrik"],
  );
  assert.deepEqual(
    await names(and(field("organisation", "not_equals", "acme ab"))),
    ["Cecilia", "David", "Fredrik", "Greta", "Hans"],
  );
  assert.deepEqual(await names(and(field("title", "is_not_empty"))), [
    "Anna",
    "Bertil",
    "Eva",
    "Hans",
  ]);
  assert.deepEqual(await names(and(field("language", "equals", "SV"))), ["Anna"]);
  // A person without a language is "not sv" and "empty".
  assert.deepEqual(await names(and(field("language", "not_equals", "sv"))), [
    "Bertil",
    "Cecilia",
    "David",
    "Eva",
    "Fredrik",
    "Greta",
    "Hans",
  ]);
  assert.deepEqual(await names(and(field("language", "is_not_empty"))), [
    "Anna",
    "Bertil",
    "Hans",
  ]);
});

Deno.test("LIKE wildcards in user values match themselves", async () => {
  assert.deepEqual(await names(and(field("organisation", "contains", "100%"))), ["David"]);
  assert.deepEqual(await names(and(field("organisation", "contains", "%"))), ["David"]);
  assert.deepEqual(await names(and(field("organisation", "contains", "beta_corp"))), [
    "Cecilia",
  ]);
  assert.deepEqual(await names(and(field("organisation", "starts_with", "_"))), []);
  assert.deepEqual(await names(and(field("title", "contains", "\\"))), ["Eva"]);
  assert.deepEqual(await names(and(field("custom.note", "contains", "_"))), ["Cecilia"]);
  assert.deepEqual(await names(and(field("custom.note", "starts_with", "50%"))), ["Anna"]);
});

Deno.test("tag, list, address and date conditions", async () => {
  assert.deepEqual(await names(and({ tag: "vip", has: true })), ["Anna", "Cecilia", "Greta"]);
  assert.deepEqual(await names(and({ tag: "VIP", has: true })), []);
  assert.deepEqual(
    await names(and({ tag: "newsletter", has: false }, { tag: "vip", has: false })),
    [
      "David",
      "Fredrik",
      "Hans",
    ],
  );
  assert.deepEqual(await names(and({ list: press.id, member: true })), ["David", "Eva"]);
  assert.deepEqual(await names(and({ list: friends.id, member: false })), [
    "Bertil",
    "David",
    "Eva",
    "Fredrik",
    "Greta",
    "Hans",
  ]);
  assert.deepEqual(await names(and({ has_address: false })), ["David", "Greta", "Hans"]);
  assert.deepEqual(await names(and({ has_address: true, type: "work" })), ["Anna", "Fredrik"]);
  assert.deepEqual(await names(and({ has_address: false, type: "work" })), [
    "Bertil",
    "Cecilia",
    "David",
    "Eva",
    "Greta",
    "Hans",
  ]);
  // Days are the tenant's (Europe/Stockholm): Anna's 23:30 UTC on the 9th is the 10th there.
  assert.deepEqual(await names(and({ created: { from: "2024-01-10", to: "2024-02-01" } })), [
    "Anna",
    "Bertil",
  ]);
  assert.deepEqual(await names(and({ created: { to: "2024-01-09" } })), []);
  assert.deepEqual(await names(and({ created: { from: "2024-03-01", to: "2024-03-31" } })), [
    "Cecilia",
    "David",
  ]);
  assert.deepEqual(
    await names(and({ created: { from: "2024-01-09T23:00:00Z", to: "2024-01-09T23:59:59Z" } })),
    ["Anna"],
  );
  assert.deepEqual(await names(and({ updated: { from: "2024-04-01", to: "2024-05-01" } })), [
    "Anna",
  ]);
});

Deno.test("custom fields compare by their type", async () => {
  assert.deepEqual(await names(and(field("custom.size", "equals", "5"))), ["Anna"]);
  assert.deepEqual(await names(and(field("custom.size", "equals", "10.00"))), ["Bertil"]);
  assert.deepEqual(await names(and(field("custom.size", "not_equals", "5"))), [
    "Bertil",
    "Cecilia",
    "David",
    "Eva",
    "Fredrik",
    "Greta",
    "Hans",
  ]);
  assert.deepEqual(await names(and(field("custom.size", "is_not_empty"))), ["Anna", "Bertil"]);
  assert.deepEqual(await names(and(field("custom.member", "equals", "false"))), [
    "Bertil",
    "Fredrik",
  ]);
  assert.deepEqual(await names(and(field("custom.joined", "equals", "2020-01-01"))), ["Anna"]);
  assert.deepEqual(await names(and(field("custom.note", "equals", "50% OFF"))), ["Anna"]);
  assert.deepEqual(await names(and(field("custom.note", "is_empty"))), [
    "Bertil",
    "David",
    "Eva",
    "Fredrik",
    "Greta",
    "Hans",
  ]);

  assert.deepEqual(
    await issues(() =>
      names(and(
        field("custom.size", "contains", "5"),
        field("custom.size", "equals", "five"),
        field("custom.member", "equals", "yes"),
        field("custom.joined", "equals", "2020-13-45"),
        or(field("custom.nope", "equals", "x")),
      ))
    ),
    [
      "conditions.0.match text_only",
      "conditions.1.value expected_number",
      "conditions.2.value expected_boolean",
      "conditions.3.value expected_date",
      "conditions.4.conditions.0.field unknown_field",
    ],
  );
  // Another tenant's custom field definitions do not count.
  assert.deepEqual(await issues(() => names(and(field("custom.size", "equals", "5")), B)), [
    "conditions.0.field unknown_field",
  ]);
});

Deno.test("deleted, deceased and purged persons never match", async () => {
  const acme = and(field("organisation", "equals", "acme ab"));
  assert.deepEqual(await names(acme), ["Anna", "Bertil", "Eva"]);
  assert.equal(await countSegment(t.deps, A, acme), 3);
  assert.deepEqual(await names(and({ tag: "vip", has: true })), ["Anna", "Cecilia", "Greta"]);
  // Ivar (deleted) is still a row in Friends, but not a member anyone can send to.
  assert.deepEqual(await names(and({ list: friends.id, member: true })), ["Anna", "Cecilia"]);
});

Deno.test("validation errors name the path of the bad part", async () => {
  assert.deepEqual(
    await issues(() =>
      names(and(
        { tag: "x", has: true },
        { field: "first_name", match: "bogus", value: "x" } as never,
        or({ field: "first_name", match: "equals" }),
        { field: "shoe_size", match: "equals", value: "x" },
        { tag: "y" } as never,
        { colour: "red" } as never,
        { created: {} },
        { created: { from: "2024-02-01", to: "2024-01-01" } },
      ))
    ),
    [
      "conditions.1.match invalid_value",
      "conditions.2.conditions.0.value custom",
      "conditions.3.field invalid_format",
      "conditions.4.has invalid_type",
      "conditions.5 custom",
      "conditions.6.created custom",
      "conditions.7.created.to custom",
    ],
  );
  const tooDeep = and(or(and(or(and({ tag: "x", has: true })))));
  assert.deepEqual(await issues(() => names(tooDeep)), [
    "conditions.0.conditions.0.conditions.0.conditions.0.op custom",
  ]);
  const tooMany = and(
    ...Array.from({ length: 60 }, () => ({ tag: "x", has: true })),
    or(...Array.from({ length: 41 }, () => ({ tag: "y", has: true }))),
  );
  assert.deepEqual(await issues(() => names(tooMany)), ["conditions custom"]);
  // Mailing conditions parse (forward-compatible) but are refused until mailings exist.
  assert.deepEqual(
    await issues(() =>
      names(and({ mailing: "0193e5a0-0000-7000-8000-000000000000", event: "opened" }))
    ),
    ["conditions.0.mailing mailings_not_available"],
  );
  // Another tenant's list is unknown here.
  assert.deepEqual(await issues(() => names(and({ list: bList.id, member: true }))), [
    "conditions.0.list unknown_list",
  ]);
  // Saved segments prefix the path with the body field.
  assert.deepEqual(
    await issues(() =>
      createSegment(t.deps, A, {
        name: "Bad",
        definition: and(field("first_name", "starts_with", "a"), field("custom.nope", "is_empty")),
      }, "test")
    ),
    ["definition.conditions.1.field unknown_field"],
  );
  assert.deepEqual(
    await issues(() =>
      createSegment(t.deps, A, {
        name: "Bad",
        definition: and({ tag: "x", has: "yes" } as never),
      }, "test")
    ),
    ["definition.conditions.0.has invalid_type"],
  );
});

Deno.test("previewSegment pages through matches with their primary address", async () => {
  const def = and({ tag: "newsletter", has: true });
  const first = await previewSegment(t.deps, A, def, { limit: 2 });
  assert.deepEqual(first.items.map((p) => [p.first_name, p.primary_address]), [
    ["Anna", "anna@acme.example"],
    ["Bertil", "bertil@acme.example"],
  ]);
  assert.ok(first.next_cursor);
  const second = await previewSegment(t.deps, A, def, { limit: 2, cursor: first.next_cursor });
  assert.deepEqual(second.items.map((p) => [p.first_name, p.primary_address]), [
    ["Eva", "eva@ek.example"],
  ]);
  assert.equal(second.next_cursor, null);
});

Deno.test("audienceQuery: two overlapping segments and a list give each person once", async () => {
  const acme = await createSegment(t.deps, A, {
    name: "Acme",
    definition: and(field("organisation", "equals", "acme ab")),
  }, "test");
  const vip = await createSegment(t.deps, A, {
    name: "VIP",
    definition: and({ tag: "vip", has: true }),
  }, "test");
  const q = await audienceQuery(db, A, [acme.id, vip.id, vip.id], [friends.id]);
  const rows = await q.execute();
  const byId = new Map(Object.entries(ids).map(([k, v]) => [v, k]));
  assert.deepEqual(rows.map((r) => byId.get(r.person_id)).sort(), [
    "Anna",
    "Bertil",
    "Cecilia",
    "Eva",
    "Greta",
  ]);
  // Usable inside INSERT … SELECT: the send pipeline's expand step.
  const copied = await db.connection().execute(async (conn) => {
    await sql`create temporary table if not exists audience_probe (person_id uuid primary key)`
      .execute(conn);
    const probe = await audienceQuery(conn, A, [acme.id, vip.id], [friends.id, press.id]);
    await sql`insert into audience_probe (person_id) ${probe}`.execute(conn);
    const n = await sql<{ n: number }>`select count(*)::int as n from audience_probe`
      .execute(conn);
    await sql`drop table audience_probe`.execute(conn);
    return n.rows[0]!.n;
  });
  assert.equal(copied, 6); // + David from Press
  assert.equal((await (await audienceQuery(db, A, [], [])).execute()).length, 0);

  // Another tenant's segment or list, or an unknown id, is not found.
  const bSeg = await createSegment(t.deps, B, { name: "B all", definition: and() }, "test");
  await assert.rejects(() => audienceQuery(db, A, [bSeg.id], []), /not_found/);
  await assert.rejects(() => audienceQuery(db, A, [], [bList.id]), /not_found/);
  await assert.rejects(() => audienceQuery(db, A, ["nope"], []), /not_found/);
  assert.deepEqual(
    (await (await audienceQuery(db, B, [bSeg.id], [bList.id])).execute()).map((r) => r.person_id),
    [karl],
  );
  await deleteSegment(t.deps, A, acme.id, "test");
  await deleteSegment(t.deps, A, vip.id, "test");
  await deleteSegment(t.deps, B, bSeg.id, "test");
});

Deno.test("audiencePredicate works in hand-written SQL, anywhere, and keeps every status", async () => {
  const acme = await createSegment(t.deps, A, {
    name: "Acme (predicate)",
    definition: and(field("organisation", "equals", "acme ab")),
  }, "test");
  const vip = await createSegment(t.deps, A, {
    name: "VIP (predicate)",
    definition: and({ tag: "vip", has: true }),
  }, "test");
  const reach = await audiencePredicate(db, A, {
    segments: [acme.id, vip.id],
    lists: [friends.id],
    persons: [ids.Hans!, karl],
  });
  assert.ok(reach);
  const exclude = await audiencePredicate(db, A, { segments: [vip.id] });
  const rows = await sql<{ first_name: string; status: string; excluded: boolean }>`
    select p.first_name, p.status, case when ${exclude} then true else false end as excluded
    from persons p where p.tenant_id = ${A} and ${reach} order by p.first_name`.execute(db);
  assert.deepEqual(
    rows.rows.map((r) => `${r.first_name}${r.status === "active" ? "" : ` (${r.status})`}`),
    [
      "Anna",
      "Bertil",
      "Cecilia",
      "Eva",
      "Greta",
      "Hans",
      "Ivar (deleted)",
      "Johan (deceased)",
      "Kim (purged)",
    ],
  );
  assert.deepEqual(
    rows.rows.filter((r) => r.excluded).map((r) => r.first_name),
    ["Anna", "Cecilia", "Greta", "Ivar", "Johan", "Kim"],
  );
  assert.equal(await audiencePredicate(db, A, {}), null);
  // Another tenant's segment is not found; its persons never match.
  await assert.rejects(() => audiencePredicate(db, B, { segments: [acme.id] }), /not_found/);
  const inB = await audiencePredicate(db, B, { persons: [ids.Anna!] });
  const none = await sql`select 1 from persons p where ${inB}`.execute(db);
  assert.equal(none.rows.length, 0);
  await deleteSegment(t.deps, A, acme.id, "test");
  await deleteSegment(t.deps, A, vip.id, "test");
});

Deno.test("counts, audienceQuery and audiencePredicate agree on trees with lists and addresses", async () => {
  const trees: Group[] = [
    or(
      and(field("organisation", "contains", "acme"), { tag: "vip", has: true }),
      { list: friends.id, member: true },
    ),
    and({ has_address: true }, or({ list: press.id, member: false }, { tag: "vip", has: true })),
    or({ has_address: false, type: "work" }, and({ list: friends.id, member: true })),
    or({ has_address: true, type: "work" }, { has_address: false }, {
      list: press.id,
      member: true,
    }),
  ];
  for (const [i, definition] of trees.entries()) {
    const seg = await createSegment(t.deps, A, { name: `Parity ${i}`, definition }, "test");
    const joined = (await (await audienceQuery(db, A, [seg.id], [])).execute())
      .map((r) => r.person_id).sort();
    const reach = await audiencePredicate(db, A, { segments: [seg.id] });
    const existing = (await sql<{ id: string }>`select p.id from persons p
      where p.status = 'active' and ${reach}`.execute(db)).rows.map((r) => r.id).sort();
    assert.ok(joined.length > 0 && joined.length < ACTIVE.length, `tree ${i} is a real test`);
    assert.deepEqual(joined, existing, `tree ${i}`);
    assert.equal(await countSegment(t.deps, A, definition), joined.length);
    await deleteSegment(t.deps, A, seg.id, "test");
  }
});

Deno.test("saved segments: create, read, list, update, delete; names unique per tenant", async () => {
  const s = await createSegment(t.deps, A, {
    name: "  Newsletter readers ",
    definition: and({ tag: "newsletter", has: true }),
  }, "test");
  assert.equal(s.name, "Newsletter readers");
  assert.deepEqual((await getSegment(t.deps, A, s.id)).definition, s.definition);

  const dup = () =>
    createSegment(t.deps, A, { name: "NEWSLETTER readers", definition: and() }, "test");
  assert.deepEqual(await issues(dup), ["name taken"]);
  await assert.rejects(dup, (e) => e instanceof AppError && e.code === "conflict");
  // Another tenant may use the same name.
  const inB = await createSegment(
    t.deps,
    B,
    { name: "Newsletter readers", definition: and() },
    "t",
  );

  const other = await createSegment(t.deps, A, { name: "Other", definition: or() }, "test");
  assert.deepEqual(
    await issues(() => updateSegment(t.deps, A, other.id, { name: "newsletter READERS" }, "t")),
    ["name taken"],
  );
  const renamed = await updateSegment(t.deps, A, other.id, {
    name: "Other 2",
    definition: and({ has_address: true }),
  }, "test");
  assert.equal(renamed.name, "Other 2");
  assert.deepEqual(renamed.definition, and({ has_address: true }));

  const page1 = await listSegments(t.deps, A, { limit: 1 });
  const page2 = await listSegments(t.deps, A, { limit: 1, cursor: page1.next_cursor! });
  assert.deepEqual([...page1.items, ...page2.items].map((x) => x.name), [
    "Newsletter readers",
    "Other 2",
  ]);
  assert.equal(page2.next_cursor, null);

  // Tenant B cannot read, change or delete tenant A's segment.
  await assert.rejects(() => getSegment(t.deps, B, s.id), /not_found/);
  await assert.rejects(() => updateSegment(t.deps, B, s.id, { name: "x" }, "t"), /not_found/);
  await assert.rejects(() => deleteSegment(t.deps, B, s.id, "t"), /not_found/);
  await assert.rejects(() => getSegment(t.deps, A, "not-a-uuid"), /not_found/);

  await deleteSegment(t.deps, A, s.id, "test");
  await deleteSegment(t.deps, A, other.id, "test");
  await deleteSegment(t.deps, B, inB.id, "test");
  await assert.rejects(() => getSegment(t.deps, A, s.id), /not_found/);
  const actions = await db.selectFrom("audit_log").select("action").where("tenant_id", "=", A)
    .where("target", "=", s.id).orderBy("id").execute();
  assert.deepEqual(actions.map((a) => a.action), ["segment.create", "segment.delete"]);
});

Deno.test.afterAll(() => t.close());
