import assert from "node:assert/strict";
import { CsvError, type CsvRecord, readCsv, sniffCsv } from "./csv.ts";

const fixture = (name: string) =>
  Deno.readFile(new URL(`../../tests/fixtures/csv/${name}`, import.meta.url));

async function* chunks(bytes: Uint8Array, sizes: () => number) {
  for (let i = 0; i < bytes.length;) {
    const n = Math.max(1, sizes());
    yield bytes.subarray(i, i + n);
    i += n;
  }
}

async function all(bytes: Uint8Array, size?: () => number): Promise<CsvRecord[]> {
  const out: CsvRecord[] = [];
  for await (const r of readCsv(chunks(bytes, size ?? (() => bytes.length)))) out.push(r);
  return out;
}

Deno.test("UTF-8 with BOM and ';': the BOM is dropped, quotes and Nordic letters kept", async () => {
  const bytes = await fixture("utf8_bom_semicolon.csv");
  assert.deepEqual(sniffCsv(bytes), { encoding: "utf-8", delimiter: ";", bom: true });
  const rows = await all(bytes);
  assert.deepEqual(rows[0], {
    line: 1,
    fields: ["E-post", "Förnamn", "Efternamn", "Organisation"],
  });
  assert.deepEqual(rows[2]!.fields, ["kalle@uni.se", "Kalle", "Ek; Jr", 'Uppsala "UU"']);
  assert.deepEqual(rows[3], {
    line: 5,
    fields: ["matti@jyu.fi", "Matti", "Meikäläinen", "Jyväskylän yliopisto"],
  });
  assert.equal(rows.length, 4, "the blank line is skipped");
});

Deno.test("Windows-1252 with ',': Å Ä Ö Ø Æ survive", async () => {
  const bytes = await fixture("windows1252_comma.csv");
  assert.deepEqual(sniffCsv(bytes), { encoding: "windows-1252", delimiter: ",", bom: false });
  const rows = await all(bytes);
  assert.deepEqual(rows.map((r) => r.fields[1]), ["first_name", "Søren", "Päivi", "Åsa"]);
  assert.deepEqual(rows[1]!.fields.slice(2), ["Ærø", "Københavns Universitet"]);
  assert.equal(rows[3]!.line, 4, "a last line without newline is read");
});

Deno.test("quoted fields with CRLF and LF newlines keep the right line numbers", async () => {
  const rows = await all(await fixture("quoted_newlines.csv"));
  assert.deepEqual(rows.map((r) => [r.line, r.fields[0], r.fields[2]]), [
    [1, "email", "note"],
    [2, "a@x.se", "line one\r\nline two"],
    [4, "b@x.se", 'say "hi"'],
    [5, "c@x.se", "three\nlines\nhere"],
    [8, "d@x.se", "plain"],
  ]);
});

Deno.test("any chunking gives the same records as one chunk", async () => {
  for (const name of ["utf8_bom_semicolon.csv", "windows1252_comma.csv", "quoted_newlines.csv"]) {
    const bytes = await fixture(name);
    const whole = await all(bytes);
    assert.deepEqual(await all(bytes, () => 1), whole, `${name} in 1-byte chunks`);
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) % 9 + 1;
    assert.deepEqual(await all(bytes, random), whole, `${name} in random chunks`);
  }
});

Deno.test("malformed input is an error with a line number, never silent loss", async () => {
  await assert.rejects(
    all(await fixture("malformed_stray_quote.csv")),
    (e) => e instanceof CsvError && e.line === 3 && e.reason === "stray_quote",
  );
  await assert.rejects(
    all(new TextEncoder().encode('a,b\n1,"open\n2,3\n')),
    (e) => e instanceof CsvError && e.line === 2 && e.reason === "unterminated_quote",
  );
  const big = new TextEncoder().encode(`a\n${"x".repeat(2000)}\n`);
  const it = readCsv(chunks(big, () => 100), { maxRowBytes: 1000 });
  await assert.rejects(
    (async () => {
      for await (const _ of it) { /* drain */ }
    })(),
    (e) => e instanceof CsvError && e.reason === "row_too_large" && e.line === 2,
  );
});

Deno.test("100,000 rows stream through with flat memory", async () => {
  const line = new TextEncoder().encode(
    'person@example.org;"Åsa";"Öberg, jr";Lunds universitet;"quoted ""x""";2026-01-01\n',
  );
  const rows = 100_000;
  async function* source() {
    const block = new Uint8Array(line.length * 1000);
    for (let i = 0; i < 1000; i++) block.set(line, i * line.length);
    for (let i = 0; i < rows / 1000; i++) yield block;
  }
  const before = Deno.memoryUsage().heapUsed;
  let count = 0;
  let peak = 0;
  for await (const r of readCsv(source(), { delimiter: ";", encoding: "utf-8" })) {
    count++;
    if (r.fields.length !== 6) throw new Error(`line ${r.line}: ${r.fields.length} fields`);
    if (count % 10_000 === 0) peak = Math.max(peak, Deno.memoryUsage().heapUsed - before);
  }
  assert.equal(count, rows);
  // ~8 MB of input; the reader must not hold it (generous bound for GC timing).
  assert.ok(peak < 40 * 1024 * 1024, `heap grew by ${Math.round(peak / 1048576)} MiB`);
});
