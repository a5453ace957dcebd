// The feeds page in headless Chromium: an admin adds a feed served locally, sees its title,
// status, item count and the block to paste into a mailing, fetches it again (unchanged: 304),
// finds the block on a draft mailing's page, and removes the feed.
import assert from "node:assert/strict";
import { PASSWORD, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { hasChromium, shot, signIn, withBrowser } from "../../tests/helpers/browser.ts";
import { createMailing } from "../../core/mailings/mailings.ts";
import { feedServer } from "./_test_feed_server.ts";
import { rssPlugin } from "./mod.ts";

Deno.test({
  name: "browser: add a feed on /p/rss, fetch it again, copy its block, remove it",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = feedServer();
    const t = await testApp({ plugins: [rssPlugin], env: { RSS_ALLOW_PRIVATE: "true" } });
    try {
      const org = await seedTenant(t, { tier: "advanced", slug: "rss-browser" });
      const url = await server.fixture("university_news.xml");
      await withBrowser(t, async (browser, base) => {
        const page = await browser.newPage();
        await signIn(page, base, org.email, PASSWORD);
        await page.goto(`${base}/p/rss`);
        assert.ok(await page.getByRole("link", { name: "RSS feeds" }).isVisible(), "in the menu");
        await page.fill('input[name="url"]', url);
        await page.fill('input[name="slug"]', "uni_news");
        await page.click('form[action="/p/rss/new"] button[type="submit"]');
        await page.waitForSelector('[role="status"]');
        assert.match(await page.locator('[role="status"]').innerText(), /uni_news.*added/);
        const row = page.locator('tr[data-slug="uni_news"]');
        assert.match(await row.innerText(), /Åbo Akademi University – News/);
        assert.match(await row.locator('[data-testid="rss-status"]').innerText(), /^OK/);
        assert.match(await row.innerText(), /\b3\b/);
        await row.locator("summary").click();
        const snippet = await row.locator('[data-testid="rss-snippet"]').innerText();
        assert.match(snippet, /\{\{#each rss\.uni_news\.items_5\}\}/);
        assert.match(snippet, /<a href="\{\{link\}\}">/);
        await shot(page, "rss-feeds");

        await row.getByRole("button", { name: "Fetch now" }).click();
        await page.waitForSelector('[role="status"]');
        assert.match(await page.locator('[role="status"]').innerText(), /0 new items/);
        assert.match(
          await page.locator('tr[data-slug="uni_news"] [data-testid="rss-status"]').innerText(),
          /^Unchanged/,
        );
        const cond = server.log.filter((r) => r.path === "/university_news.xml");
        assert.equal(cond.length, 2);
        assert.ok(cond[1]!.ifNoneMatch, "the second fetch was conditional");

        // A draft mailing's review page offers the feed's block (Plugin.ui.mailingPanel).
        const m = await createMailing(t.deps, org.tenant.id, { subject: "Newsletter" }, "t");
        await page.goto(`${base}/mailings/${m.id}/review`);
        const panel = page.locator('[data-testid="rss-panel"]');
        assert.match(await panel.innerText(), /\{\{#each rss\.uni_news\.items_5\}\}/);

        await page.goto(`${base}/p/rss`);
        await page.locator('tr[data-slug="uni_news"]').getByRole("button", { name: "Remove" })
          .click();
        await page.waitForSelector('[role="status"]');
        assert.match(await page.locator('[role="status"]').innerText(), /removed/);
        assert.equal(await page.locator('tr[data-slug="uni_news"]').count(), 0);
      });
    } finally {
      await t.close();
      await server.close();
    }
  },
});
