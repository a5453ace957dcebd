// Skicka as a process runs the submission server in its smtp role (through the plugin's
// startSmtp), with a self-signed development certificate made in DATA_DIR when none is set.
import assert from "node:assert/strict";
import { processEnv } from "../../tests/helpers/db.ts";
import { freePort } from "../../core/smtp/_test_servers.ts";
import { SmtpTestClient } from "./smtp_test_client.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

Deno.test("the smtp role serves submission with STARTTLS on SUBMISSION_SMTP_PORT", async () => {
  const { env, cleanup } = await processEnv();
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--role=all"],
    env: {
      ...env,
      NO_COLOR: "1",
      PORT: String(freePort()),
      INBOUND_SMTP_PORT: String(freePort()),
      SUBMISSION_SMTP_PORT: String(port),
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs: string[] = [];
  const decoder = new TextDecoder();
  const reading = Promise.all([child.stdout, child.stderr].map(async (s) => {
    for await (const chunk of s) logs.push(decoder.decode(chunk));
  }));
  try {
    let client: SmtpTestClient | null = null;
    for (let i = 0; i < 600 && !client; i++) {
      try {
        client = (await SmtpTestClient.connect(port)).client;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(client, `submission never listened:\n${logs.join("")}`);
    try {
      const ehlo = await client.cmd("EHLO client.test");
      assert.match(ehlo.text, /^STARTTLS$/m);
      const cert = await Deno.readTextFile(`${env.DATA_DIR}/submission-tls/cert.pem`);
      const inside = await client.startTls(cert);
      assert.match(inside.text, /^AUTH PLAIN LOGIN$/m);
      const mail = await client.cmd("MAIL FROM:<a@b.example>");
      assert.equal(mail.code, 530, "nothing without AUTH");
    } finally {
      client.close();
    }
    assert.match(logs.join(""), /smtp submission listening/);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await reading;
    await cleanup();
  }
});
