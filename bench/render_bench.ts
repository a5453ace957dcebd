// Run: deno bench -A bench/render_bench.ts — the render stage for one recipient: merge fields,
// 10 tracked links and the pixel signed, List-Unsubscribe, MIME with base64 (no DKIM: see
// dkim_bench.ts). The template is compiled once, as the worker does.
import { compileContent, renderMessage } from "../core/send/render.ts";
import type { SendContent } from "../core/send/queue.ts";

const links = Array.from(
  { length: 10 },
  (_, i) => `<a href="https://www.uni.example/n/${i}">Läs mer ${i}</a>`,
);
const para = "<p>Hej {{firstname}}! Lorem ipsum dolor sit amet, consectetur adipiscing elit. </p>";
const html = `<html><body><h1>Alumninytt för {{firstname}} {{lastname}}</h1>${para.repeat(150)}${
  links.join(" · ")
}<p>{{organisation}}</p></body></html>`;
const content: SendContent = {
  from: { name: "Alumni", address: "alumni@uni.example" },
  subject: "Alumninytt för {{firstname}}",
  html,
};
const tracking = {
  secret: "bench-secret-bench-secret-bench-secret-0",
  baseUrl: "https://skicka.uni.example",
  bounceDomain: "bounces.uni.example",
};
const compiled = compileContent(content);
let n = 0;

Deno.bench(`render one message (${(html.length / 1024).toFixed(1)} KB HTML, 10 tracked links)`, {
  group: "render",
  baseline: true,
}, () => {
  n++;
  renderMessage(compiled, {
    address: `user${n}@domain${n % 50}.example`,
    first_name: "Förnamn",
    last_name: `Efternamn${n}`,
    organisation: "Lunds universitet",
  }, {
    messageId: `<${n}@uni.example>`,
    tracking,
    message: {
      tenantId: "0195e2c4-0000-7000-8000-000000000001",
      queueId: "0195e2c4-0000-7000-8000-" + String(n).padStart(12, "0"),
      sendId: "0195e2c4-0000-7000-8000-000000000002",
      kind: "mass",
    },
  });
});

Deno.bench(
  "compile a content (once per send; cached by hash afterwards)",
  { group: "render" },
  () => {
    compileContent({ ...content, subject: `Alumninytt ${n++}` });
  },
);
