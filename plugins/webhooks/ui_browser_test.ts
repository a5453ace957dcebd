// The Webhooks page in headless Chromium, as an admin uses it: add an endpoint and copy its
// secret (shown once), send a test event, see a failed delivery in the log and retry it; a
// staff user without the admin role has no Webhooks page.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { PASSWORD, seedTenant, testApp } from "../../tests/helpers/app.ts";
import { hasChromium, shot, signIn, withBrowser } from "../../tests/helpers/browser.ts";
import { createUser } from "../../core/tenants/users.ts";
import { setPassword } from "../../core/auth/login.ts";
import { uuidv7 } from "../../core/db/ids.ts";
import { webhooksPlugin } from "./mod.ts";
import { enqueueEvents } from "./outbox.ts";
import { WebhookDispatcher } from "./dispatcher.ts";
import { verifySignature } from "./signature.ts";
import { startReceiver } from "./_test_receiver.ts";

Deno.test({
  name: "browser: add an endpoint, keep its secret, test it, retry a failed delivery",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t = await testApp({
      plugins: [webhooksPlugin],
      env: { WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_ALLOW_HTTP: "true" },
    });
    const rx = startReceiver();
    try {
      const org = await seedTenant(t, { addons: ["webhooks"], slug: "wh-browser" });
      const staff = "staff@wh-browser.example";
      const { user } = await createUser(t.deps, org.tenant.id, { email: staff, role: "user" }, "t");
      await setPassword(
        t.deps,
        { kind: "user", tenantId: org.tenant.id, userId: user.id },
        PASSWORD,
      );
      await withBrowser(t, async (browser, base) => {
        const page = await browser.newPage();
        await signIn(page, base, org.email, PASSWORD);
        await page.click('nav a[href="/p/webhooks"]');
        await page.fill('input[name="url"]', rx.url);
        // Only bounces and deliveries.
        for (const box of await page.locator('input[name="events"]').all()) {
          const v = await box.getAttribute("value");
          if (v === "bounced" || v === "delivered") await box.check();
          else await box.uncheck();
        }
        await page.click('form[action="/p/webhooks/new"] button[type="submit"]');
        const secret = (await page.locator('[data-testid="webhook-secret"] code').innerText())
          .trim();
        assert.match(secret, /^whsec_/);
        await shot(page, "webhooks-created");
        const edit = await page.locator('form[action$="/edit"]').getAttribute("action");
        const endpointUrl = `${base}${edit!.replace(/\/edit$/, "")}`;
        // Reloading re-posts the form: a notice, no second endpoint, no secret.
        await page.reload();
        await page.locator(".flash.error").waitFor();
        assert.equal(await page.locator('[data-testid="webhook-secret"]').count(), 0);
        assert.ok(!(await page.content()).includes(secret));
        assert.equal(await page.locator('[data-testid="webhook-endpoints"] tbody tr').count(), 1);
        await page.goto(endpointUrl);
        assert.ok(!(await page.content()).includes(secret));
        const boxes = await page.locator('input[name="events"]:checked').evaluateAll((els) =>
          els.map((e) => (e as HTMLInputElement).value)
        );
        assert.deepEqual(boxes, ["delivered", "bounced"]);

        await page.click('[data-testid="send-test"]');
        await page.locator(".flash.ok").waitFor();
        assert.match(await page.locator(".flash.ok").innerText(), /HTTP 200/);
        const test = rx.received[0]!;
        assert.equal(test.json.events[0].type, "test");
        const v = await verifySignature(secret, test.headers.get("skicka-signature"), test.body);
        assert.equal(v.ok, true, "the secret copied from the page verifies the request");

        // A delivery that failed for good, as the log shows it, and its retry.
        rx.script.push(500);
        await enqueueEvents(t.deps, [{
          tenantId: org.tenant.id,
          type: "bounced",
          at: t.deps.clock(),
          sendId: uuidv7(),
          queueId: uuidv7(),
          recipient: "gone@example.org",
          details: { kind: "hard", reason: "unknown_user", status: "5.1.1" },
        }]);
        await sql`update webhook_events set give_up_at = now() - interval '1 minute'
          where tenant_id = ${org.tenant.id}`.execute(t.deps.db);
        const d = new WebhookDispatcher(t.deps);
        assert.equal(await d.runOnce(), 1);
        await page.goto(endpointUrl);
        const log = page.locator('[data-testid="webhook-log"] tbody tr');
        assert.equal(await log.count(), 2);
        assert.match(await log.first().innerText(), /500/);
        assert.match(await log.first().innerText(), /Bounced/);
        await shot(page, "webhooks-log");
        await log.first().locator('button[type="submit"]').click();
        await page.locator(".flash.ok").waitFor();
        assert.equal(await d.runOnce(), 1);
        assert.equal(rx.received.at(-1)!.json.events[0].recipient, "gone@example.org");
        await page.reload();
        assert.match(await log.first().innerText(), /200/);
        assert.equal(await page.locator('[data-testid="webhook-log"] button').count(), 0);

        // Staff who are not admins have neither the menu item nor the page.
        const other = await browser.newPage();
        await signIn(other, base, staff, PASSWORD);
        assert.equal(await other.locator('nav a[href="/p/webhooks"]').count(), 0);
        const r = await other.goto(`${base}/p/webhooks`);
        assert.equal(r?.status(), 403);
      });
    } finally {
      await rx.close();
      await t.close();
    }
  },
});
