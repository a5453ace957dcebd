// The import wizard in a real browser: upload a Latin-1 file, map, dry run, run, see the people.
import assert from "node:assert/strict";
import { PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { hasChromium, shot, signIn, withBrowser } from "./helpers/browser.ts";
import { createPerson } from "../core/people/persons.ts";

Deno.test({
  name: "browser: import wizard — upload, mapping, dry-run report, run with progress",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t = await testApp();
    try {
      const org = await seedTenant(t, { slug: "wizard-org" });
      await createPerson(t.deps, org.tenant.id, {
        first_name: "Anna",
        last_name: "Berg",
        addresses: [{ address: "anna.berg@uni.se" }],
      }, "test");
      await createPerson(t.deps, org.tenant.id, {
        first_name: "Lars",
        addresses: [{ address: "lars@kth.se" }, { address: "lars.alt@home.example" }],
      }, "test");
      const file = new URL("./fixtures/csv/import_latin1_semicolon.csv", import.meta.url).pathname;

      await withBrowser(t, async (browser, base) => {
        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        await signIn(page, base, org.email, PASSWORD);
        await page.goto(`${base}/people`);
        await page.click('a[href="/people/import"]');
        await page.setInputFiles('input[name="file"]', file);
        await page.click('form[action="/people/import"] button[type="submit"]');
        await page.waitForURL(/\/people\/import\/[0-9a-f-]{36}$/);

        // The mapping screen: columns guessed from the (Swedish) headers, examples shown.
        const mapping = page.locator('[data-testid="mapping"]');
        assert.match(await mapping.textContent() ?? "", /Förnamn\s*Anna · Lars/);
        const selected = await page.$$eval(
          'select[name="columns"]',
          (els) => els.map((e) => (e as HTMLSelectElement).value),
        );
        assert.deepEqual(selected, ["email", "first_name", "last_name", "organisation", "email"]);
        await shot(page, "10-import-mapping");
        await page.check('input[name="mode"][value="add_additional"]');
        await page.click('button:has-text("Check (dry run)")');

        // The progress page refreshes itself until the report is ready.
        await page.waitForSelector('[data-testid="report"]', { timeout: 30_000 });
        const report = await page.textContent('[data-testid="report"]') ?? "";
        assert.match(report, /New people\s*2/);
        assert.match(report, /People to update\s*2/);
        assert.match(report, /Conflicts \(a row matches two people\)\s*1/);
        assert.match(report, /Invalid rows\s*2/);
        assert.match(await page.textContent("main") ?? "", /Line 5: E-post/);
        await shot(page, "11-import-dry-run");

        await page.click('button:has-text("Run the import")');
        await page.waitForSelector('h1:has-text("Import finished")', { timeout: 30_000 });
        assert.match(await page.textContent('[data-testid="report"]') ?? "", /People created\s*2/);
        await shot(page, "12-import-done");

        await page.goto(`${base}/people?q=jyrki`);
        assert.match(await page.textContent('[data-testid="people"]') ?? "", /Jyrki Mäkelä/);
      });
    } finally {
      await t.close();
    }
  },
});
