// The Swedish, Finnish and Danish catalogues against the English reference, and recipient pages
// rendered in the recipient's language.
import assert from "node:assert/strict";
import { en } from "./en.ts";
import { sv } from "./sv.ts";
import { fi } from "./fi.ts";
import { da } from "./da.ts";
import { formatDateTime, formatNumber, formatPercent, type Locale, t } from "./mod.ts";
import { sql } from "kysely";
import { seedTenant, testApp } from "../../tests/helpers/app.ts";
import { createPerson } from "../people/persons.ts";
import { createSend, expandSend } from "../send/queue.ts";
import { TokenSigner } from "../feedback/tokens.ts";
import { uuidv7 } from "../db/ids.ts";

const reference: Record<string, string> = en;
const translations: Record<Exclude<Locale, "en">, Record<string, string | undefined>> = {
  sv,
  fi,
  da,
};

/** What a translation must carry over unchanged: {placeholders}, [[slots]] and <markup>. */
function tokens(text: string): string[] {
  const found = [
    ...[...text.matchAll(/\{(\w+)\}/g)].map((m) => `{${m[1]}}`),
    ...[...text.matchAll(/\[\[(\w+)\]\]/g)].map((m) => `[[${m[1]}]]`),
    ...[...text.matchAll(/<\/?([a-z][a-z0-9]*)\b/gi)].map((m) => `<${m[1]!.toLowerCase()}>`),
  ];
  return [...new Set(found)].sort();
}

for (const [locale, catalogue] of Object.entries(translations)) {
  Deno.test(`${locale}: every key exists in English, keeps its placeholders and is not empty`, () => {
    const stale = Object.keys(catalogue).filter((k) => !(k in reference));
    assert.deepEqual(stale, [], `${locale} has keys English no longer has`);
    for (const [key, value = ""] of Object.entries(catalogue)) {
      assert.ok(value.trim(), `${locale} ${key} is empty`);
      assert.deepEqual(tokens(value), tokens(reference[key]!), `${locale} ${key}: placeholders`);
    }
  });

  Deno.test(`${locale}: plural forms come in pairs, as in English`, () => {
    for (const key of Object.keys(catalogue)) {
      if (!key.endsWith(".one")) continue;
      const base = key.slice(0, -".one".length);
      assert.ok(catalogue[base], `${locale} has ${key} but not ${base}`);
    }
    for (const key of Object.keys(reference)) {
      if (key.endsWith(".one") && catalogue[key.slice(0, -4)]) {
        assert.ok(catalogue[key], `${locale} translates ${key.slice(0, -4)} but not ${key}`);
      }
    }
  });

  Deno.test(`${locale}: keys still shown in English (report)`, () => {
    const missing = Object.keys(reference).filter((k) => !catalogue[k]);
    if (missing.length) {
      console.log(`${locale}: ${missing.length} keys untranslated: ${missing.join(", ")}`);
    }
  });
}

Deno.test("every message of the recipient pages (routes/public) is translated", async () => {
  const dir = new URL("../../routes/public/", import.meta.url);
  const used = new Set<string>();
  for await (const entry of Deno.readDir(dir)) {
    if (!/\.tsx?$/.test(entry.name) || entry.name.endsWith("_test.ts")) continue;
    const source = await Deno.readTextFile(new URL(entry.name, dir));
    for (const [, key] of source.matchAll(/"([\w.]+)"/g)) if (key! in reference) used.add(key!);
  }
  assert.ok(used.has("unsubscribe.intro") && used.has("view.not_found"), "the scan finds keys");
  for (const [locale, catalogue] of Object.entries(translations)) {
    const missing = [...used].filter((k) => !catalogue[k]);
    assert.deepEqual(missing, [], `${locale} lacks recipient-facing messages`);
  }
});

Deno.test("t() picks the Swedish and Finnish singular and plural, with their number format", () => {
  assert.equal(t("sv", "lists.members", { n: 1 }), "1 person");
  assert.equal(t("sv", "lists.members", { n: 1500 }).replace(/\s/g, " "), "1 500 personer");
  assert.equal(t("fi", "lists.members", { n: 1 }), "1 henkilö");
  assert.equal(t("fi", "lists.members", { n: 1500 }).replace(/\s/g, " "), "1 500 henkilöä");
  assert.equal(t("da", "lists.members", { n: 1500 }), "1.500 personer");
});

