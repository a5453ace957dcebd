// Headless Chromium for UI tests: Debian's /usr/bin/chromium driven by playwright-core, against
// a test app served on 127.0.0.1. Screenshots go to test-results/ (git-ignored).
import { type Browser, chromium, type Page } from "playwright-core";
import type { TestApp } from "./app.ts";

export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
if (!hasChromium) {
  console.warn(`browser tests skipped: ${CHROMIUM} is missing (apt install chromium)`);
}

const SHOTS = new URL("../../test-results/", import.meta.url).pathname;

export async function shot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });
}

/** Serves the app on a free local port and launches Chromium; both are closed afterwards. */
export async function withBrowser(
  t: TestApp,
  fn: (browser: Browser, base: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req, info) => t.app.fetch(req, info),
  );
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    await fn(browser, `http://127.0.0.1:${server.addr.port}`);
  } finally {
    await browser?.close();
    await server.shutdown();
  }
}

/** Signs in through the login form. */
export async function signIn(page: Page, base: string, email: string, password: string) {
  await page.goto(`${base}/login`);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', password);
  await page.click('form[action="/login"] button[type="submit"]');
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
}
