// Skicka as a process: start-up errors, first-start operator link, health, graceful shutdown.
import assert from "node:assert/strict";
import { processEnv } from "./helpers/db.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

function skicka(env: Record<string, string>, args: string[] = []) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { ...env, NO_COLOR: "1" },
    clearEnv: false,
    stdout: "piped",
    stderr: "piped",
  });
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Reads a stream until `pattern` matches the accumulated text; returns that text. */
async function readUntil(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
  sink: string[],
): Promise<RegExpMatchArray> {
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended before ${pattern}:\n${sink.join("")}`);
      sink.push(decoder.decode(value, { stream: true }));
      const m = sink.join("").match(pattern);
      if (m) return m;
    }
  } finally {
    reader.releaseLock();
  }
}

Deno.test("a bad configuration value stops start-up with a message naming the variable", async () => {
  const { env, cleanup } = await processEnv();
  try {
    const out = await skicka({ ...env, PORT: "abc", DEFAULT_LOCALE: "de" }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1);
    assert.match(stderr, /Skicka cannot start/);
    assert.match(stderr, /PORT="abc": .*whole number/);
    assert.match(stderr, /DEFAULT_LOCALE="de"/);
    assert.doesNotMatch(stderr, /at file:\/\//, "no stack trace for a configuration mistake");
  } finally {
    await cleanup();
  }
});

Deno.test("an unknown --role is refused before anything starts", async () => {
  const out = await skicka({}, ["--role=mailer"]).output();
  assert.equal(out.code, 1);
  assert.match(new TextDecoder().decode(out.stderr), /--role=mailer: expected one of api, worker/);
});

Deno.test("first start prints the URL and a one-time operator link; SIGTERM stops cleanly", async () => {
  const { env, cleanup } = await processEnv();
  const port = freePort();
  const child = skicka({ ...env, PORT: String(port) }).spawn();
  const stdout: string[] = [];
  const stderr: string[] = [];
  try {
    const [, link] = await readUntil(
      child.stderr,
      /(http:\/\/127\.0\.0\.1:\d+\/password\/setup\/\S+)[\s\S]*Skicka is running at/,
      stderr,
    ) as unknown as [string, string];
    assert.ok(link.startsWith(`http://127.0.0.1:${port}/`));

    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), {
      ok: true,
      database: env.DATABASE_URL ? "postgres" : "pglite",
    });
    const page = await fetch(link);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<form[^>]+method="post"/i);

    if (!env.DATABASE_URL) {
      // PGlite is single-process: a second Skicka on the same data directory must refuse.
      const second = await skicka({ ...env, PORT: String(freePort()) }).output();
      assert.equal(second.code, 1);
      assert.match(new TextDecoder().decode(second.stderr), /in use by process \d+/);
    }

    child.kill("SIGTERM");
    const [status] = await Promise.all([
      child.status,
      (async () => {
        for await (const chunk of child.stdout) stdout.push(new TextDecoder().decode(chunk));
      })(),
    ]);
    assert.equal(status.code, 0, stderr.join(""));
    const logs = stdout.join("").trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(logs.some((l) => l.msg === "shutting down" && l.signal === "SIGTERM"));
    assert.equal(logs.at(-1).msg, "stopped");
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await child.status;
    await cleanup();
  }
});
