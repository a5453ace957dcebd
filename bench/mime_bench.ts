// Cost of building one ~20 KB newsletter (HTML + text) with buildMessage in the render stage.
// Run: deno bench -A bench/mime_bench.ts
import { buildMessage, type MessageInput } from "../core/send/mime.ts";

/** An MJML-shaped HTML body: nested tables, inline styles, Swedish copy; about 20 KB. */
function newsletterHtml(words: string, readMore: string): string {
  const block = (i: number) =>
    `<tr><td align="left" style="font-size:0px;padding:10px 25px;word-break:break-word;">` +
    `<div style="font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:1.5;` +
    `text-align:left;color:#333333;"><h2 style="margin:0 0 8px">Nyhet ${i}: ${words}</h2>` +
    `<p>${words} ${words}</p><a href="https://skicka.example/t/c/01J9ZK8V7Q3D8H2N4W5X6Y7Z8A/${i}"` +
    ` style="color:#0b5fff;text-decoration:none">${readMore}</a></div></td></tr>\n`;
  let html = `<!doctype html><html><head><meta charset="utf-8"><title>Nyhetsbrev</title></head>` +
    `<body style="margin:0;padding:0;background:#f4f4f4"><table role="presentation" width="100%">`;
  for (let i = 0; html.length < 20_000; i++) html += block(i);
  return html + `</table></body></html>`;
}

const swedish = "Höstens bästa erbjudanden för dig i Göteborg, Malmö och Umeå – spara på allt";
const ascii = "The best autumn offers for you in Gothenburg, Malmo and Umea - save on everything";
const html = newsletterHtml(swedish, "Läs mer");
const asciiHtml = newsletterHtml(ascii, "Read more");
const text = html.replace(/<[^>]+>/g, " ").replace(/ {2,}/g, " ");
const asciiText = asciiHtml.replace(/<[^>]+>/g, " ").replace(/ {2,}/g, " ");

const base: MessageInput = {
  from: { name: "Skicka Nyheter", address: "news@skicka.example" },
  to: { name: "Åsa Öberg", address: "asa.oberg@example.se" },
  subject: "Höstens erbjudanden för dig, Åsa 🍂",
  html,
  text,
  headers: {
    "List-Unsubscribe": "<https://skicka.example/u/01J9ZK8V7Q3D8H2N4W5X6Y7Z8A>, " +
      "<mailto:unsubscribe@skicka.example?subject=01J9ZK8V7Q3D8H2N4W5X6Y7Z8A>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    "X-Skicka-Message": "01J9ZK8V7Q3D8H2N4W5X6Y7Z8A",
  },
};

Deno.bench(`buildMessage, Swedish ${(html.length / 1024).toFixed(1)} KB HTML + text (QP)`, {
  group: "mime",
  baseline: true,
}, () => {
  buildMessage(base);
});

Deno.bench("buildMessage, ASCII HTML + text (7bit)", { group: "mime" }, () => {
  buildMessage({ ...base, html: asciiHtml, text: asciiText });
});

// getRandomValues fills at most 64 KiB per call.
const pdf = new Uint8Array(100_000);
for (let i = 0; i < pdf.length; i += 50_000) crypto.getRandomValues(pdf.subarray(i, i + 50_000));
Deno.bench("buildMessage, Swedish HTML + text + 100 KB PDF", { group: "mime" }, () => {
  buildMessage({
    ...base,
    attachments: [{ filename: "Höstkatalog.pdf", contentType: "application/pdf", content: pdf }],
  });
});
