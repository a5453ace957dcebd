// Tracking a submitted message: only its HTML parts change, links are numbered across parts in
// the order clicks resolve them, and parts it cannot read safely are left alone.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { simpleParser } from "mailparser";
import { rawTrackedLinks, trackRaw } from "./raw_tracking.ts";

const urls = (n: number) => ({
  links: Array.from({ length: n }, (_, i) => `https://t.example/c/${i}`),
  pixel: '<img src="https://t.example/o.gif">',
});

Deno.test("trackRaw: a single-part base64 HTML message gets click links and the pixel", async () => {
  const html = '<html><body><a href="https://a.example/1">A</a> <a href="mailto:x@y">m</a>' +
    '<a href="https://a.example/2" data-skicka-notrack>B</a></body></html>';
  const raw = "From: a@shop.example\r\nSubject: S\r\nContent-Type: text/html; charset=utf-8\r\n" +
    "Content-Transfer-Encoding: base64\r\n\r\n" +
    Buffer.from(html).toString("base64").replace(/.{1,76}/g, "$&\r\n");
  assert.deepEqual(rawTrackedLinks(raw), ["https://a.example/1"]);
  const out = trackRaw(raw, urls);
  assert.equal(out.match(/^Content-Transfer-Encoding:/gim)?.length, 1);
  const mail = await simpleParser(Buffer.from(out));
  assert.equal(mail.subject, "S");
  const got = String(mail.html);
  assert.match(got, /href="https:\/\/t\.example\/c\/0">A/);
  assert.match(got, /href="mailto:x@y"/);
  assert.match(got, /href="https:\/\/a\.example\/2" data-skicka-notrack/);
  assert.match(got, /<img src="https:\/\/t\.example\/o\.gif"><\/body>/);
});

Deno.test("trackRaw: links are numbered across HTML parts; other parts and charsets untouched", () => {
  const part = (type: string, body: string) =>
    `Content-Type: ${type}\r\nContent-Transfer-Encoding: 7bit\r\n\r\n${body}\r\n`;
  const raw = 'Content-Type: multipart/mixed; boundary="m"\r\n\r\npreamble\r\n' +
    "--m\r\n" + part("text/html; charset=utf-8", '<a href="https://a.example/1">1</a>') +
    "--m\r\n" + part("text/plain", "https://a.example/plain") +
    "--m\r\n" + part("text/html; charset=iso-8859-1", '<a href="https://a.example/latin">l</a>') +
    "--m\r\n" + part("text/html", '<a href="https://a.example/2">2</a>') +
    "--m--\r\nepilogue\r\n";
  assert.deepEqual(rawTrackedLinks(raw), ["https://a.example/1", "https://a.example/2"]);
  const out = trackRaw(raw, urls);
  const decoded = [...out.matchAll(/base64\r\n\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--m/g)]
    .map((m) => Buffer.from(m[1]!.replace(/\s+/g, ""), "base64").toString());
  assert.deepEqual(decoded.map((h) => /href="([^"]+)"/.exec(h)![1]), [
    "https://t.example/c/0",
    "https://t.example/c/1",
  ]);
  assert.match(out, /^preamble\r\n--m\r\n/m);
  assert.match(
    out,
    /Content-Type: text\/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\nhttps:\/\/a\.example\/plain\r\n--m/,
  );
  assert.match(out, /<a href="https:\/\/a\.example\/latin">l<\/a>/, "a charset it cannot read");
  assert.match(out, /--m--\r\nepilogue\r\n$/);
});
