import assert from "node:assert/strict";
import { createPublicKey, verify } from "node:crypto";
import { createDkimSigner, generateDkimKey } from "./dkim.ts";
import {
  createFfiRsaSigner,
  defaultRsaSigner,
  nodeRsaSigner,
  rsaFfiUnavailableReason,
} from "./rsa_ffi.ts";

const rsa = generateDkimKey("rsa");
const ed25519 = generateDkimKey("ed25519");

function seeded(seed: number) {
  return () => (seed = (seed * 48271) % 2147483647) / 2147483647;
}

Deno.test("createFfiRsaSigner() gives node:crypto's exact signature bytes", () => {
  const ffi = createFfiRsaSigner(rsa.privateKeyPem);
  assert.ok(ffi, `FFI unavailable here: ${rsaFfiUnavailableReason()}`);
  const node = nodeRsaSigner(rsa.privateKeyPem);
  const publicKey = createPublicKey(rsa.privateKeyPem);
  const random = seeded(99);
  for (const size of [0, 1, 55, 64, 1000, 20_000, 100_003]) {
    const data = Uint8Array.from({ length: size }, () => Math.floor(random() * 256));
    const a = ffi(data);
    assert.equal(a.length, 256);
    assert.deepEqual(a, node(data), `${size} bytes`);
    assert.ok(verify("sha256", data, publicKey, a));
    // The output buffer is reused inside the signer; earlier results must not change.
    const again = ffi(new Uint8Array([1, 2, 3]));
    assert.notDeepEqual(again, a);
    assert.deepEqual(a, node(data));
  }
});

Deno.test("createFfiRsaSigner() declines keys it must not sign with", () => {
  assert.equal(createFfiRsaSigner(ed25519.privateKeyPem), null);
  assert.equal(createFfiRsaSigner("not a key"), null);
  // A declined key leaves no OpenSSL error behind to confuse the next signature.
  const ffi = createFfiRsaSigner(rsa.privateKeyPem)!;
  const data = new TextEncoder().encode("after a failure");
  assert.deepEqual(ffi(data), nodeRsaSigner(rsa.privateKeyPem)(data));
});

Deno.test("createDkimSigner() output is byte-identical with the FFI and node:crypto signers", () => {
  const now = () => Date.UTC(2026, 10, 29, 9, 30);
  const base = { domain: "skicka.example", selector: "rsa2026", privateKeyPem: rsa.privateKeyPem };
  const viaFfi = createDkimSigner({ ...base, now });
  const viaNode = createDkimSigner({ ...base, now, rsaSigner: nodeRsaSigner });
  const raw = "From: a@skicka.example\r\nTo: b@example.com\r\nSubject: Hej\r\n\r\nHej då\r\n";
  const signed = viaFfi(raw);
  assert.equal(signed, viaNode(raw));
  assert.match(signed, /^DKIM-Signature: v=1; a=rsa-sha256;/);
  // Not vacuous: another key gives other bytes.
  const other = createDkimSigner({
    ...base,
    now,
    privateKeyPem: generateDkimKey("rsa").privateKeyPem,
  });
  assert.notEqual(other(raw), signed);
});

Deno.test("defaultRsaSigner() falls back to node:crypto without FFI permission", async () => {
  const module = new URL("./rsa_ffi.ts", import.meta.url).href;
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      script,
      `import { defaultRsaSigner, nodeRsaSigner, rsaFfiUnavailableReason, ` +
        `setRsaFfiFallbackReporter } from ${JSON.stringify(module)};\n` +
        `const reports: string[] = [];\n` +
        `setRsaFfiFallbackReporter((r) => reports.push(r));\n` +
        `const pem = await Deno.readTextFile(Deno.args[0]!);\n` +
        `const data = new TextEncoder().encode("x");\n` +
        `const a = defaultRsaSigner(pem)(data); defaultRsaSigner(pem);\n` +
        `const same = a.join() === nodeRsaSigner(pem)(data).join();\n` +
        `console.log(JSON.stringify({ same, reason: rsaFfiUnavailableReason(), reports }));\n`,
    );
    const pemFile = await Deno.makeTempFile();
    await Deno.writeTextFile(pemFile, rsa.privateKeyPem);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-read", "--allow-env", script, pemFile],
      env: { RUST_BACKTRACE: "0" },
    }).output();
    await Deno.remove(pemFile);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const result = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.deepEqual(result, {
      same: true,
      reason: "no FFI permission",
      reports: ["no FFI permission"],
    });
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("defaultRsaSigner() uses libcrypto inside a Web Worker", async () => {
  const module = new URL("./rsa_ffi.ts", import.meta.url).href;
  const code =
    `import { createFfiRsaSigner, rsaFfiUnavailableReason } from ${
      JSON.stringify(module)
    };\nself.onmessage = (e) => {\n  const sign = createFfiRsaSigner(e.data.pem);\n` +
    `  self.postMessage({ sig: sign ? sign(e.data.data) : null, reason: rsaFfiUnavailableReason() });\n};\n`;
  const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  try {
    const data = new TextEncoder().encode("signed in a worker");
    const reply = await new Promise<{ sig: Uint8Array | null; reason: string }>((resolve) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.postMessage({ pem: rsa.privateKeyPem, data });
    });
    assert.equal(reply.reason, "");
    assert.deepEqual(reply.sig, defaultRsaSigner(rsa.privateKeyPem)(data));
    assert.deepEqual(reply.sig, nodeRsaSigner(rsa.privateKeyPem)(data));
  } finally {
    worker.terminate();
    URL.revokeObjectURL(url);
  }
});
