// Unsubscribes end to end: RFC 8058 one-click POST, the preference page in the recipient's
// language, per-type vs all, forged tokens, exclusion at expansion, cancelling the rest of a
// running mailing, and the staff-only re-subscribe.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { apiClient, Browser, PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { createPerson } from "../core/people/persons.ts";
import { createSend, expandSend } from "../core/send/queue.ts";
import { TokenSigner } from "../core/feedback/tokens.ts";
import { unsubscribe } from "../core/feedback/unsubscribe.ts";
import { uuidv7 } from "../core/db/ids.ts";
import { TEST_DATABASE_URL } from "./helpers/db.ts";

const t = await testApp();
const signer = new TokenSigner(t.deps.secret);
const content = { from: { address: "news@uni.example" }, subject: "News", text: "Hi" };
const ONE_CLICK = {
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: "List-Unsubscribe=One-Click",
};

async function org(slug: string) {
  const o = await seedTenant(t, { slug });
  const tid = o.tenant.id;
  const db = t.deps.db;
  const type = async (name: string) => {
    const id = uuidv7();
    await sql`insert into subscription_types (tenant_id, id, name)
      values (${tid}, ${id}, ${name})`.execute(db);
    const mailing = uuidv7();
    await sql`insert into mailings (tenant_id, id, subject, recipients, subscription_type_id,
      created_at, updated_at) values (${tid}, ${mailing}, ${name}, '{}'::jsonb, ${id}, now(),
      now())`.execute(db);
    return { id, mailing };
  };
  const person = (first: string, language: "en" | "sv" | null = null) =>
    createPerson(t.deps, tid, {
      first_name: first,
      language,
      addresses: [{ address: `${first.toLowerCase()}@${slug}.example` }],
    }, "test");
  /** Creates and expands a send; returns its id, queue ids by address, and the expansion. */
  const send = async (
    kind: "mass" | "single" | "transactional",
    audience: { persons?: string[]; addresses?: string[] },
    mailingId?: string,
  ) => {
    const s = await createSend(t.deps, tid, { kind, content, audience }, "test");
    if (mailingId) {
      await db.updateTable("sends").set({ mailing_id: mailingId })
        .where("tenant_id", "=", tid).where("id", "=", s.id).execute();
    }
    const expanded = await expandSend(t.deps, tid, s.id, "test");
    const rows = await db.selectFrom("send_queue").select(["id", "address", "status"])
      .where("tenant_id", "=", tid).where("send_id", "=", s.id).execute();
    return { id: s.id, q: Object.fromEntries(rows.map((r) => [r.address, r.id])), ...expanded };
  };
  const statuses = async (sendIds: string[]) =>
    (await db.selectFrom("send_queue").select(["send_id", "status"])
      .where("tenant_id", "=", tid).where("send_id", "in", sendIds).execute())
      .map((r) => `${sendIds.indexOf(r.send_id)}:${r.status}`).sort();
  const unsubs = () =>
    db.selectFrom("unsubscribes").selectAll().where("tenant_id", "=", tid)
      .orderBy("id").execute();
  return { ...o, tid, type, person, send, statuses, unsubs };
}

