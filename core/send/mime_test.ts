import assert from "node:assert/strict";
import { type AddressObject, type ParsedMail, simpleParser } from "mailparser";
import { buildMessage, type MessageInput } from "./mime.ts";

function parse(raw: string): Promise<ParsedMail> {
  return simpleParser(raw, { keepCidLinks: true, skipTextToHtml: true });
}

/** The mailboxes of an address header, whether mailparser gave one object or several. */
function boxes(
  h: AddressObject | AddressObject[] | undefined,
): { name: string; address?: string }[] {
  return (Array.isArray(h) ? h : h ? [h] : []).flatMap((o) =>
    o.value.map((v) => ({ name: v.name, address: v.address }))
  );
}

/** Every line ends in CRLF, none is longer than 998 octets, and the whole message is 7-bit. */
function assertWellFormed(raw: string, headerLimit = 78): void {
  assert.ok(raw.endsWith("\r\n"), "message ends with CRLF");
  assert.doesNotMatch(raw, /\r(?!\n)|(?<!\r)\n/, "no bare CR or LF");
  assert.doesNotMatch(raw, /[^\t\r\n\x20-\x7e]/, "7-bit output without controls");
  const lines = raw.split("\r\n");
  for (const line of lines) assert.ok(line.length <= 998, `line of ${line.length} octets`);
  const head = raw.slice(0, raw.indexOf("\r\n\r\n")).split("\r\n");
  for (const line of head) assert.ok(line.length <= headerLimit, `header line too long: ${line}`);
}

function headerBlock(raw: string): string {
  return raw.slice(0, raw.indexOf("\r\n\r\n"));
}

const base: MessageInput = {
  from: { name: "Skicka AB", address: "news@skicka.example" },
  to: { address: "anna@example.com" },
  subject: "Hello",
  text: "Hi",
};

Deno.test("buildMessage() round-trips Swedish and Finnish names, subject and bodies", async () => {
  const html = "<p>Hej Åsa! Välkommen till vår <b>höstkampanj</b> – 20 % rabatt. Äöå ÅÄÖ</p>\n" +
    "<p>Hyvää päivää, Jääskeläinen! 🎉🇸🇪</p>";
  const text = "Hej Åsa!\nVälkommen till vår höstkampanj – 20 % rabatt.\nHyvää päivää 🎉";
  const { raw, messageId } = buildMessage({
    from: { name: "Örjan Ågren", address: "orjan@skicka.example" },
    to: [
      { name: "Åsa Öberg", address: "asa@example.se" },
      { name: "Jääskeläinen, Matti", address: "matti@example.fi" },
      { address: "plain@example.com" },
    ],
    cc: { name: 'O\'Brien "Bob"', address: "bob@example.ie" },
    replyTo: { name: "Kundtjänst", address: "support@skicka.example" },
    subject: "Höstens erbjudanden för dig, Åsa – spara 20 % på allt i butiken! 🍂 ÅÄÖ åäö",
    html,
    text,
  });
  assertWellFormed(raw);
  const m = await parse(raw);
  assert.equal(
    m.subject,
    "Höstens erbjudanden för dig, Åsa – spara 20 % på allt i butiken! 🍂 ÅÄÖ åäö",
  );
  assert.deepEqual(boxes(m.from), [{ name: "Örjan Ågren", address: "orjan@skicka.example" }]);
  assert.deepEqual(boxes(m.to), [
    { name: "Åsa Öberg", address: "asa@example.se" },
    { name: "Jääskeläinen, Matti", address: "matti@example.fi" },
    { name: "", address: "plain@example.com" },
  ]);
  assert.deepEqual(boxes(m.cc), [{ name: 'O\'Brien "Bob"', address: "bob@example.ie" }]);
  assert.deepEqual(boxes(m.replyTo), [{ name: "Kundtjänst", address: "support@skicka.example" }]);
  assert.equal(m.messageId, messageId);
  assert.match(messageId, /^<[0-9a-f-]{36}@skicka\.example>$/);
  assert.equal(m.html, html);
  assert.equal(m.text, text);
  assert.match(raw, /Content-Type: multipart\/alternative/);
  assert.ok(raw.indexOf("text/plain") < raw.indexOf("text/html"), "text part first");
});

