// Automatic contact notes per mailing recipient: one per person and mailing, stamped first-time
// only by batches of events, bounded details, and shown in the person's timeline.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { Browser, PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { createPerson } from "../core/people/persons.ts";
import { createSend, expandSend } from "../core/send/queue.ts";
import { applyNoteEvents, DETAIL_CHARS, MAX_DETAILS } from "../core/feedback/notes.ts";
import { uuidv7 } from "../core/db/ids.ts";

const t = await testApp();
const org = await seedTenant(t, { slug: "notes-org" });
const tid = org.tenant.id;
const content = { from: { address: "news@uni.example" }, subject: "Spring news", text: "Hi" };

async function person(first: string) {
  return await createPerson(t.deps, tid, {
    first_name: first,
    addresses: [{ address: `${first.toLowerCase()}@uni.example` }],
  }, "test");
}

/** A send of `kind` to the persons and raw addresses; returns its id and queue ids by address. */
async function send(
  kind: "mass" | "single" | "transactional",
  persons: string[],
  addresses: string[] = [],
  mailingId?: string,
) {
  const s = await createSend(t.deps, tid, { kind, content, audience: { persons, addresses } }, "t");
  if (mailingId) {
    await t.deps.db.updateTable("sends").set({ mailing_id: mailingId })
      .where("tenant_id", "=", tid).where("id", "=", s.id).execute();
  }
  await expandSend(t.deps, tid, s.id, "test");
  const rows = await t.deps.db.selectFrom("send_queue").select(["id", "address"])
    .where("tenant_id", "=", tid).where("send_id", "=", s.id).execute();
  return { id: s.id, q: Object.fromEntries(rows.map((r) => [r.address, r.id])) };
}

async function notesOf(personId: string) {
  return await t.deps.db.selectFrom("contact_notes").selectAll()
    .where("tenant_id", "=", tid).where("person_id", "=", personId).where("kind", "=", "mailing")
    .execute();
}

Deno.test("applyNoteEvents: one note per person and mailing, first stamps kept, no note for raw addresses", async () => {
  const anna = await person("Anna");
  const bo = await person("Bo");
  const s = await send("mass", [anna.id, bo.id], ["outside@else.example"]);
  const t0 = new Date("2026-03-01T10:00:00Z");
  const at = (min: number) => new Date(t0.getTime() + min * 60_000);
  const qa = s.q["anna@uni.example"]!;
  const qb = s.q["bo@uni.example"]!;
  const batch = [
    { queueId: qa, event: "sent" as const, at: at(0) },
    { queueId: qb, event: "sent" as const, at: at(0) },
    { queueId: s.q["outside@else.example"]!, event: "sent" as const, at: at(0) },
    { queueId: qa, event: "opened" as const, at: at(5) },
    { queueId: qa, event: "opened" as const, at: at(3) },
    { queueId: qa, event: "clicked" as const, at: at(6), detail: "https://uni.example/a" },
    { queueId: qb, event: "bounced" as const, at: at(1), detail: "hard: 5.1.1\r\nunknown" },
  ];
  await applyNoteEvents(t.deps.db, tid, batch);
  await applyNoteEvents(t.deps.db, tid, batch); // a retried batch changes nothing
  await applyNoteEvents(t.deps.db, tid, [
    { queueId: qa, event: "opened", at: at(60) },
    { queueId: qa, event: "clicked", at: at(61), detail: "https://uni.example/b" },
    { queueId: qa, event: "unsubscribed", at: at(62) },
  ]);

  const [na, ...moreA] = await notesOf(anna.id);
  assert.equal(moreA.length, 0, "one note per person and mailing");
  assert.equal(na!.mailing_id, s.id, "without a mailing, the send id names it");
  assert.equal(na!.subject, "Spring news");
  assert.equal(na!.sent_at?.toISOString(), at(0).toISOString());
  assert.equal(na!.opened_at?.toISOString(), at(3).toISOString(), "earliest open, kept");
  assert.equal(na!.clicked_at?.toISOString(), at(6).toISOString());
  assert.equal(na!.unsubscribed_at?.toISOString(), at(62).toISOString());
  assert.equal(na!.bounced_at, null);
  assert.deepEqual(na!.details, ["clicked:https://uni.example/a", "clicked:https://uni.example/b"]);

  const [nb, ...moreB] = await notesOf(bo.id);
  assert.equal(moreB.length, 0);
  assert.equal(nb!.bounced_at?.toISOString(), at(1).toISOString());
  assert.equal(nb!.opened_at, null);
  assert.deepEqual(nb!.details, ["bounced:hard: 5.1.1 unknown"], "controls stripped");

  const all = await sql<{ n: number }>`select count(*)::int as n from contact_notes
    where tenant_id = ${tid} and mailing_id = ${s.id}`.execute(t.deps.db);
  assert.equal(Number(all.rows[0]!.n), 2, "the raw address got no note");
});

Deno.test("applyNoteEvents: a mailing's id names the note; details are bounded; transactional mail gets none", async () => {
  const cecilia = await person("Cecilia");
  const mailingId = uuidv7();
  await sql`insert into mailings (tenant_id, id, subject, recipients, created_at, updated_at)
    values (${tid}, ${mailingId}, 'M', '{}'::jsonb, now(), now())`.execute(t.deps.db);
  const s = await send("mass", [cecilia.id], [], mailingId);
  const q = s.q["cecilia@uni.example"]!;
  const long = "https://uni.example/" + "x".repeat(500);
  await applyNoteEvents(
    t.deps.db,
    tid,
    Array.from({ length: MAX_DETAILS + 5 }, (_, i) => ({
      queueId: q,
      event: "clicked" as const,
      at: new Date(),
      detail: `${long.replace("x", String(i))}`,
    })),
  );
  const [n] = await notesOf(cecilia.id);
  assert.equal(n!.mailing_id, mailingId);
  assert.equal(n!.details.length, MAX_DETAILS);
  assert.ok(n!.details.every((d) => d.length <= DETAIL_CHARS));

  const tr = await send("transactional", [cecilia.id]);
  await applyNoteEvents(t.deps.db, tid, [
    { queueId: tr.q["cecilia@uni.example"]!, event: "sent", at: new Date() },
    { queueId: uuidv7(), event: "sent", at: new Date() }, // unknown: ignored
  ]);
  assert.equal((await notesOf(cecilia.id)).length, 1, "still only the mailing's note");
});

Deno.test("the person's timeline shows the note's stamps and details", async () => {
  const dan = await person("Dan");
  const s = await send("single", [dan.id]);
  const q = s.q["dan@uni.example"]!;
  await applyNoteEvents(t.deps.db, tid, [
    { queueId: q, event: "sent", at: new Date() },
    { queueId: q, event: "delivered", at: new Date() },
    { queueId: q, event: "clicked", at: new Date(), detail: "https://uni.example/<x>" },
  ]);
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email: org.email, password: PASSWORD })).status, 303);
  const html = await (await b.get(`/people/${dan.id}`)).text();
  assert.match(html, /Received the mailing “Spring news”/);
  const stamps = /data-testid="note-stamps">([\s\S]*?)<\/p>/.exec(html)?.[1] ?? "";
  assert.match(stamps, /sent .*delivered .*clicked /);
  assert.match(stamps, /clicked: https:\/\/uni\.example\/&lt;x&gt;/, "escaped");
});
