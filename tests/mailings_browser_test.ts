// The compose page in headless Chromium: Quill replaces the body textarea, a merge field is
// inserted from the menu, autosave stores it (and stops with a clear message on a conflict),
// the preview shows the merged name at 1024 and 375 px, and a send shows live progress.
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { hasChromium, shot, signIn, withBrowser } from "./helpers/browser.ts";
import { createPerson } from "../core/people/persons.ts";
import { createSender, verifySender } from "../core/mailings/senders.ts";
import { createMailing, getMailing, patchMailing } from "../core/mailings/mailings.ts";
import { SendWorker } from "../core/send/worker.ts";
import { captureTransport } from "../core/send/transport.ts";

async function statusIs(page: Page, pattern: RegExp) {
  await page.waitForFunction(
    (src) =>
      new RegExp(src).test(document.querySelector('[data-testid="autosave"]')?.textContent ?? ""),
    pattern.source,
  );
}

Deno.test({
  name: "browser: compose with the editor, merge field, autosave, conflict, preview, live send",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t = await testApp();
    try {
      const org = await seedTenant(t, { slug: "compose-org" });
      const tid = org.tenant.id;
      const sender = await createSender(t.deps, tid, {
        name: "Office",
        address: "office@uni.example",
      }, "t");
      await verifySender(t.deps, tid, sender.id, "t");
      const anna = await createPerson(t.deps, tid, {
        first_name: "Anna",
        last_name: "Berg",
        addresses: [{ address: "anna@uni.example" }],
      }, "t");
      const m = await createMailing(t.deps, tid, {
        from_identity_id: sender.id,
        subject: "Hi {{firstname}}",
        body_html: "<p>Start</p>",
        recipients: { persons: [anna.id] },
      }, "t");

      await withBrowser(t, async (browser, base) => {
        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        await signIn(page, base, org.email, PASSWORD);
        await page.goto(`${base}/mailings/${m.id}`);
        await page.waitForSelector(".ql-editor");
        assert.equal(await page.isVisible("textarea[name=body_html]"), false);
        assert.equal(await page.textContent(".ql-editor"), "Start");

        // Type at the end of the text, insert a merge field from the menu, type on.
        await page.click(".ql-editor p");
        await page.keyboard.press("End");
        await page.keyboard.type(" Hello ");
        await page.selectOption(".merge-menu", "{{firstname}}");
        await page.keyboard.type("!");
        await statusIs(page, /^Saved automatically\.$/);
        let row = await getMailing(t.deps, tid, m.id);
        for (let i = 0; i < 20 && !row.body_html.includes("!"); i++) {
          await new Promise((r) => setTimeout(r, 250));
          row = await getMailing(t.deps, tid, m.id);
        }
        assert.match(row.body_html, /<p>Start Hello \{\{firstname\}\}!<\/p>/);
        assert.ok(row.version > m.version);
        assert.equal(
          await page.inputValue("input[name=version]"),
          String(row.version),
          "the page knows the version it saved",
        );

        // HTML mode shows the source; a link to a merge field is kept as written.
        await page.click(".html-toggle");
        assert.equal(await page.isVisible("textarea[name=body_html]"), true);
        assert.match(await page.inputValue("textarea[name=body_html]"), /\{\{firstname\}\}!/);
        await page.click(".html-toggle");
        await page.click(".ql-editor p");
        await page.keyboard.press("End");
        await page.keyboard.type(" ");
        await page.selectOption(".merge-menu", "{{unsubscribe_url}}");
        await page.waitForFunction(() =>
          document.querySelector('.ql-editor a[href="{{unsubscribe_url}}"]') !== null
        );
        await statusIs(page, /^Saved automatically\.$/);
        for (let i = 0; i < 20 && !row.body_html.includes("unsubscribe_url"); i++) {
          await new Promise((r) => setTimeout(r, 250));
          row = await getMailing(t.deps, tid, m.id);
        }
        assert.match(row.body_html, /<a href="\{\{unsubscribe_url\}\}"[^>]*>Unsubscribe link<\/a>/);
        await shot(page, "mailings_compose");

        // Someone else saves meanwhile: the next autosave says so and overwrites nothing.
        const theirs = await patchMailing(t.deps, tid, m.id, {
          version: row.version,
          subject: "Their subject",
        }, "user:someone-else");
        await page.fill("input[name=subject]", "My subject");
        await statusIs(page, /Someone saved this mailing after you opened it/);
        assert.equal(await page.getAttribute('[data-testid="autosave"]', "role"), "alert");
        const after = await getMailing(t.deps, tid, m.id);
        assert.equal(after.subject, "Their subject");
        assert.equal(after.version, theirs.version);

        // Preview as Anna: the merged name in both frames, each at its width.
        // Tall and wide enough that both frames are painted in the full-page screenshot.
        await page.setViewportSize({ width: 1500, height: 2000 });
        await page.goto(`${base}/mailings/${m.id}/preview?person=${anna.id}`);
        for (const [cls, width] of [["preview-desktop", 1024], ["preview-mobile", 375]] as const) {
          const frame = page.frameLocator(`iframe.${cls}`);
          await frame.locator("text=Start Hello Anna!").waitFor();
          const w = await page.$eval(
            `iframe.${cls}`,
            (el) => (el as HTMLIFrameElement).clientWidth,
          );
          assert.equal(w, width);
        }
        assert.match(
          await page.textContent('[data-testid="preview-subject"]') ?? "",
          /^Their subject$/,
        );
        await shot(page, "mailings_preview");

        // Send: confirm in the dialog, then progress updates live while the worker delivers.
        await page.goto(`${base}/mailings/${m.id}/review`);
        assert.match(await page.textContent('[data-testid="count"] h2') ?? "", /^1 recipient$/);
        page.once("dialog", (d) => void d.accept());
        await page.check('input[name="confirm"]');
        await page.click('form[action$="/send"] button[type="submit"]');
        await page.waitForURL(`${base}/mailings/${m.id}`);
        assert.equal(await page.textContent('[data-testid="status"]'), "Sending");
        const worker = new SendWorker(t.deps, captureTransport(t.deps), { batchSize: 10 });
        while (await worker.runOnce() > 0) { /* deliver everything */ }
        await page.waitForFunction(() =>
          document.querySelector('[data-testid="status"]')?.textContent === "Sent"
        );
        assert.equal(await page.textContent('[data-testid="progress"]'), "1 of 1 sent");
        assert.match(await page.textContent('[data-testid="final"]') ?? "", /1 sent, 0 failed/);
        await shot(page, "mailings_sent");
      });
    } finally {
      await t.close();
    }
  },
});