Deno.test("buildMessage() refuses header injection in every value", async () => {
  const { raw } = buildMessage({
    from: { name: "Evil\r\nBcc: a@evil.example", address: "news@skicka.example" },
    to: { name: "X\nCc: b@evil.example", address: "anna@example.com" },
    subject: "Subject\r\nBcc: x@y",
    text: "body\n",
    headers: {
      "X-Skicka-Campaign": "c1\r\nBcc: d@evil.example\r\n\r\n<html>",
      "X-Tab": "a\tb\u0000c",
    },
  });
  assertWellFormed(raw);
  const head = headerBlock(raw);
  // No header line may start with an injected name; folded lines start with a space.
  assert.doesNotMatch(head, /\r\n(Bcc|Cc):/i);
  const m = await parse(raw);
  assert.equal(m.subject, "Subject Bcc: x@y");
  assert.equal(m.headers.get("bcc"), undefined);
  assert.equal(m.cc, undefined);
  assert.equal(m.headers.get("x-skicka-campaign"), "c1 Bcc: d@evil.example <html>");
  assert.equal(m.headers.get("x-tab"), "a bc");
  assert.equal(m.text, "body\n");
  assert.deepEqual(boxes(m.from), [
    { name: "Evil Bcc: a@evil.example", address: "news@skicka.example" },
  ]);
  const bad = [
    "anna@example.com\r\nBcc: c@evil.example",
    "a@b.example>, <c@d.example",
    "a@b.example, c@d.example",
    "a b@c",
    "ab",
  ];
  for (const address of bad) {
    assert.throws(() => buildMessage({ ...base, to: { address } }), /Invalid email address/);
  }
  const quoted = buildMessage({ ...base, to: { name: "Q", address: '"john doe"@example.com' } });
  assert.deepEqual(boxes((await parse(quoted.raw)).to), [
    { name: "Q", address: '"john doe"@example.com' },
  ]);
  assert.throws(() => buildMessage({ ...base, headers: { "Bcc": "x@y" } }), /set by the message/);
  assert.throws(
    () => buildMessage({ ...base, headers: { "X-A\r\nB": "1" } }),
    /Invalid header name/,
  );
});

Deno.test("buildMessage() folds long headers and keeps encoded-words within 75 characters", async () => {
  const subject = "Å".repeat(120) + " " + "word ".repeat(40) + "🎉".repeat(30);
  const many = Array.from({ length: 30 }, (_, i) => ({
    name: `Kund nummer ${i} Östlund`,
    address: `kund${i}@example.se`,
  }));
  const { raw } = buildMessage({
    ...base,
    to: many,
    subject,
    headers: { "X-Long-Words": "alpha beta ".repeat(30).trim() },
  });
  assertWellFormed(raw);
  for (const word of headerBlock(raw).match(/=\?[^?]+\?[BQ]\?[^?]*\?=/g) ?? []) {
    assert.ok(word.length <= 75, `encoded-word of ${word.length}`);
  }
  const m = await parse(raw);
  assert.equal(m.subject, subject.trim());
  assert.equal(boxes(m.to).length, 30);
  assert.deepEqual(boxes(m.to)[29], {
    name: "Kund nummer 29 Östlund",
    address: "kund29@example.se",
  });
  assert.equal(m.headers.get("x-long-words"), "alpha beta ".repeat(30).trim());
});

Deno.test("buildMessage() splits a word too long for one line into encoded-words", async () => {
  const subject = "Kod: " + "x".repeat(1500);
  const { raw } = buildMessage({ ...base, subject });
  assertWellFormed(raw);
  assert.equal((await parse(raw)).subject, subject);
  // Extra headers are mostly structured, where encoded-words would change their meaning.
  const url = `<https://x/${"y".repeat(1000)}>`;
  assert.throws(
    () => buildMessage({ ...base, headers: { "List-Unsubscribe": url } }),
    /List-Unsubscribe has a word too long/,
  );
});

