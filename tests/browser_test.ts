// The first hour of a new deployment, in a real browser: the operator signs in with the
// one-time link, creates a customer and its admin; the admin signs in and creates an API key.
// Screenshots go to test-results/ (git-ignored) for a human to look at.
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { ensureOperator } from "../core/bootstrap.ts";
import { testApp } from "./helpers/app.ts";
import { hasChromium, shot, signIn as signInAs, withBrowser } from "./helpers/browser.ts";

const PASSWORD = "Mörkö-Muumilaakso-2026";

/** The page must not scroll sideways: the UI has to be usable on a phone. */
async function assertFitsWidth(page: Page) {
  const overflow = await page.evaluate(() =>
    document.documentElement.scrollWidth - document.documentElement.clientWidth
  );
  assert.ok(overflow <= 1, `page is ${overflow}px wider than the viewport`);
}

const signIn = (page: Page, base: string, email: string) => signInAs(page, base, email, PASSWORD);

async function setPassword(page: Page, link: string) {
  await page.goto(link);
  await page.fill('input[name="password"]', PASSWORD);
  await page.fill('input[name="repeat"]', PASSWORD);
  await page.click('main button[type="submit"]');
  await page.waitForURL((u) => !u.pathname.startsWith("/password/"));
}

async function signOut(page: Page) {
  await page.click('form[action="/logout"] button[type="submit"]');
  await page.waitForURL((u) => u.pathname === "/login");
}

Deno.test({
  name: "browser: operator creates a tenant and its admin; the admin creates an API key",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t = await testApp();
    try {
      await withBrowser(t, async (browser, base) => {
        const link = (await ensureOperator(t.deps))!.replace(t.deps.config.baseUrl, base);

        // Operator: one-time link → password → signed in; then a normal sign-in.
        const op = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        await setPassword(op, link);
        await signOut(op);
        await signIn(op, base, t.deps.config.operatorEmail);
        await op.goto(`${base}/operator/tenants`);
        await shot(op, "01-operator-tenants");

        await op.fill('input[name="name"]', "Helsingin yliopisto");
        await op.fill('input[name="slug"]', "helsinki");
        await op.selectOption('select[name="tier"]', "standard");
        await op.click('form[action="/operator/tenants"] button[type="submit"]');
        await op.waitForURL(/\/operator\/tenants\/[0-9a-f-]{36}$/);
        const tenantPage = op.url();
        assert.match(await op.textContent("main") ?? "", /Helsingin yliopisto/);

        await op.fill('input[name="email"]', "admin@helsinki.fi");
        await op.selectOption('select[name="role"]', "admin");
        await op.click('form[action$="/users"] button[type="submit"]');
        const setupUrl = (await op.textContent('[data-testid="setup-url"]'))!.trim();
        assert.match(setupUrl, /\/password\/setup\/[\w-]{20,}$/);
        await shot(op, "02-operator-tenant-with-admin");

        // The same page on a phone: readable without sideways scrolling.
        const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
        await phone.context().addCookies(await op.context().cookies());
        await phone.goto(tenantPage);
        assert.match(await phone.textContent("h1") ?? "", /Helsingin yliopisto/);
        await assertFitsWidth(phone);
        await shot(phone, "03-operator-tenant-phone");
        await phone.close();
        await signOut(op);

        // The admin, in a browser of their own.
        const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        const admin = await ctx.newPage();
        await setPassword(admin, setupUrl.replace(t.deps.config.baseUrl, base));
        await signOut(admin);
        await signIn(admin, base, "admin@helsinki.fi");
        assert.match(await admin.textContent("header") ?? "", /Helsingin yliopisto/);
        await admin.click('nav a[href="/settings/api-keys"]');
        await admin.fill('input[name="name"]', "Student registry");
        await admin.check('input[name="scopes"][value="send"]');
        await admin.click('form[action="/settings/api-keys"] button[type="submit"]');
        const key = (await admin.textContent('[data-testid="new-api-key"]'))!.trim();
        assert.match(key, /^skk_/);
        await shot(admin, "04-admin-new-api-key");

        // The key works against the API and belongs to the new tenant.
        const me = await fetch(`${base}/api/v1/me`, {
          headers: { authorization: `Bearer ${key}` },
        });
        assert.equal(me.status, 200);
        const body = await me.json();
        assert.equal(body.tenant.slug, "helsinki");
        assert.equal(body.tenant.tier, "standard");
        assert.deepEqual(body.scopes, ["read", "write", "send"]);

        // Reloading (which re-sends the form) neither shows the key again nor makes a second one.
        await admin.reload();
        assert.equal(await admin.locator('[data-testid="new-api-key"]').count(), 0);
        assert.match(await admin.textContent("main") ?? "", /shown only once/);
        const keys = await t.deps.db.selectFrom("api_keys").select("name")
          .where("tenant_id", "=", body.tenant.id).execute();
        assert.deepEqual(keys.map((k) => k.name), ["Student registry"]);
      });
    } finally {
      await t.close();
    }
  },
});
