// The scheduling panel in headless Chromium: pick a date and time (in the organisation's zone,
// Stockholm), submit, and see it shown in the user's own zone (New York) and locale; then
// reschedule and unschedule. Screenshots go to test-results/.
import assert from "node:assert/strict";
import { apiClient, PASSWORD, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { hasChromium, shot, signIn, withBrowser } from "../../tests/helpers/browser.ts";
import { createPerson } from "../../core/people/persons.ts";
import { createSender, verifySender } from "../../core/mailings/senders.ts";
import { schedulingPlugin } from "./mod.ts";

Deno.test({
  name: "browser: schedule a mailing from its review page and see the time in your own zone",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t = await testApp({ plugins: [schedulingPlugin] });
    try {
      const org = await seedTenant(t, { tier: "advanced", slug: "sched-browser" });
      const tid = org.tenant.id;
      await t.deps.db.updateTable("users").set({ time_zone: "America/New_York" })
        .where("tenant_id", "=", tid).execute();
      const sender = await createSender(
        t.deps,
        tid,
        { name: "News", address: "n@uni.example" },
        "t",
      );
      await verifySender(t.deps, tid, sender.id, "test");
      const p = await createPerson(t.deps, tid, {
        first_name: "Ann",
        addresses: [{ address: "ann@uni.example" }],
      }, "t");
      const m = (await apiClient(t, org.key)("POST", "/mailings", {
        from_identity_id: sender.id,
        subject: "Autumn programme",
        body_html: "<p>Hej</p>",
        recipients: { persons: [p.id] },
      })).body;

      await withBrowser(t, async (browser, base) => {
        const page = await browser.newPage();
        page.on("dialog", (d) => d.accept());
        await signIn(page, base, org.email, PASSWORD);
        await page.goto(`${base}/mailings/${m.id}/review`);
        const panel = page.locator('[data-testid="scheduling-panel"]');
        assert.match(await panel.innerText(), /Europe\/Stockholm/);
        await panel.locator('input[name="local"]').fill("2027-06-01T15:30");
        await panel.getByRole("button", { name: "Schedule" }).click();
        await page.waitForURL(`${base}/mailings/${m.id}`);
        assert.match(await page.locator(".flash").innerText(), /Scheduled for 1 Jun 2027, 09:30/);
        const shown = await page.locator('[data-testid="scheduled-for"]').innerText();
        // 15:30 in Stockholm (CEST, +2) is 09:30 in New York (EDT, -4).
        assert.match(shown, /Scheduled for 1 Jun 2027, 09:30 \(America\/New_York\)/);
        assert.match(
          shown,
          /2027-06-01 15:30 UTC\+02:00 in the organisation's time zone \(Europe\/Stockholm\)/,
        );
        assert.equal(await page.locator('[data-testid="status"]').innerText(), "Scheduled");
        await shot(page, "scheduling-panel");

        // Reschedule to the first 02:30 of the fall-back night: 20:30 the evening before in NY.
        await page.locator('input[name="local"]').fill("2027-10-31T02:30");
        await page.getByRole("button", { name: "Reschedule" }).click();
        await page.waitForLoadState();
        assert.match(
          await page.locator('[data-testid="scheduled-for"]').innerText(),
          /Scheduled for 30 Oct 2027, 20:30 \(America\/New_York\)/,
        );

        await page.goto(`${base}/p/scheduling`);
        assert.match(
          await page.locator('[data-testid="scheduled"]').innerText(),
          /Autumn programme/,
        );

        await page.goto(`${base}/mailings/${m.id}`);
        await page.getByRole("button", { name: "Unschedule" }).click();
        await page.waitForLoadState();
        assert.match(await page.locator(".flash").innerText(), /draft again/);
        const row = await t.deps.db.selectFrom("mailings").select("status")
          .where("tenant_id", "=", tid).where("id", "=", m.id).executeTakeFirstOrThrow();
        assert.equal(row.status, "draft");
      });
    } finally {
      await t.close();
    }
  },
});
