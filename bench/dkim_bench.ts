// Cost of DKIM-signing one ~20 KB message: rsa-sha256 (2048-bit) through libcrypto over FFI and
// through node:crypto, against ed25519-sha256 and the RSA + Ed25519 dual signature.
// Run: deno bench -A bench/dkim_bench.ts
import { createDkimSigner, createDkimSignerSet, generateDkimKey } from "../core/send/dkim.ts";
import {
  createFfiRsaSigner,
  nodeRsaSigner,
  rsaFfiUnavailableReason,
} from "../core/send/rsa_ffi.ts";
import { buildMessage } from "../core/send/mime.ts";

// A ~20 KB HTML body (markup-heavy, as MJML output is) and its ~5 KB text version.
const block = `<tr><td style="font-size:0px;padding:10px 25px;word-break:break-word;">` +
  `<div style="font-family:Helvetica,Arial,sans-serif;font-size:15px;color:#333333;">` +
  `Höstens bästa erbjudanden för dig i Göteborg, Malmö och Umeå.</div></td></tr>\n`;
const html = `<table role="presentation">${block.repeat(Math.ceil(20_000 / block.length))}</table>`;
const { raw } = buildMessage({
  from: { name: "Skicka Nyheter", address: "news@skicka.example" },
  to: { name: "Åsa Öberg", address: "asa.oberg@example.se" },
  subject: "Höstens erbjudanden för dig, Åsa",
  html,
  text: "Höstens bästa erbjudanden för dig i Göteborg, Malmö och Umeå.\n".repeat(80),
  headers: { "List-Unsubscribe": "<https://skicka.example/u/01J9ZK8V7Q3D8H2N4W5X6Y7Z8A>" },
});
const bytes = new TextEncoder().encode(raw);

const rsaPem = generateDkimKey("rsa").privateKeyPem;
const edPem = generateDkimKey("ed25519").privateKeyPem;
const ffiSign = createFfiRsaSigner(rsaPem);
if (!ffiSign) throw new Error(`libcrypto over FFI is unavailable: ${rsaFfiUnavailableReason()}`);
const nodeSign = nodeRsaSigner(rsaPem);

const options = { domain: "skicka.example" };
const rsaNode = createDkimSigner({
  ...options,
  selector: "rsa",
  privateKeyPem: rsaPem,
  rsaSigner: nodeRsaSigner,
});
const rsa = createDkimSigner({ ...options, selector: "rsa", privateKeyPem: rsaPem });
const ed25519 = createDkimSigner({ ...options, selector: "ed", privateKeyPem: edPem });
const dual = createDkimSignerSet([
  { ...options, selector: "ed", privateKeyPem: edPem },
  { ...options, selector: "rsa", privateKeyPem: rsaPem },
]);

// What RSA signs for DKIM: the canonical signed headers, a few hundred bytes.
const headerData = new TextEncoder().encode(raw.slice(0, 600));

Deno.bench("RSA-2048 PKCS#1 v1.5 signature of 600 bytes, node:crypto", {
  group: "rsa",
  baseline: true,
}, () => {
  nodeSign(headerData);
});

Deno.bench("RSA-2048 PKCS#1 v1.5 signature of 600 bytes, libcrypto FFI", { group: "rsa" }, () => {
  ffiSign(headerData);
});

Deno.bench(`rsa-sha256 DKIM sign, ${(raw.length / 1024).toFixed(1)} KB string, node:crypto`, {
  group: "dkim",
  baseline: true,
}, () => {
  rsaNode(raw);
});

Deno.bench("rsa-sha256 DKIM sign, same string, libcrypto FFI (the default)", {
  group: "dkim",
}, () => {
  rsa(raw);
});

Deno.bench("ed25519-sha256 sign, same string", { group: "dkim" }, () => {
  ed25519(raw);
});

Deno.bench("ed25519-sha256 sign, same message as bytes", { group: "dkim" }, () => {
  ed25519(bytes);
});

Deno.bench("rsa-sha256 + ed25519-sha256 dual signature, same string", { group: "dkim" }, () => {
  dual(raw);
});