Deno.test("dates, numbers and percentages are written as in Sweden, Finland and Denmark", () => {
  const at = new Date("2026-03-05T14:07:00Z");
  const plain = (s: string) => s.replace(/\s/g, " ");
  assert.equal(plain(formatDateTime(at, "sv", "Europe/Stockholm")), "5 mars 2026 15:07");
  assert.equal(plain(formatDateTime(at, "fi", "Europe/Helsinki")), "5.3.2026 klo 16.07");
  assert.match(plain(formatDateTime(at, "da", "Europe/Copenhagen")), /^5\. mar\. 2026,? 15\.07$/);
  assert.equal(plain(formatNumber(1234567.5, "sv")), "1 234 567,5");
  assert.equal(plain(formatNumber(1234567.5, "fi")), "1 234 567,5");
  assert.equal(formatNumber(1234567.5, "da"), "1.234.567,5");
  for (const l of ["sv", "fi", "da"] as const) {
    assert.equal(plain(formatPercent(0.125, l)), "12,5 %", l);
  }
});

Deno.test("recipient pages speak the recipient's language: unsubscribe in Swedish and Finnish, a broken link in Danish", async () => {
  const app = await testApp();
  try {
    const { tenant } = await seedTenant(app, { slug: "nordic" });
    const db = app.deps.db;
    const type = uuidv7();
    const mailing = uuidv7();
    await sql`insert into subscription_types (tenant_id, id, name)
      values (${tenant.id}, ${type}, ${"Alumni"})`.execute(db);
    await sql`insert into mailings (tenant_id, id, subject, recipients, subscription_type_id,
      created_at, updated_at) values (${tenant.id}, ${mailing}, ${"Alumni"}, '{}'::jsonb,
      ${type}, now(), now())`.execute(db);
    const signer = new TokenSigner(app.deps.secret);
    /** The unsubscribe link a person with this language finds in a mailing of type "Alumni". */
    const linkFor = async (language: "sv" | "fi") => {
      const address = `${language}@nordic.example`;
      const person = await createPerson(app.deps, tenant.id, {
        first_name: language,
        language,
        addresses: [{ address }],
      }, "test");
      const content = { from: { address: "news@nordic.example" }, subject: "Alumni", text: "Hej" };
      const send = await createSend(app.deps, tenant.id, {
        kind: "mass",
        content,
        audience: { persons: [person.id] },
      }, "test");
      await db.updateTable("sends").set({ mailing_id: mailing })
        .where("tenant_id", "=", tenant.id).where("id", "=", send.id).execute();
      await expandSend(app.deps, tenant.id, send.id, "test");
      const row = await db.selectFrom("send_queue").select("id")
        .where("tenant_id", "=", tenant.id).where("send_id", "=", send.id)
        .executeTakeFirstOrThrow();
      return `/u/${signer.message("unsubscribe", { tenantId: tenant.id, queueId: row.id })}`;
    };

    // The browser asks for English; the person's own language wins.
    const english = { headers: { "accept-language": "en" } };
    const sv = await (await app.app.request(await linkFor("sv"), english)).text();
    assert.match(sv, /<html lang="sv">/);
    assert.match(sv, /<title>Avsluta prenumeration<\/title>/);
    assert.match(sv, /Avsluta prenumerationen på ”Alumni”/);
    assert.match(sv, /Välj vilka utskick från Org nordic som inte längre ska skickas till/);
    assert.doesNotMatch(sv, /Unsubscribe|Other mailings|still reach you/);

    const fiLink = await linkFor("fi");
    const fi = await (await app.app.request(fiLink, english)).text();
    assert.match(fi, /<html lang="fi">/);
    assert.match(fi, /<title>Peruuta tilaus<\/title>/);
    assert.match(fi, /Peruuta tilaus ”Alumni”/);
    assert.match(fi, /Saat edelleen muut organisaation Org nordic postitukset\./);
    assert.doesNotMatch(fi, /Unsubscribe|Other mailings|still reach you/);
    const oneClick = await app.app.request(fiLink, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "List-Unsubscribe=One-Click",
    });
    assert.equal(await oneClick.text(), "Tilauksesi on peruttu.");

    // A link that no longer works is explained in the browser's language.
    const broken = await app.app.request("/v/not-a-token", {
      headers: { "accept-language": "da-DK,da;q=0.9,en;q=0.5" },
    });
    assert.equal(broken.status, 404);
    const page = await broken.text();
    assert.match(page, /<h1>Siden blev ikke fundet<\/h1>/);
    assert.match(page, /Linket er ikke gyldigt, eller beskeden gemmes ikke længere\./);
  } finally {
    await app.close();
  }
});