Deno.test("one-click POST: no cookies, 200 never a redirect, idempotent; cancels the type's queued mail only", async () => {
  const o = await org("oneclick");
  const news = await o.type("Newsletter");
  const events = await o.type("Events");
  const anna = await o.person("Anna");
  const addr = "anna@oneclick.example";
  const sNews = await o.send("mass", { persons: [anna.id] }, news.mailing);
  const sEvents = await o.send("mass", { persons: [anna.id] }, events.mailing);
  const sPlain = await o.send("mass", { persons: [anna.id] });
  const sSingle = await o.send("single", { persons: [anna.id] });
  const sTrans = await o.send("transactional", { persons: [anna.id] });
  const token = signer.message("unsubscribe", { tenantId: o.tid, queueId: sNews.q[addr]! });

  for (let i = 0; i < 2; i++) {
    const res = await t.app.request(`/u/${token}`, ONE_CLICK);
    assert.equal(res.status, 200, "200, not a redirect");
    assert.equal(res.headers.get("location"), null);
    assert.equal(res.headers.getSetCookie().length, 0, "no cookies");
    assert.match(await res.text(), /You are unsubscribed/);
  }
  const rows = await o.unsubs();
  assert.equal(rows.length, 1, "the second POST changed nothing");
  assert.equal(rows[0]!.person_id, anna.id);
  assert.equal(rows[0]!.subscription_type_id, news.id, "one-click leaves the mailing's type");
  assert.equal(rows[0]!.source, "one_click");
  assert.equal(rows[0]!.address, addr);

  const sends = [sNews.id, sEvents.id, sPlain.id, sSingle.id, sTrans.id];
  assert.deepEqual(await o.statuses(sends), [
    "0:cancelled",
    "1:queued",
    "2:queued",
    "3:queued",
    "4:queued",
  ]);
  const s0 = await t.deps.db.selectFrom("sends").select("status")
    .where("tenant_id", "=", o.tid).where("id", "=", sNews.id).executeTakeFirstOrThrow();
  assert.equal(s0.status, "done", "a send with nothing left is finished");
  const note = await t.deps.db.selectFrom("contact_notes").select(["unsubscribed_at", "mailing_id"])
    .where("tenant_id", "=", o.tid).where("person_id", "=", anna.id).executeTakeFirstOrThrow();
  assert.equal(note.mailing_id, news.mailing);
  assert.ok(note.unsubscribed_at, "the contact note is stamped");

  // The function is idempotent too, and "all" covers the type already left.
  assert.deepEqual(
    await unsubscribe(t.deps, {
      tenantId: o.tid,
      personId: anna.id,
      scope: { kind: "type", subscriptionTypeId: news.id },
      source: "api",
    }),
    { created: false },
  );
});

