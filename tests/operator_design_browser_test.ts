// In a real browser: the operator sets up a Light tenant's design from its page (the editor's
// live preview reports MJML errors by line while typing), and the tenant's admin sends a test
// of a mailing in that design, merged as a raw address typed into the picker.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { simpleParser } from "mailparser";
import { PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { hasChromium, shot, signIn, withBrowser } from "./helpers/browser.ts";
import { ensureOperator } from "../core/bootstrap.ts";
import { setPassword } from "../core/auth/login.ts";
import { createSender, verifySender } from "../core/mailings/senders.ts";
import { createMailing } from "../core/mailings/mailings.ts";
import { SendWorker } from "../core/send/worker.ts";
import { captureTransport } from "../core/send/transport.ts";

const design = (marker: string) =>
  `<mjml>
  <mj-body>
    <mj-section><mj-column><mj-text>${marker}</mj-text></mj-column></mj-section>
    <mj-section><mj-column><mj-text>[[content]]</mj-text></mj-column></mj-section>
  </mj-body>
</mjml>`;

Deno.test({
  name: "browser: operator sets up a tenant's design live; a test send merged as a typed address",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t = await testApp();
    try {
      const org = await seedTenant(t, { slug: "opb-light", tier: "light" });
      await ensureOperator(t.deps);
      const op = await t.deps.db.selectFrom("operators").select(["id", "email"])
        .executeTakeFirstOrThrow();
      await setPassword(t.deps, { kind: "operator", operatorId: op.id }, PASSWORD);
      const sender = await createSender(t.deps, org.tenant.id, {
        name: "Office",
        address: "office@opb.example",
      }, "t");
      await verifySender(t.deps, org.tenant.id, sender.id, "t");
      const mailing = await createMailing(t.deps, org.tenant.id, {
        from_identity_id: sender.id,
        subject: 'Hi {{firstname default="friend"}}',
        body_html: "<p>Body text</p>",
        recipients: { addresses: ["guest@ext.example"] },
      }, "t");

      await withBrowser(t, async (browser, base) => {
        const page = await browser.newPage({ viewport: { width: 1280, height: 2000 } });
        await signIn(page, base, op.email, PASSWORD);
        await page.goto(`${base}/operator/tenants/${org.tenant.id}`);
        await page.click('[data-testid="tenant-design"] a');
        await page.waitForURL((u) => u.pathname.endsWith("/design"));
        await page.fill('input[name="name"]', "Brand");
        await page.fill(
          'textarea[name="mjml"]',
          design("X").replace("<mj-text>X", '<mj-text paddin="1">X'),
        );
        const firstError = page.locator('[data-testid="mjml-errors"] li').first();
        await firstError.waitFor();
        assert.match(await firstError.innerText(), /^Line 3 \(mj-text\): /);
        await page.fill('textarea[name="mjml"]', design("LIVE-BRAND"));
        await page.frameLocator('[data-testid="preview-desktop"]').locator("text=LIVE-BRAND")
          .waitFor();
        assert.equal(await page.locator('[data-testid="mjml-errors"] li').count(), 0);
        await shot(page, "operator-design-live");
        await page.click('form[data-design-form] button[type="submit"]');
        await page.locator("text=Design template created.").waitFor();

        const staff = await browser.newPage({ viewport: { width: 1024, height: 1600 } });
        await signIn(staff, base, org.email, PASSWORD);
        await staff.goto(`${base}/mailings/${mailing.id}/review`);
        await staff.fill('input[name="as_address"]', "Ada@Example.org");
        assert.ok(await staff.isChecked('input[name="as"][value="address"]'), "typing ticks it");
        await staff.fill('textarea[name="to"]', "me@opb.example");
        await shot(staff, "test-send-picker");
        await staff.click('[data-testid="test-send"] form[method="post"] button[type="submit"]');
        await staff.locator("text=Test sent to 1 address.").waitFor();
      });

      const worker = new SendWorker(t.deps, captureTransport(t.deps), { batchSize: 10 });
      while (await worker.runOnce() > 0) { /* until the queue is empty */ }
      const mail = await t.deps.db.selectFrom("captured_mail").select(["subject", "raw"])
        .where("tenant_id", "=", org.tenant.id).where("rcpt_to", "=", "me@opb.example")
        .executeTakeFirstOrThrow();
      assert.equal(mail.subject, "[Test] Hi friend");
      assert.match(String((await simpleParser(Buffer.from(mail.raw))).html), /LIVE-BRAND/);
      const audit = await t.deps.db.selectFrom("audit_log").select("details")
        .where("tenant_id", "=", org.tenant.id).where("action", "=", "mailing.test_send")
        .executeTakeFirstOrThrow();
      assert.deepEqual((audit.details as { as: unknown }).as, { address: "Ada@Example.org" });
    } finally {
      await t.close();
    }
  },
});
