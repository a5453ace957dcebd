import assert from "node:assert/strict";
import { encodeData } from "./data.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const data = (s: string, into?: Uint8Array) => dec.decode(encodeData(enc.encode(s), into));

/** The obvious byte-at-a-time reference the word-at-a-time scan must agree with. */
function reference(s: string): string {
  const crlf = s.replace(/\r\n|\r|\n/g, "\r\n");
  const body = crlf === "" || crlf.endsWith("\r\n") ? crlf : crlf + "\r\n";
  return body.replace(/^\./gm, "..") + ".\r\n";
}

Deno.test("encodeData() doubles leading dots and terminates with CRLF.CRLF", () => {
  assert.equal(data("a\r\n.b\r\n..c\r\n"), "a\r\n..b\r\n...c\r\n.\r\n");
  assert.equal(data(".first\r\n"), "..first\r\n.\r\n");
  assert.equal(data("x\r\n.\r\n"), "x\r\n..\r\n.\r\n");
  assert.equal(data("no final newline"), "no final newline\r\n.\r\n");
  assert.equal(data(""), ".\r\n");
});

Deno.test("encodeData() rewrites bare CR and LF so no end of data can be smuggled", () => {
  assert.equal(data("a\n.\r\nb"), "a\r\n..\r\nb\r\n.\r\n");
  assert.equal(data("a\r.\rb\r\n"), "a\r\n..\r\nb\r\n.\r\n");
  assert.equal(data("a\r\n.\nb"), "a\r\n..\r\nb\r\n.\r\n");
});

Deno.test("encodeData() agrees with a byte-by-byte reference at every alignment", () => {
  const pieces = ["\r\n", ".", "..", "x", "\r", "\n", "é", "\t", "ab", "\r\n.\r\n"];
  let seed = 7;
  const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  for (let n = 0; n < 400; n++) {
    let s = "";
    for (let k = Math.floor(random() * 30); k > 0; k--) s += pieces[Math.floor(random() * 10)];
    const bytes = enc.encode(s);
    for (let offset = 0; offset < 4; offset++) {
      // A view at an odd offset exercises the unaligned head and tail of the word scan.
      const buf = new Uint8Array(bytes.length + offset);
      buf.set(bytes, offset);
      const got = dec.decode(encodeData(buf.subarray(offset)));
      assert.equal(got, reference(s), JSON.stringify(s));
    }
  }
});

Deno.test("encodeData() writes into a large enough buffer instead of allocating", () => {
  const into = new Uint8Array(64);
  const out = encodeData(enc.encode("hi\r\n"), into);
  assert.equal(out.buffer, into.buffer);
  assert.equal(dec.decode(out), "hi\r\n.\r\n");
  assert.notEqual(encodeData(enc.encode("x".repeat(100)), into).buffer, into.buffer);
  assert.equal(data("hi", new Uint8Array(2)), "hi\r\n.\r\n");
});