Deno.test("buildMessage() writes List-Unsubscribe and tracking headers unchanged", async () => {
  const unsubscribe = "<https://skicka.example/u/" + "a".repeat(90) +
    ">, <mailto:unsubscribe@skicka.example?subject=u-123>";
  const { raw } = buildMessage({
    ...base,
    headers: {
      "List-Unsubscribe": unsubscribe,
      "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
      "X-Skicka-Message": "01J9ZK8V7Q3D8H2N4W5X6Y7Z8A",
    },
  });
  assertWellFormed(raw, 998);
  const m = await parse(raw);
  const lines = new Map(m.headerLines.map((h) => [h.key, h.line]));
  assert.equal(
    lines.get("list-unsubscribe")?.replace(/\r\n /g, " "),
    "List-Unsubscribe: " + unsubscribe,
  );
  assert.equal(
    lines.get("list-unsubscribe-post"),
    "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
  );
  assert.equal(m.headers.get("x-skicka-message"), "01J9ZK8V7Q3D8H2N4W5X6Y7Z8A");
});

Deno.test("buildMessage() uses quoted-printable with soft breaks and 7bit for plain ASCII", async () => {
  const ascii = "Short ASCII line.\nAnother one with = sign and trailing space \n.leading dot";
  const long = "Lorem ipsum dolor sit amet, ".repeat(60) + "slut = end\t\n" + "x".repeat(300) +
    " \n" + "ä".repeat(100) + "\n" + "=".repeat(90);
  const { raw } = buildMessage({ ...base, text: ascii, html: long });
  assertWellFormed(raw);
  const [, textPart, htmlPart] = raw.split(/--=_a[0-9a-f]+/);
  assert.match(textPart!, /Content-Transfer-Encoding: 7bit/);
  assert.match(htmlPart!, /Content-Transfer-Encoding: quoted-printable/);
  const qpBody = htmlPart!.slice(htmlPart!.indexOf("\r\n\r\n") + 4).trimEnd();
  for (const line of qpBody.split("\r\n")) {
    assert.ok(line.length <= 76, `QP line of ${line.length}`);
    assert.doesNotMatch(line, /[ \t]$/, "no trailing whitespace in QP");
    assert.doesNotMatch(line, /=(?![0-9A-F]{2}|$)/, "every = is an escape or a soft break");
  }
  const m = await parse(raw);
  assert.equal(m.text, ascii);
  assert.equal(m.html, long);
});

Deno.test("buildMessage() carries attachments and inline images byte for byte", async () => {
  const pdf = crypto.getRandomValues(new Uint8Array(50_000));
  const png = crypto.getRandomValues(new Uint8Array(3_000));
  const empty = new Uint8Array(0);
  const longName =
    "Årsredovisning för räkenskapsåret 2025 – Skicka Aktiebolag (slutlig version) ✅.pdf";
  const { raw } = buildMessage({
    ...base,
    html: '<p>Logga: <img src="cid:logo@skicka"></p>',
    text: "Logga",
    attachments: [
      { filename: longName, contentType: "application/pdf", content: pdf },
      { filename: "logo.png", contentType: "image/png", content: png, contentId: "logo@skicka" },
      { filename: 'tom "fil".txt', contentType: "text/plain\r\nX-Evil: 1", content: empty },
      {
        filename: "Ä.bin",
        contentType: "application/octet-stream",
        content: pdf.subarray(7, 1007),
      },
    ],
  });
  assertWellFormed(raw);
  assert.doesNotMatch(raw, /\r\nX-Evil/);
  assert.match(raw, /multipart\/mixed/);
  assert.match(raw, /multipart\/related/);
  for (const line of raw.split("\r\n")) {
    if (/^[A-Za-z0-9+/]{77,}/.test(line)) assert.fail("base64 line over 76");
  }
  const m = await parse(raw);
  assert.equal(m.html, '<p>Logga: <img src="cid:logo@skicka"></p>');
  assert.equal(m.attachments.length, 4);
  const byName = new Map(m.attachments.map((x) => [x.filename, x]));
  const [a, b, c, d] = [longName, "logo.png", 'tom "fil".txt', "Ä.bin"].map((n) => byName.get(n));
  assert.equal(a?.filename, longName);
  assert.equal(a?.contentType, "application/pdf");
  assert.deepEqual(new Uint8Array(a!.content), pdf);
  assert.equal(b?.filename, "logo.png");
  assert.equal(b?.contentId, "<logo@skicka>");
  assert.equal(b?.contentDisposition, "inline");
  assert.equal(b?.related, true);
  assert.deepEqual(new Uint8Array(b!.content), png);
  assert.equal(c?.filename, 'tom "fil".txt');
  // mailparser guesses octet-stream parts from the name, so the fallback is checked in the source.
  assert.ok(raw.includes('Content-Type: application/octet-stream;\r\n name="tom \\"fil\\".txt"'));
  assert.equal(c?.content.length, 0);
  assert.equal(d?.filename, "Ä.bin");
  assert.deepEqual(new Uint8Array(d!.content), pdf.subarray(7, 1007));
});