Deno.test("GET shows the page in the person's language and changes nothing; the form leaves all mass mail", async () => {
  const o = await org("prefpage");
  const news = await o.type("Nyhetsbrev");
  const sven = await o.person("Sven", "sv");
  const addr = "sven@prefpage.example";
  const sNews = await o.send("mass", { persons: [sven.id] }, news.mailing);
  const sPlain = await o.send("mass", { persons: [sven.id] });
  const sSingle = await o.send("single", { persons: [sven.id] });
  const token = signer.message("unsubscribe", { tenantId: o.tid, queueId: sNews.q[addr]! });

  const page = await t.app.request(`/u/${token}`, { headers: { "accept-language": "en" } });
  assert.equal(page.status, 200);
  assert.equal(page.headers.getSetCookie().length, 0);
  assert.equal(page.headers.get("referrer-policy"), "no-referrer");
  const html = await page.text();
  assert.match(html, /<html lang="sv">/);
  assert.match(html, /Avsluta prenumerationen på ”Nyhetsbrev”/);
  assert.match(html, /Avsluta alla utskick/);
  assert.match(html, new RegExp(addr.replace(".", "\\.")));
  assert.doesNotMatch(html, /Sven/, "no personal data beyond the address");
  assert.doesNotMatch(html, /_csrf/);
  assert.equal((await o.unsubs()).length, 0, "GET never unsubscribes");
  assert.deepEqual(await o.statuses([sNews.id, sPlain.id]), ["0:queued", "1:queued"]);

  const res = await t.app.request(`/u/${token}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "scope=all",
  });
  assert.equal(res.status, 200);
  assert.match(await res.text(), /Du får inte längre några utskick/);
  const [row, ...more] = await o.unsubs();
  assert.equal(more.length, 0);
  assert.equal(row!.subscription_type_id, null, "all mass mail");
  assert.equal(row!.source, "link");
  assert.deepEqual(
    await o.statuses([sNews.id, sPlain.id, sSingle.id]),
    ["0:cancelled", "1:cancelled", "2:queued"],
    "every mass send's rest cancelled; one-to-one mail untouched",
  );
  const again = await (await t.app.request(`/u/${token}`)).text();
  assert.doesNotMatch(again, /<form/, "nothing left to choose");
});

Deno.test("forged, tampered or foreign tokens get a plain 404", async () => {
  const o = await org("forged");
  const p = await o.person("Fia");
  const s = await o.send("mass", { persons: [p.id] });
  const ref = { tenantId: o.tid, queueId: s.q["fia@forged.example"]! };
  const good = signer.message("unsubscribe", ref);
  const tampered = good.slice(0, 10) + (good[10] === "A" ? "B" : "A") + good.slice(11);
  const bad = [
    tampered,
    signer.message("open", ref),
    new TokenSigner("another-secret-another-secret-0000").message("unsubscribe", ref),
    signer.message("unsubscribe", { tenantId: o.tid, queueId: uuidv7() }),
    "not-a-token",
  ];
  for (const token of bad) {
    for (const init of [{}, ONE_CLICK]) {
      const res = await t.app.request(`/u/${token}`, init);
      assert.equal(res.status, 404, token);
      assert.equal(res.headers.get("location"), null);
    }
  }
  assert.equal((await o.unsubs()).length, 0);
});

Deno.test("expansion leaves unsubscribed persons and addresses out, counted by reason, for mass mail only", async () => {
  const o = await org("expand");
  const news = await o.type("News");
  const other = await o.type("Other");
  const [a, b, c] = [await o.person("A"), await o.person("B"), await o.person("C")];
  const raw = ["d@outside.example", "e@outside.example"];
  await unsubscribe(t.deps, {
    tenantId: o.tid,
    personId: a.id,
    scope: { kind: "all" },
    source: "api",
  });
  await unsubscribe(t.deps, {
    tenantId: o.tid,
    personId: b.id,
    scope: { kind: "type", subscriptionTypeId: news.id },
    source: "api",
  });
  await unsubscribe(t.deps, {
    tenantId: o.tid,
    address: "D@Outside.example",
    scope: { kind: "all" },
    source: "mailto",
  });
  const audience = { persons: [a.id, b.id, c.id], addresses: raw };
  const sNews = await o.send("mass", audience, news.mailing);
  assert.equal(sNews.total, 2);
  assert.equal(sNews.excluded.unsubscribed, 3);
  const sOther = await o.send("mass", audience, other.mailing);
  assert.equal(sOther.total, 3, "B left News only");
  assert.equal(sOther.excluded.unsubscribed, 2);
  const stored = await t.deps.db.selectFrom("sends").select("excluded")
    .where("tenant_id", "=", o.tid).where("id", "=", sOther.id).executeTakeFirstOrThrow();
  assert.equal(stored.excluded.unsubscribed, 2, "kept on the send for statistics");
  for (const kind of ["single", "transactional"] as const) {
    const s = await o.send(kind, audience);
    assert.equal(s.total, 5, kind);
    assert.equal(s.excluded.unsubscribed, undefined);
  }
});

Deno.test("only staff re-subscribe, with a note that is audited; no public path does it", async () => {
  const o = await org("resub");
  const news = await o.type("News");
  const p = await o.person("Rut");
  const s = await o.send("mass", { persons: [p.id] }, news.mailing);
  const token = signer.message("unsubscribe", {
    tenantId: o.tid,
    queueId: s.q["rut@resub.example"]!,
  });
  await t.app.request(`/u/${token}`, ONE_CLICK);
  await unsubscribe(t.deps, {
    tenantId: o.tid,
    personId: p.id,
    scope: { kind: "all" },
    source: "complaint",
  });

  // Anything a recipient can send to the public endpoint leaves them unsubscribed.
  for (const body of ["scope=subscribe", "resubscribe=1", "scope=type"]) {
    await t.app.request(`/u/${token}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
  }
  const active = (await o.unsubs()).filter((r) => !r.resubscribed_at);
  assert.equal(active.length, 2);
  assert.equal(
    (await t.app.request(`/api/v1/persons/${p.id}/resubscribe`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ note: "x" }),
    })).status,
    401,
  );

  const api = apiClient(t, o.key);
  const noNote = await api("POST", `/persons/${p.id}/resubscribe`, { note: " " });
  assert.equal(noNote.status, 400);
  assert.match(JSON.stringify(noNote.body.error.details), /note/);
  const typeOnly = await api("POST", `/persons/${p.id}/resubscribe`, {
    subscription_type_id: news.id,
    note: "Asked by phone for the newsletter",
  });
  assert.deepEqual(typeOnly.body, { resubscribed: 1 });
  assert.equal(
    (await o.send("mass", { persons: [p.id] }, news.mailing)).total,
    0,
    "all still holds",
  );

  // The staff page lists both and lifts the rest with a note.
  const b = new Browser(t.app);
  await b.get("/login");
  assert.equal((await b.post("/login", { email: o.email, password: PASSWORD })).status, 303);
  let html = await (await b.get(`/people/${p.id}`)).text();
  assert.match(html, /data-testid="unsubscribes"/);
  assert.match(html, /Spam complaint/);
  assert.match(html, /Re-subscribed .* by api_key:.*: Asked by phone for the newsletter/);
  assert.equal((await b.post(`/people/${p.id}/resubscribe`, { note: "" })).status, 303);
  assert.equal((await o.unsubs()).filter((r) => !r.resubscribed_at).length, 1, "no note: nothing");
  await b.post(`/people/${p.id}/resubscribe`, { subscription_type_id: "", note: "Signed form" });
  html = await (await b.get(`/people/${p.id}`)).text();
  assert.match(html, /Re-subscribed\./);
  assert.equal((await o.unsubs()).filter((r) => !r.resubscribed_at).length, 0);
  assert.equal((await o.unsubs()).length, 2, "history kept");

  const audit = await t.deps.db.selectFrom("audit_log").select(["actor", "details"])
    .where("tenant_id", "=", o.tid).where("action", "=", "person.resubscribe").orderBy("id")
    .execute();
  assert.equal(audit.length, 2);
  assert.match(JSON.stringify(audit[1]!.details), /Signed form/);
  assert.match(audit[1]!.actor, /^user:/);
  const list = await api("GET", `/persons/${p.id}/unsubscribes`);
  assert.equal(list.status, 200);
  assert.equal(list.body.items.length, 2);
  assert.ok(list.body.items.every((i: { resubscribed_at: string | null }) => i.resubscribed_at));
  assert.equal((await o.send("mass", { persons: [p.id] }, news.mailing)).total, 1);
});

