// The categories screens in headless Chromium: an admin adds categories on /p/categories,
// ticks them on a mailing's panel, filters the mailings by one and reads the per-category
// statistics for a period. Screenshot in test-results/.
import assert from "node:assert/strict";
import { apiClient, PASSWORD, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { hasChromium, shot, signIn, withBrowser } from "../../tests/helpers/browser.ts";
import { categoriesPlugin } from "./mod.ts";

Deno.test({
  name: "browser: add categories, tick them on a mailing, filter by one, see its statistics",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t = await testApp({ plugins: [categoriesPlugin] });
    try {
      const org = await seedTenant(t, { tier: "advanced", slug: "cat-browser" });
      const api = apiClient(t, org.key);
      const tagged = (await api("POST", "/mailings", { subject: "Partner day" })).body.id;
      await api("POST", "/mailings", { subject: "Unrelated" });
      await withBrowser(t, async (browser, base) => {
        const page = await browser.newPage();
        page.on("dialog", (d) => d.accept());
        await signIn(page, base, org.email, PASSWORD);
        await page.goto(`${base}/p/categories`);
        for (const name of ["Industry partners", "Alumni"]) {
          const form = page.locator('[data-testid="new-category"]');
          await form.locator('input[name="name"]').fill(name);
          await form.getByRole("button", { name: "Add" }).click();
          await page.waitForLoadState();
          assert.match(await page.locator(".flash").innerText(), new RegExp(`“${name}” added`));
        }

        await page.goto(`${base}/mailings/${tagged}/review`);
        const panel = page.locator('[data-testid="categories-panel"]');
        await panel.getByLabel("Industry partners").check();
        await panel.getByRole("button", { name: "Save categories" }).click();
        await page.waitForURL(`${base}/mailings/${tagged}/review`);
        assert.ok(
          await page.locator('[data-testid="categories-panel"]').getByLabel("Industry partners")
            .isChecked(),
        );

        await page.goto(`${base}/p/categories`);
        const row = page.locator(
          '[data-testid="categories"] tr[data-category="Industry partners"]',
        );
        assert.equal((await row.locator("td").nth(1).innerText()).trim(), "1");
        await row.getByRole("link", { name: "Show mailings" }).click();
        const list = await page.locator('[data-testid="category-mailings"]').innerText();
        assert.match(list, /Partner day/);
        assert.doesNotMatch(list, /Unrelated/);
        const stats = page.locator('[data-testid="category-stats"]');
        assert.match(await stats.innerText(), /Alumni[\s\S]*Industry partners/);
        await page.locator('input[name="from"]').fill("2027-01-01");
        await page.locator('input[name="to"]').fill("2027-01-31");
        await page.getByRole("button", { name: "Show", exact: true }).click();
        await page.waitForLoadState();
        assert.match(page.url(), /from=2027-01-01&to=2027-01-31/);
        assert.match(await page.locator("section").last().innerText(), /2027-01-01 to 2027-01-31/);
        await shot(page, "categories-page");
      });
    } finally {
      await t.close();
    }
  },
});
