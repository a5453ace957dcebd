// A send's statistics page in headless Chromium: a mailing really delivered over SMTP to a local
// peer (one recipient refused), opens and clicks made through the public tracking endpoints over
// HTTP (a person and a scanner), then the page's numbers, its SVG chart, the recipient filter
// and the CSV download, as a user sees them.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { simpleParser } from "mailparser";
import { PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { hasChromium, shot, signIn, withBrowser } from "./helpers/browser.ts";
import { createPerson } from "../core/people/persons.ts";
import { createSender, verifySender } from "../core/mailings/senders.ts";
import { createMailing } from "../core/mailings/mailings.ts";
import { sendMailing } from "../core/mailings/send.ts";
import { SendWorker } from "../core/send/worker.ts";
import { RelayTransport } from "../core/send/smtp_transport.ts";
import { startSmtpServer } from "../core/smtp/_test_servers.ts";
import { trackingRecorder } from "../core/feedback/events.ts";

const PERSON = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0";
const SCANNER = "Mimecast-Scanner/1.0";

Deno.test({
  name: "browser: a send's statistics page shows its numbers, chart, filter and CSV",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t = await testApp();
    const smtp = await startSmtpServer({
      onRcptTo(address, _s, callback) {
        if (address.address.startsWith("dan@")) {
          return callback(
            Object.assign(new Error("5.1.1 <dan@uni.example>: User unknown"), {
              responseCode: 550,
            }),
          );
        }
        callback();
      },
    });
    try {
      const org = await seedTenant(t, { slug: "stats-browser-org" });
      const tid = org.tenant.id;
      const sender = await createSender(
        t.deps,
        tid,
        { name: "News", address: "news@uni.example" },
        "t",
      );
      await verifySender(t.deps, tid, sender.id, "t");
      const persons: string[] = [];
      for (const name of ["anna", "bo", "cia", "dan"]) {
        persons.push(
          (await createPerson(t.deps, tid, {
            first_name: name,
            addresses: [{ address: `${name}@uni.example` }],
          }, "t")).id,
        );
      }
      const m = await createMailing(t.deps, tid, {
        from_identity_id: sender.id,
        subject: "Autumn news",
        body_html: '<p>Hello {{firstname}}, <a href="https://uni.example/autumn">read on</a>.</p>',
        recipients: { persons },
      }, "t");
      const { send_id: sendId } = await sendMailing(t.deps, tid, m.id, "t");
      const worker = new SendWorker(
        t.deps,
        new RelayTransport(`smtp://127.0.0.1:${smtp.port}`, { pool: { tls: "off" } }),
        { batchSize: 10 },
      );
      try {
        while (await worker.runOnce() > 0) { /* drain */ }
      } finally {
        await worker.stop();
      }
      // What each recipient's mail program got: its pixel and click paths.
      const mail = new Map<string, { pixel: string; click: string }>();
      for (const r of smtp.received) {
        const html = String((await simpleParser(Buffer.from(r.body))).html);
        mail.set(r.to[0]!.split("@")[0]!, {
          pixel: /src="http:\/\/skicka\.test(\/t\/o\/[\w-]+\.gif)"/.exec(html)![1]!,
          click: /href="http:\/\/skicka\.test(\/t\/c\/[\w-]+)"/.exec(html)![1]!,
        });
      }
      assert.deepEqual([...mail.keys()].sort(), ["anna", "bo", "cia"], "dan was refused");

      await withBrowser(t, async (browser, base) => {
        t.advance(3600_000); // read an hour later
        const hit = async (path: string, ua: string) => {
          const res = await fetch(`${base}${path}`, {
            headers: { "user-agent": ua },
            redirect: "manual",
          });
          await res.body?.cancel();
          return res.status;
        };
        // Anna opens and clicks, Bo opens, Cia's security gateway fetches the pixel.
        assert.equal(await hit(mail.get("anna")!.pixel, PERSON), 200);
        t.advance(20_000);
        assert.equal(await hit(mail.get("anna")!.click, PERSON), 302);
        assert.equal(await hit(mail.get("bo")!.pixel, PERSON), 200);
        assert.equal(await hit(mail.get("cia")!.pixel, SCANNER), 200);
        await trackingRecorder(t.deps).flush();

        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        await signIn(page, base, org.email, PASSWORD);
        await page.goto(`${base}/sends/${sendId}/stats`);
        const stat = async (name: string) =>
          (await page.textContent(`[data-stat="${name}"] strong`))?.trim();
        assert.equal(await stat("recipients"), "4");
        assert.equal(await stat("sent"), "3");
        assert.equal(await stat("failed"), "1");
        assert.equal(await stat("opened"), "2");
        assert.equal(await stat("clicked"), "1");
        assert.equal(await stat("machine"), "1", "the gateway's open, apart from people");
        assert.match((await page.textContent('[data-stat="opened"]')) ?? "", /66[.,]7\s?%/);

        const chart = page.locator('svg[data-testid="timeline"]');
        assert.ok(await chart.isVisible(), "the chart is drawn");
        assert.equal(await chart.locator("polyline").count(), 3, "people, clicks and machines");
        // One hour's bucket: a line of one point shows nothing, its dots do.
        assert.equal(await chart.locator("circle.dot").count(), 3);
        const dot = await chart.locator("circle.dot.s-open").boundingBox();
        assert.ok(dot && dot.width > 0 && dot.height > 0, "the opens' dot is visible");
        await shot(page, "stats-send");

        const addresses = async () =>
          (await page.locator('[data-testid="recipients"] tbody tr td:first-child')
            .allTextContents()).map((s) => s.trim()).sort();
        assert.deepEqual(await addresses(), [
          "anna@uni.example",
          "bo@uni.example",
          "cia@uni.example",
          "dan@uni.example",
        ]);
        await page.click('nav.filters a:text-is("Failed")');
        await page.waitForURL(/status=failed/);
        assert.deepEqual(await addresses(), ["dan@uni.example"]);
        await page.click('nav.filters a:text-is("Opened")');
        await page.waitForURL(/status=opened/);
        assert.deepEqual(await addresses(), ["anna@uni.example", "bo@uni.example"]);
        assert.equal(
          await page.getAttribute('nav.filters a[aria-current="page"]', "href"),
          "?status=opened",
        );
        await shot(page, "stats-send-opened");

        const [download] = await Promise.all([
          page.waitForEvent("download"),
          page.click("nav.filters a[download]"),
        ]);
        assert.match(download.suggestedFilename(), /^recipients-.*\.csv$/);
        const file = await download.path();
        const lines = (await Deno.readTextFile(file!)).trim().split("\r\n");
        assert.match(lines[0]!, /^address,person_id,status,sent_at,opened_at/);
        assert.deepEqual(lines.slice(1).map((l) => l.split(",")[0]).sort(), [
          "anna@uni.example",
          "bo@uni.example",
        ]);
      });
    } finally {
      await smtp.close();
      await t.close();
    }
  },
});