Deno.test("the page's type button leaves only that type; a person without a language gets the tenant's", async () => {
  const o = await org("typebutton");
  const news = await o.type("Alumni news");
  const p = await o.person("Ted");
  const s = await o.send("mass", { persons: [p.id] }, news.mailing);
  const token = signer.message("unsubscribe", {
    tenantId: o.tid,
    queueId: s.q["ted@typebutton.example"]!,
  });
  const html = await (await t.app.request(`/u/${token}`, { headers: { "accept-language": "sv" } }))
    .text();
  assert.match(html, /<html lang="en">/, "the tenant's language before the browser's");
  assert.match(html, /Unsubscribe from “Alumni news”/);
  const res = await t.app.request(`/u/${token}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "scope=type",
  });
  assert.equal(res.status, 200);
  const done = await res.text();
  assert.match(done, /You are unsubscribed from “Alumni news”/);
  assert.match(done, /Unsubscribe from all mailings/, "all mass mail can still be left");
  const rows = await o.unsubs();
  assert.deepEqual(rows.map((r) => [r.subscription_type_id, r.source]), [[news.id, "link"]]);
});

Deno.test({
  name: "an unsubscribe during a running expansion waits for it and cancels its rows (PostgreSQL)",
  ignore: !TEST_DATABASE_URL, // PGlite has one connection: nothing runs concurrently
  fn: async () => {
    const o = await org("race");
    const p = await o.person("Vera");
    const s = await createSend(t.deps, o.tid, {
      kind: "mass",
      content,
      audience: { persons: [p.id] },
    }, "test");
    let settled = false;
    let pending: Promise<unknown> | null = null;
    // An expansion caught mid-way: its sends row locked, a queue row written, not committed.
    await t.deps.db.transaction().execute(async (trx) => {
      await trx.updateTable("sends").set({ status: "expanding" })
        .where("tenant_id", "=", o.tid).where("id", "=", s.id).execute();
      await trx.insertInto("send_queue").values({
        tenant_id: o.tid,
        send_id: s.id,
        id: uuidv7(),
        priority: 2,
        person_id: p.id,
        address: "vera@race.example",
        domain: "race.example",
        ready_at: new Date(),
        created_at: new Date(),
      }).execute();
      pending = unsubscribe(t.deps, {
        tenantId: o.tid,
        personId: p.id,
        scope: { kind: "all" },
        source: "api",
      }).finally(() => settled = true);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(settled, false, "the unsubscribe waits for the expansion");
      await trx.updateTable("sends").set({ status: "sending" })
        .where("tenant_id", "=", o.tid).where("id", "=", s.id).execute();
    });
    await pending;
    assert.deepEqual(await o.statuses([s.id]), ["0:cancelled"]);
  },
});
