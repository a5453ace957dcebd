// The automation page in headless Chromium: create a recurring send with the form (the weekly
// warning shown), see its next run in the viewer's time zone, stop it with the switch; create a
// trigger; and the panel on the mailing's page names the rules that send it.
import assert from "node:assert/strict";
import { PASSWORD, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { hasChromium, shot, signIn, withBrowser } from "../../tests/helpers/browser.ts";
import { createSegment } from "../../core/people/saved_segments.ts";
import { createList } from "../../core/people/lists.ts";
import { createMailing } from "../../core/mailings/mailings.ts";
import { automationPlugin } from "./mod.ts";

Deno.test({
  name: "browser: recurring and triggered sends are created, shown and stopped on /p/automation",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t = await testApp({ plugins: [automationPlugin] });
    try {
      const org = await seedTenant(t, { tier: "advanced", slug: "auto-browser" });
      const tid = org.tenant.id;
      await createSegment(t.deps, tid, {
        name: "Alumni",
        definition: { op: "and", conditions: [{ tag: "alumni", has: true }] },
      }, "t");
      await createList(t.deps, tid, { name: "New students" }, "t");
      const m = await createMailing(t.deps, tid, { subject: "Monday letter" }, "user:t");
      await withBrowser(t, async (browser, base) => {
        const page = await browser.newPage();
        await signIn(page, base, org.email, PASSWORD);
        await page.goto(`${base}/p/automation`);
        const form = page.locator('[data-testid="form-recurring"]');
        assert.ok(
          (await form.locator('[data-testid="weekly-warning"]').textContent())!
            .includes("repeats every week"),
        );
        await form.locator('input[name="name"]').fill("Monday letter to alumni");
        await form.locator('select[name="mailing_id"]').selectOption({ label: "Monday letter" });
        await form.locator('select[name="segment_ids"]').selectOption({ label: "Alumni" });
        await form.locator('input[name="weekdays"][value="1"]').check();
        await form.locator('input[name="times"]').fill("14:00");
        await form.locator('input[name="sample_mode"][value="random"]').check();
        await form.locator('input[name="sample_percent"]').fill("10");
        await form.locator('button[type="submit"]').click();
        await page.waitForURL(/\/p\/automation\/rules\//);
        assert.equal(await page.locator('[data-testid="rule-state"]').textContent(), "Active");
        const next = await page.locator('[data-testid="next-run"]').textContent();
        assert.match(next!, /14:00/, "the next run in the viewer's (Stockholm) time");
        await shot(page, "automation-rule");
        await page.click('[data-testid="toggle"]');
        await page.waitForSelector('[data-testid="rule-state"]:text("Stopped")');
        assert.equal(await page.locator('[data-testid="next-run"]').count(), 0);

        await page.goto(`${base}/p/automation`);
        const trig = page.locator('[data-testid="form-trigger"]');
        await trig.locator('input[name="name"]').fill("Welcome new students");
        await trig.locator('select[name="mailing_id"]').selectOption({ label: "Monday letter" });
        await trig.locator('select[name="list_id"]').selectOption({ label: "New students" });
        await trig.locator('button[type="submit"]').click();
        await page.waitForURL(/\/p\/automation\/rules\//);
        await page.goto(`${base}/p/automation`);
        const rows = await page.locator('[data-testid="recurring"] tbody tr').allTextContents();
        assert.equal(rows.length, 1);
        assert.ok(rows[0]!.includes("Monday letter to alumni") && rows[0]!.includes("Stopped"));
        const triggers = await page.locator('[data-testid="triggers"] tbody tr').allTextContents();
        assert.ok(triggers[0]!.includes("New students") && triggers[0]!.includes("Active"));
        await shot(page, "automation-index");

        await page.goto(`${base}/mailings/${m.id}/review`);
        const panel = page.locator('[data-testid="automation-panel"]');
        const text = await panel.textContent();
        assert.ok(text!.includes("Monday letter to alumni"), text!);
        assert.ok(text!.includes("Welcome new students"), text!);
      });
    } finally {
      await t.close();
    }
  },
});
