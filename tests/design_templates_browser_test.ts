// Responsive output in a real browser: a sample mailing rendered through renderDesign with a
// two-column design shows the columns side by side at 1024 px and stacked at 375 px; and the
// design page's live preview reports MJML errors by line while typing. Screenshots go to
// test-results/ (git-ignored).
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { seedTenant, testApp } from "./helpers/app.ts";
import { hasChromium, shot, signIn, withBrowser } from "./helpers/browser.ts";
import { PASSWORD } from "./helpers/app.ts";
import { renderDesign } from "../core/mailings/design.ts";
import { createDesignTemplate } from "../core/mailings/design_store.ts";

const TWO_COLUMNS = `<mjml>
  <mj-head><mj-preview>[[preheader]]</mj-preview></mj-head>
  <mj-body background-color="#eeeeee">
    <mj-section background-color="#123456">
      <mj-column><mj-text color="#ffffff" font-size="20px">[[header]]</mj-text></mj-column>
    </mj-section>
    <mj-section background-color="#ffffff">
      <mj-column css-class="col-left" background-color="#fde68a">
        <mj-text>[[content]]</mj-text>
      </mj-column>
      <mj-column css-class="col-right" background-color="#bfdbfe">
        <mj-text>Upcoming events: reunion dinner, guest lecture, open house.</mj-text>
      </mj-column>
    </mj-section>
    <mj-section><mj-column><mj-text align="center">[[footer]]</mj-text></mj-column></mj-section>
  </mj-body>
</mjml>`;

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

async function boxes(page: Page): Promise<{ left: Box; right: Box }> {
  const left = await page.locator(".col-left").boundingBox();
  const right = await page.locator(".col-right").boundingBox();
  assert.ok(left && right, "both columns are rendered");
  return { left, right };
}

Deno.test({
  name: "browser: a two-column design sits side by side at 1024 px and stacks at 375 px",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t = await testApp();
    try {
      const org = await seedTenant(t, { slug: "design-browser" });
      const tpl = await createDesignTemplate(
        t.deps,
        org.tenant.id,
        {
          name: "Two columns",
          mjml: TWO_COLUMNS,
        },
        "test",
        { multiple: false },
      );
      const { html, versionId } = await renderDesign(t.deps, org.tenant.id, null, {
        content: "<h1>Hello {{firstname}}</h1><p>News from the alumni office, " +
          "with enough text to wrap over several lines in a narrow column.</p>",
        header: "Alumni news",
        footer: "You receive this as a member of the alumni association.",
        preheader: "This month: events and news",
      });
      assert.equal(versionId, tpl.current_version_id);

      await withBrowser(t, async (browser, base) => {
        const page = await browser.newPage({ viewport: { width: 1024, height: 900 } });
        await page.setContent(html);
        const wide = await boxes(page);
        // Side by side: same top, the right column starts where the left one ends.
        assert.ok(Math.abs(wide.left.y - wide.right.y) <= 1, JSON.stringify(wide));
        assert.ok(wide.right.x >= wide.left.x + wide.left.width - 1, JSON.stringify(wide));
        assert.ok(wide.left.width < 400, "each column takes half of the 600 px body");
        await shot(page, "design-two-columns-1024");

        await page.setViewportSize({ width: 375, height: 900 });
        const narrow = await boxes(page);
        // Stacked: same left edge, the right column below the left one, each nearly full width.
        assert.ok(Math.abs(narrow.left.x - narrow.right.x) <= 1, JSON.stringify(narrow));
        assert.ok(narrow.right.y >= narrow.left.y + narrow.left.height - 1, JSON.stringify(narrow));
        assert.ok(narrow.left.width > 300, JSON.stringify(narrow));
        const overflow = await page.evaluate(() =>
          document.documentElement.scrollWidth - document.documentElement.clientWidth
        );
        assert.ok(overflow <= 1, `the mail is ${overflow}px wider than a phone`);
        await shot(page, "design-two-columns-375");

        // The design page: typing a broken source shows the error with its line, live.
        // Tall enough that the full-page screenshot needs no resize (which re-lays the iframes).
        const ui = await browser.newPage({ viewport: { width: 1280, height: 2000 } });
        await signIn(ui, base, org.email, PASSWORD);
        await ui.goto(`${base}/design`);
        await ui.waitForURL((u) => u.pathname === `/design/${tpl.id}`);
        const frame = ui.frameLocator('[data-testid="preview-desktop"]');
        await frame.locator(".col-left").waitFor();
        await ui.fill(
          'textarea[name="mjml"]',
          TWO_COLUMNS.replace('<mj-column css-class="col-right"', '<mj-column css-clas="x"'),
        );
        const firstError = ui.locator('[data-testid="mjml-errors"] li').first();
        await firstError.waitFor();
        assert.match(await firstError.innerText(), /^Line 11 \(mj-column\): /);
        await shot(ui, "design-editor-error");
        await ui.fill('textarea[name="mjml"]', TWO_COLUMNS.replace("Upcoming", "LIVE-EDIT"));
        await frame.locator("text=LIVE-EDIT").waitFor();
        assert.equal(await ui.locator('[data-testid="mjml-errors"] li').count(), 0);
        await shot(ui, "design-editor-preview");
      });
    } finally {
      await t.close();
    }
  },
});
