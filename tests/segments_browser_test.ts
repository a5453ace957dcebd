// The segment builder in headless Chromium: with JavaScript the count follows every change
// without a submit (rows added and removed in place); without it the buttons re-render the form.
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { hasChromium, shot, signIn, withBrowser } from "./helpers/browser.ts";
import { createPerson } from "../core/people/persons.ts";
import { addListMembers, createList } from "../core/people/lists.ts";

/** Waits until the live count reads exactly `text` (it is updated by fetch, not by a reload). */
async function countIs(page: Page, text: string) {
  await page.waitForFunction(
    (want) => document.querySelector('[data-testid="live-count"]')?.textContent === want,
    text,
  );
}

Deno.test({
  name: "browser: the segment builder's live count follows conditions without submitting",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t = await testApp();
    try {
      const org = await seedTenant(t, { slug: "builder-org" });
      const ids: Record<string, string> = {};
      for (
        const [first, last, tags] of [
          ["Anna", "Berg", ["alumni"]],
          ["Bo", "Ek", []],
          ["Cia", "Lund", ["alumni"]],
          ["Dan", "Holm", []],
        ] as const
      ) {
        ids[first] = (await createPerson(t.deps, org.tenant.id, {
          first_name: first,
          last_name: last,
          tags: [...tags],
          addresses: [{ address: `${first.toLowerCase()}@uni.example` }],
        }, "test")).id;
      }
      const list = await createList(t.deps, org.tenant.id, { name: "Only Bo" }, "test");
      await addListMembers(t.deps, org.tenant.id, list.id, { person_ids: [ids.Bo!] }, "test");

      await withBrowser(t, async (browser, base) => {
        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        await signIn(page, base, org.email, PASSWORD);
        await page.goto(`${base}/segments/new`);
        // Survives only if the page is never reloaded or submitted.
        await page.evaluate(() => (globalThis as unknown as { stay: number }).stay = 42);

        // Enter in a field counts in place: the unfilled first row's error shows next to it.
        await page.press('input[name="c[r.0][value]"]', "Enter");
        await countIs(page, "Some fields are not valid.");
        await page.waitForSelector('[data-errors-for="r.0"] >> text=This match needs a value');

        await page.selectOption('select[name="c[r.0][kind]"]', "tag");
        assert.equal(await page.isVisible('select[name="c[r.0][field]"]'), false);
        await page.fill('input[name="c[r.0][tag]"]', "alumni");
        await countIs(page, "2 people");
        assert.equal(await page.locator('[data-errors-for="r.0"] p').count(), 0);

        // Add a condition in place; OR it with the list.
        await page.click('button[value="add:r"]');
        await page.selectOption('select[name="c[r][op]"]', "or");
        await page.selectOption('select[name="c[r.1][kind]"]', "list");
        await page.selectOption('select[name="c[r.1][list]"]', list.id);
        await countIs(page, "3 people");
        await shot(page, "30-segment-builder-or");

        // A nested group: its empty row is an error until it has a value, then Dan joins.
        await page.click('button[value="group:r"]');
        await page.waitForSelector('[data-errors-for="r.2.0"] >> text=This match needs a value');
        await page.selectOption('select[name="c[r.2.0][field]"]', "last_name");
        await page.selectOption('select[name="c[r.2.0][match]"]', "equals");
        await page.fill('input[name="c[r.2.0][value]"]', "holm");
        await countIs(page, "4 people");
        await shot(page, "31-segment-builder-nested");

        // Removing the tag row renumbers the rest: the list is r.0, the group r.1.
        await page.click('button[value="remove:r.0"]');
        await countIs(page, "2 people");
        assert.equal(await page.inputValue('select[name="c[r.0][kind]"]'), "list");
        assert.equal(await page.inputValue('input[name="c[r.1.0][value]"]'), "holm");
        assert.equal(
          await page.evaluate(() => (globalThis as unknown as { stay?: number }).stay),
          42,
          "no submit, no reload",
        );

        await page.fill('input[name="name"]', "Bo or Holm");
        await page.click('button[value="save"]');
        await page.waitForURL(/\/segments\/[0-9a-f-]{36}$/);
        assert.equal(await page.textContent('[data-testid="count"]'), "2 people");
        assert.match(await page.textContent('[data-testid="preview"]') ?? "", /Bo Ek[\s\S]*Holm/);
        await shot(page, "32-segment-saved");

        // The list page: members, and people found by search to tick and add.
        await page.goto(`${base}/lists/${list.id}?q=a`);
        await page.check(`input[name="person_ids"][value="${ids.Anna}"]`);
        await page.click('form[data-testid="found"] button[type="submit"]');
        await page.waitForSelector("text=1 person added.");
        assert.match(
          await page.textContent('[data-testid="members"]') ?? "",
          /Anna Berg[\s\S]*Bo Ek/,
        );
        await shot(page, "34-list-page");
      });
    } finally {
      await t.close();
    }
  },
});

Deno.test({
  name: "browser: without JavaScript the builder's buttons re-render the form",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t = await testApp();
    try {
      const org = await seedTenant(t, { slug: "builder-nojs" });
      for (const first of ["Anna", "Cia"]) {
        await createPerson(t.deps, org.tenant.id, { first_name: first, tags: ["alumni"] }, "t");
      }
      await withBrowser(t, async (browser, base) => {
        const context = await browser.newContext({ javaScriptEnabled: false });
        const page = await context.newPage();
        await signIn(page, base, org.email, PASSWORD);
        await page.goto(`${base}/segments/new`);
        await page.selectOption('select[name="c[r.0][kind]"]', "tag");
        // The controls of the chosen kind show at once: CSS, not script.
        assert.equal(await page.isVisible('input[name="c[r.0][tag]"]'), true);
        assert.equal(await page.isVisible('input[name="c[r.0][value]"]'), false);
        await page.fill('input[name="c[r.0][tag]"]', "alumni");
        await page.press('input[name="c[r.0][tag]"]', "Enter"); // the default button counts
        await page.waitForSelector('[data-testid="live-count"] >> text=2 people');
        await page.click('button[value="group:r"]');
        await page.waitForSelector('select[name="c[r.1.0][kind]"]');
        assert.equal(await page.inputValue('input[name="c[r.0][tag]"]'), "alumni");
        await shot(page, "33-segment-builder-no-js");
        await context.close();
      });
    } finally {
      await t.close();
    }
  },
});