Deno.test("buildMessage() picks boundaries absent from 7bit content", () => {
  for (let i = 0; i < 20; i++) {
    const { raw } = buildMessage({ ...base, text: "a", html: "<p>=_a --=_a</p>" });
    const boundary = /boundary="([^"]+)"/.exec(raw)?.[1];
    assert.ok(boundary);
    assert.equal(raw.split("--" + boundary).length, 4, "two parts and the closing delimiter");
  }
});

Deno.test("buildMessage() writes Date and a given Message-ID", async () => {
  const date = new Date("2026-03-04T05:06:07Z");
  const { raw, messageId } = buildMessage({ ...base, date, messageId: "abc.123@skicka.example" });
  assert.equal(messageId, "<abc.123@skicka.example>");
  assert.match(raw, /\r\nDate: Wed, 04 Mar 2026 05:06:07 \+0000\r\n/);
  assert.match(raw, /\r\nMIME-Version: 1\.0\r\n/);
  const m = await parse(raw);
  assert.equal(m.date?.getTime(), date.getTime());
  assert.equal(m.messageId, "<abc.123@skicka.example>");
  assert.throws(() => buildMessage({ ...base, to: [] }), /at least one address/);
  assert.throws(() => buildMessage({ ...base, date: new Date(NaN) }), /Invalid date/);
});

Deno.test("buildMessage() sends an HTML-only message as a single part", async () => {
  // The CRLF that ends a message belongs to a single part's body; one is added only if missing.
  for (const [html, parsed] of [["<p>Hej</p>", "<p>Hej</p>\n"], ["<p>Hej</p>\n", "<p>Hej</p>\n"]]) {
    const { raw } = buildMessage({ ...base, text: undefined, html });
    assert.doesNotMatch(raw, /multipart/);
    assert.ok(raw.endsWith("<p>Hej</p>\r\n"));
    assert.equal((await parse(raw)).html, parsed);
  }
});

Deno.test("buildMessage() round-trips random text in every field (seeded)", async () => {
  let seed = 20261122;
  const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const alphabet = [..."abcXYZ019 =.-_?!\"'<>,;:åäöÅÄÖõü€", "🎉", "🇸🇪", "=?", "  ", "\t"];
  const pick = (n: number, extra: string[] = []) => {
    const chars = [...alphabet, ...extra];
    let s = "";
    for (let i = 0; i < n; i++) s += chars[Math.floor(random() * chars.length)];
    return s;
  };
  for (let i = 0; i < 150; i++) {
    const subject = pick(Math.floor(random() * 120)).replace(/\t/g, " ").trim();
    const name = pick(1 + Math.floor(random() * 40)).replace(/\t/g, " ").trim();
    // Non-empty: mailparser reads an empty part as "\n", although RFC 2046 gives the CRLF
    // before a boundary to the boundary.
    const text = pick(1 + Math.floor(random() * 400), ["\n", "\n", " \n", "x".repeat(80)]);
    const html = pick(1 + Math.floor(random() * 400), ["\n", "<p>", "=3D", "y".repeat(120)]);
    const { raw } = buildMessage({
      ...base,
      to: { name, address: "a@b.example" },
      subject,
      text,
      html,
    });
    assertWellFormed(raw);
    const m = await parse(raw);
    const context = JSON.stringify({ i, subject, name });
    assert.equal(m.subject ?? "", subject, context);
    assert.equal(boxes(m.to)[0]?.name, name, context);
    assert.equal(m.text, text, context);
    assert.equal(m.html, html, context);
  }
});
