// The recipient's preference page in headless Chromium, reached through the visible unsubscribe
// link of a delivered mass mail: leaving one subscription type, leaving all mass mail, in the
// person's own language whatever the browser prefers, the effect on the next sends, and no way
// for a recipient to subscribe themself again.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { simpleParser } from "mailparser";
import type { Browser } from "playwright-core";
import { sql } from "kysely";
import { seedTenant, testApp } from "./helpers/app.ts";
import { hasChromium, shot, withBrowser } from "./helpers/browser.ts";
import { createPerson } from "../core/people/persons.ts";
import { createSender, verifySender } from "../core/mailings/senders.ts";
import { createMailing } from "../core/mailings/mailings.ts";
import { sendMailing } from "../core/mailings/send.ts";
import { SendWorker } from "../core/send/worker.ts";
import { captureTransport } from "../core/send/transport.ts";
import { uuidv7 } from "../core/db/ids.ts";

Deno.test({
  name:
    "browser: the unsubscribe link of a delivered mail, per type and for all, in the person's language",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t = await testApp();
    try {
      const org = await seedTenant(t, { slug: "unsub-browser-org" });
      const tid = org.tenant.id;
      const db = t.deps.db;
      const sender = await createSender(t.deps, tid, {
        name: "Alumni",
        address: "alumni@uni.example",
      }, "t");
      await verifySender(t.deps, tid, sender.id, "t");
      const type = async (name: string) => {
        const id = uuidv7();
        await sql`insert into subscription_types (tenant_id, id, name)
          values (${tid}, ${id}, ${name})`.execute(db);
        return id;
      };
      const newsletter = await type("Alumni newsletter");
      const events = await type("Events");
      // Anna has no language of her own (the organisation's, English, applies); Sven reads Swedish.
      const anna = await createPerson(t.deps, tid, {
        first_name: "Anna",
        addresses: [{ address: "anna@uni.example" }],
      }, "t");
      const sven = await createPerson(t.deps, tid, {
        first_name: "Sven",
        language: "sv",
        addresses: [{ address: "sven@uni.example" }],
      }, "t");
      const worker = new SendWorker(t.deps, captureTransport(t.deps), { batchSize: 10 });

      /** A mailing of the type to both, sent and delivered; the captured mail by address. */
      const send = async (subject: string, typeId: string) => {
        const m = await createMailing(t.deps, tid, {
          from_identity_id: sender.id,
          subject,
          subscription_type_id: typeId,
          body_html:
            `<p>Hello {{firstname}}</p><p><a href="{{unsubscribe_url}}">Unsubscribe</a></p>`,
          recipients: { persons: [anna.id, sven.id] },
        }, "t");
        const r = await sendMailing(t.deps, tid, m.id, "t");
        while (await worker.runOnce() > 0) { /* drain */ }
        const rows = await db.selectFrom("captured_mail").select(["rcpt_to", "raw"])
          .where("tenant_id", "=", tid).where("send_id", "=", r.send_id).execute();
        const mails = new Map<string, string>();
        for (const row of rows) {
          mails.set(row.rcpt_to, String((await simpleParser(Buffer.from(row.raw))).html));
        }
        return { ...r, mails };
      };
      /** The visible link in the mail (not the List-Unsubscribe header), on the test server. */
      const linkIn = (html: string, base: string) => {
        const m = /<a href="http:\/\/skicka\.test(\/u\/[\w-]+)">Unsubscribe<\/a>/.exec(html);
        assert.ok(m, "the mail shows an unsubscribe link");
        return `${base}${m[1]}`;
      };
      const first = await send("Autumn newsletter", newsletter);
      assert.equal(first.mails.size, 2);

      await withBrowser(t, async (browser: Browser, base) => {
        // Anna's browser asks for Finnish; the organisation's language comes first.
        const annaPage = await (await browser.newContext({ locale: "fi-FI" })).newPage();
        await annaPage.goto(linkIn(first.mails.get("anna@uni.example")!, base));
        assert.equal(await annaPage.getAttribute("html", "lang"), "en");
        assert.equal(
          await db.selectFrom("unsubscribes").select("id").where("tenant_id", "=", tid)
            .executeTakeFirst(),
          undefined,
          "opening the page changes nothing",
        );
        await annaPage.click('button:text-is("Unsubscribe from “Alumni newsletter”")');
        await annaPage.waitForSelector('[role="status"]');
        assert.equal(
          (await annaPage.textContent('[role="status"]'))?.trim(),
          "You are unsubscribed from “Alumni newsletter”.",
        );
        assert.equal(await annaPage.getAttribute("html", "lang"), "en");
        // Nothing on the page subscribes again: only leaving all mass mail is left to choose.
        const buttons = (await annaPage.locator("button").allTextContents()).map((s) => s.trim());
        assert.deepEqual(buttons, ["Unsubscribe from all mailings"]);
        assert.match(await annaPage.textContent("main") ?? "", /Contact .* to subscribe again/);
        await shot(annaPage, "unsubscribe-type");

        // Sven's browser asks for Danish; his own language, Swedish, wins.
        const svenPage = await (await browser.newContext({ locale: "da-DK" })).newPage();
        await svenPage.goto(linkIn(first.mails.get("sven@uni.example")!, base));
        assert.equal(await svenPage.getAttribute("html", "lang"), "sv");
        await svenPage.click('button:text-is("Avsluta alla utskick")');
        await svenPage.waitForSelector('[role="status"]');
        assert.match(
          (await svenPage.textContent('[role="status"]')) ?? "",
          /Du får inte längre några utskick från /,
        );
        assert.equal(await svenPage.locator("form").count(), 0, "nothing left to choose");
        await shot(svenPage, "unsubscribe-all-sv");

        // A recipient cannot re-subscribe: whatever is posted to their link, they stay out.
        for (const body of ["scope=subscribe", "resubscribe=1", "scope=none"]) {
          const res = await fetch(linkIn(first.mails.get("sven@uni.example")!, base), {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body,
          });
          await res.body?.cancel();
        }
      });

      const active = await db.selectFrom("unsubscribes")
        .select(["person_id", "subscription_type_id", "resubscribed_at", "source"])
        .where("tenant_id", "=", tid).execute();
      assert.equal(active.length, 2);
      assert.ok(active.every((u) => u.resubscribed_at === null && u.source === "link"));
      assert.deepEqual(
        active.map((u) => [u.person_id === anna.id ? "anna" : "sven", u.subscription_type_id])
          .sort(),
        [["anna", newsletter], ["sven", null]],
      );

      // The next newsletter reaches neither; an event mailing still reaches Anna, not Sven.
      const second = await send("Winter newsletter", newsletter);
      assert.equal(second.total, 0);
      assert.equal(second.excluded.unsubscribed, 2);
      assert.equal(second.mails.size, 0);
      const third = await send("Alumni day", events);
      assert.equal(third.total, 1);
      assert.equal(third.excluded.unsubscribed, 1);
      assert.deepEqual([...third.mails.keys()], ["anna@uni.example"]);
    } finally {
      await t.close();
    }
  },
});
