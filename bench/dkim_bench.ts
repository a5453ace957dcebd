// Cost of DKIM-signing one ~20 KB message: rsa-sha256 (2048-bit) against ed25519-sha256.
// Run: deno bench -A bench/dkim_bench.ts
import { createDkimSigner, generateDkimKey } from "../core/send/dkim.ts";
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

const options = { domain: "skicka.example" };
const rsa = createDkimSigner({
  ...options,
  selector: "rsa",
  privateKeyPem: generateDkimKey("rsa").privateKeyPem,
});
const ed25519 = createDkimSigner({
  ...options,
  selector: "ed",
  privateKeyPem: generateDkimKey("ed25519").privateKeyPem,
});

Deno.bench(`rsa-sha256 sign, ${(raw.length / 1024).toFixed(1)} KB string`, {
  group: "dkim",
  baseline: true,
}, () => {
  rsa(raw);
});

Deno.bench("ed25519-sha256 sign, same string", { group: "dkim" }, () => {
  ed25519(raw);
});

Deno.bench("ed25519-sha256 sign, same message as bytes", { group: "dkim" }, () => {
  ed25519(bytes);
});
