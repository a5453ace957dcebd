import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { CsvError, type CsvOptions, type CsvRecord, readCsv, sniffCsv } from "./csv.ts";

const fixture = (name: string) =>
  Deno.readFile(new URL(`../../tests/fixtures/csv/${name}`, import.meta.url));
const utf8 = (s: string) => new TextEncoder().encode(s);

/** Encodes text as Windows-1252 through the decoder's own table, as the fixture was written. */
function cp1252(text: string): Uint8Array {
  const decoder = new TextDecoder("windows-1252");
  const table = new Map<string, number>();
  for (let b = 0; b < 256; b++) table.set(decoder.decode(new Uint8Array([b])), b);
  return Uint8Array.from([...text], (c) => table.get(c) ?? assert.fail(`not in cp1252: ${c}`));
}

/** Deterministic chunk sizes 1..max, so a failure can be replayed. */
function randomSizes(seed: number, max = 17) {
  return () => (seed = (seed * 1103515245 + 12345) % 2147483648) % max + 1;
}

async function* chunked(bytes: Uint8Array, size: () => number) {
  for (let i = 0; i < bytes.length;) {
    const n = size();
    yield bytes.slice(i, i + n);
    i += n;
  }
}

/** Splits at the given offsets. */
async function* split(bytes: Uint8Array, ...at: number[]) {
  let from = 0;
  for (const to of [...at, bytes.length]) {
    yield bytes.slice(from, to);
    from = to;
  }
}

type Outcome = { records: CsvRecord[]; error?: { line: number; reason: string } };

/** Everything the reader yields, and the error it ends with, if any. */
async function outcome(source: AsyncIterable<Uint8Array>, options?: CsvOptions): Promise<Outcome> {
  const records: CsvRecord[] = [];
  try {
    for await (const r of readCsv(source, options)) records.push(r);
  } catch (e) {
    if (!(e instanceof CsvError)) throw e;
    return { records, error: { line: e.line, reason: e.reason } };
  }
  return { records };
}

const whole = (bytes: Uint8Array, options?: CsvOptions) => outcome(split(bytes), options);
const rows = (o: Outcome) => o.records.map((r) => [r.line, ...r.fields]);

/** Every chunking must give what one chunk gives: records, line numbers and errors alike. */
async function assertChunkingInvariant(bytes: Uint8Array, options?: CsvOptions) {
  const expected = await whole(bytes, options);
  for (let k = 0; k <= bytes.length; k++) {
    assert.deepEqual(await outcome(split(bytes, k), options), expected, `split at byte ${k}`);
  }
  assert.deepEqual(await outcome(chunked(bytes, () => 1), options), expected, "1-byte chunks");
  for (const seed of [1, 7, 42, 1234]) {
    const got = await outcome(chunked(bytes, randomSizes(seed)), options);
    assert.deepEqual(got, expected, `random chunks, seed ${seed}`);
  }
  return expected;
}

// One input with every awkward case: BOM, CRLF inside quotes, a blank line, doubled quotes, a
// lone CR inside quotes and as a line end, empty fields, a 4-byte character, no final newline.
const TRICKY = "\uFEFFname;note;city\r\n" +
  '"Åsa Öberg";"line one\r\nline two";Jyväskylä\r\n' +
  "\r\n" +
  'Ærø;"say ""hi""";"old\rmac"\r' +
  'plain;"";\n' +
  '"😀 emoji";"a;b";x\n' +
  "last;no;newline";
const TRICKY_ROWS = [
  [1, "name", "note", "city"],
  [2, "Åsa Öberg", "line one\r\nline two", "Jyväskylä"],
  [5, "Ærø", 'say "hi"', "old\rmac"],
  [7, "plain", "", ""],
  [8, "😀 emoji", "a;b", "x"],
  [9, "last", "no", "newline"],
];

Deno.test("sniffCsv() reads the BOM, the encoding and the header's delimiter", async () => {
  assert.deepEqual(sniffCsv(await fixture("utf8_bom_semicolon.csv")), {
    encoding: "utf-8",
    delimiter: ";",
    bom: true,
  });
  assert.deepEqual(sniffCsv(await fixture("windows1252_comma.csv")), {
    encoding: "windows-1252",
    delimiter: ",",
    bom: false,
  });
  assert.deepEqual(sniffCsv(utf8("a\tb\tc\n1,2;3\t4\n")).delimiter, "\t");
  // Delimiters inside quoted header names do not count.
  assert.equal(sniffCsv(utf8('"a;b;c";"d,e"  ,f\n')).delimiter, ",");
  assert.equal(sniffCsv(utf8("email\nx@y.se\n")).delimiter, ",", "one column");
  assert.equal(sniffCsv(utf8("email;name\n")).encoding, "utf-8", "ASCII counts as UTF-8");
  // The first non-ASCII sequence decides, as in readCsv: a bad byte later is the reader's error.
  const mixed = new Uint8Array([...utf8("namn\nÅsa\n"), 0xd6, 0x0a]);
  assert.equal(sniffCsv(mixed).encoding, "utf-8");
  assert.equal(
    sniffCsv(new Uint8Array([...utf8("namn\n"), 0xd6, ...utf8("berg\nÅsa\n")])).encoding,
    "windows-1252",
  );
  // A sample that ends inside "å" is still UTF-8.
  const cut = utf8("namn;ort\nÅsa;Jyväskylä");
  assert.equal(sniffCsv(cut.subarray(0, cut.length - 3)).encoding, "utf-8");
});

Deno.test("UTF-8 with BOM and ';': the BOM is dropped, quotes and Nordic letters kept", async () => {
  const o = await whole(await fixture("utf8_bom_semicolon.csv"));
  assert.deepEqual(rows(o), [
    [1, "E-post", "Förnamn", "Efternamn", "Organisation"],
    [2, "asa.oberg@uni.se", "Åsa", "Öberg", "Lunds universitet"],
    [3, "kalle@uni.se", "Kalle", "Ek; Jr", 'Uppsala "UU"'],
    [5, "matti@jyu.fi", "Matti", "Meikäläinen", "Jyväskylän yliopisto"],
  ]);
});

Deno.test("Windows-1252 with ',': Å Ä Ö Ø Æ – € survive, sniffed or given", async () => {
  const bytes = await fixture("windows1252_comma.csv");
  const text = "email,first_name,last_name,organisation\n" +
    "soren@ku.dk,Søren,Ærø,Københavns Universitet\n" +
    'paivi@tuni.fi,Päivi,Häkkinen,"Jyväskylän yliopisto, IT"\n' +
    "asa@lu.se,Åsa,Öberg,Lunds universitet – €";
  assert.deepEqual(bytes, cp1252(text), "the fixture is exactly this text in Windows-1252");
  const expected = [
    [1, "email", "first_name", "last_name", "organisation"],
    [2, "soren@ku.dk", "Søren", "Ærø", "Københavns Universitet"],
    [3, "paivi@tuni.fi", "Päivi", "Häkkinen", "Jyväskylän yliopisto, IT"],
    [4, "asa@lu.se", "Åsa", "Öberg", "Lunds universitet – €"],
  ];
  assert.deepEqual(rows(await whole(bytes)), expected);
  assert.deepEqual(
    rows(await whole(bytes, { encoding: "windows-1252", delimiter: "," })),
    expected,
  );
});

Deno.test("Latin-1 bytes read the same as Windows-1252", async () => {
  // In ISO-8859-1 every character below U+0100 is its own byte.
  const text = "namn;ort\nÅsa Öberg;Jyväskylä\nÆrø;Ærøskøbing\n";
  const latin1 = Uint8Array.from(text, (c) => c.charCodeAt(0));
  assert.deepEqual(rows(await whole(latin1)), [
    [1, "namn", "ort"],
    [2, "Åsa Öberg", "Jyväskylä"],
    [3, "Ærø", "Ærøskøbing"],
  ]);
});

Deno.test("quoted fields with CRLF and LF newlines keep the right line numbers", async () => {
  const o = await whole(await fixture("quoted_newlines.csv"));
  assert.deepEqual(o.records.map((r) => [r.line, r.fields[0], r.fields[2]]), [
    [1, "email", "note"],
    [2, "a@x.se", "line one\r\nline two"],
    [4, "b@x.se", 'say "hi"'],
    [5, "c@x.se", "three\nlines\nhere"],
    [8, "d@x.se", "plain"],
  ]);
});

Deno.test("every awkward case at once, in UTF-8 and in Windows-1252", async () => {
  assert.deepEqual(rows(await whole(utf8(TRICKY))), TRICKY_ROWS);
  const noEmoji = TRICKY.slice(1).replace("😀", "Ø");
  const expected = TRICKY_ROWS.map((r) => r.map((f) => f === "😀 emoji" ? "Ø emoji" : f));
  assert.deepEqual(rows(await whole(cp1252(noEmoji))), expected);
});

Deno.test("chunk boundaries at every byte give the same records as one chunk", async () => {
  await assertChunkingInvariant(utf8(TRICKY));
  await assertChunkingInvariant(utf8(TRICKY), { delimiter: ";", encoding: "utf-8" });
  await assertChunkingInvariant(cp1252(TRICKY.slice(1).replace("😀", "Ø")));
  for (
    const name of [
      "utf8_bom_semicolon.csv",
      "windows1252_comma.csv",
      "quoted_newlines.csv",
      "malformed_stray_quote.csv",
      "malformed_unterminated.csv",
    ]
  ) {
    await assertChunkingInvariant(await fixture(name));
  }
});

Deno.test("blank lines are skipped; rows of empty fields and whitespace are kept", async () => {
  const o = await whole(utf8('\n\r\na,b\n\n;\n  \n""\n\r\n'), { delimiter: ";" });
  assert.deepEqual(rows(o), [[3, "a,b"], [5, "", ""], [6, "  "], [7, ""]]);
  assert.deepEqual(await whole(new Uint8Array()), { records: [] });
  assert.deepEqual(await whole(utf8("\uFEFF")), { records: [] });
  assert.deepEqual(rows(await whole(utf8("x"))), [[1, "x"]]);
});

Deno.test("a stray quote is an error on its line, after the good records", async () => {
  const o = await assertChunkingInvariant(await fixture("malformed_stray_quote.csv"));
  assert.deepEqual(o.error, { line: 3, reason: "stray_quote" });
  assert.deepEqual(rows(o), [[1, "email", "first_name"], [2, "a@x.se", "Anna"]]);
  // Text after a closing quote, on the last line of a multi-line field.
  const after = await assertChunkingInvariant(utf8('a,b\n1,"two\nlines"x\n'));
  assert.deepEqual(after.error, { line: 3, reason: "stray_quote" });
  assert.deepEqual((await whole(utf8('a,"b" \n'))).error, { line: 1, reason: "stray_quote" });
  assert.deepEqual((await whole(utf8(' "a",b\n'))).error, { line: 1, reason: "stray_quote" });
});

Deno.test("an unterminated quote is an error on the line where it opened", async () => {
  const o = await assertChunkingInvariant(await fixture("malformed_unterminated.csv"));
  assert.deepEqual(o.error, { line: 3, reason: "unterminated_quote" });
  assert.deepEqual(rows(o), [[1, "email", "note"], [2, "a@x.se", "fine"]]);
  const late = await whole(utf8('a,b\n1,"ok\nstill ok",2\n3,"open\n4\n'));
  assert.deepEqual(late.error, { line: 4, reason: "unterminated_quote" });
});

Deno.test("maxRowBytes: a row exactly at the limit passes, one more character fails", async () => {
  const at = await whole(utf8("h\nabcde,fghi\n"), { maxRowBytes: 10 });
  assert.deepEqual(rows(at), [[1, "h"], [2, "abcde", "fghi"]]);
  const over = await assertChunkingInvariant(utf8("h\nabcde,fghij\n"), { maxRowBytes: 10 });
  assert.deepEqual(over.error, { line: 2, reason: "row_too_large" });
  // Delimiters count, and a huge quoted field is caught before it ends.
  const empties = await whole(utf8(`h\n${",".repeat(2000)}\n`), { maxRowBytes: 1000 });
  assert.deepEqual(empties.error, { line: 2, reason: "row_too_large" });
  const quoted = await whole(utf8(`h\n"${"x\n".repeat(5000)}`), { maxRowBytes: 1000 });
  assert.deepEqual(quoted.error, { line: 2, reason: "row_too_large" });
});

Deno.test("the default row limit is 1 MiB", async () => {
  const big = "x".repeat(1 << 20);
  const ok = await whole(utf8(`h\n${big}\n`));
  assert.equal(ok.records[1]?.fields[0]?.length, 1 << 20);
  const over = await whole(utf8(`h\n${big}x\n`));
  assert.deepEqual(over.error, { line: 2, reason: "row_too_large" });
});

Deno.test("without an encoding, the first non-ASCII bytes decide, however late they come", async () => {
  // 100 KiB of ASCII first, so the decision falls well after the first chunk.
  const ascii = "email,name\n" + "x@y.se,Plain\n".repeat(8000);
  const latin = new Uint8Array([...utf8(ascii), ...cp1252("o@y.se,Öberg\n")]);
  const a = await outcome(chunked(latin, () => 4096));
  assert.deepEqual(a.records.at(-1), { line: 8002, fields: ["o@y.se", "Öberg"] });
  const unicode = await outcome(chunked(utf8(ascii + "o@y.se,Öberg\n"), () => 4096));
  assert.deepEqual(unicode.records.at(-1), { line: 8002, fields: ["o@y.se", "Öberg"] });
});

Deno.test("bytes that are not UTF-8 in a UTF-8 file are an error, not replacement characters", async () => {
  const bytes = new Uint8Array([...utf8("a,b\nÅsa,1\nx,"), 0xff, ...utf8("\n")]);
  const sniffed = await assertChunkingInvariant(bytes);
  assert.deepEqual(sniffed.error, { line: 3, reason: "invalid_encoding" });
  assert.deepEqual(rows(sniffed), [[1, "a", "b"], [2, "Åsa", "1"]]);
  // Given explicitly, even an all-ASCII start does not switch encodings.
  const given = await whole(new Uint8Array([...utf8("a,b\n1,2\n"), 0xf6]), { encoding: "utf-8" });
  assert.deepEqual(given.error, { line: 3, reason: "invalid_encoding" });
  // A file that ends inside a multi-byte sequence.
  const cut = await whole(utf8("a,b\nÅ").subarray(0, 5), { encoding: "utf-8" });
  assert.deepEqual(cut.error, { line: 2, reason: "invalid_encoding" });
});

Deno.test("overlong forms, surrogates and stray continuation bytes are not UTF-8", async () => {
  const bad = {
    "overlong /": [0xc0, 0xaf],
    "overlong NUL": [0xe0, 0x80, 0x80],
    "surrogate D800": [0xed, 0xa0, 0x80],
    "above U+10FFFF": [0xf4, 0x90, 0x80, 0x80],
    "no such lead byte": [0xf8],
    "stray continuation": [0x80],
    "lead byte, then ASCII": [0xc3, 0x41],
  };
  for (const [name, seq] of Object.entries(bad)) {
    const bytes = new Uint8Array([...utf8("a,b\nÅ,1\nx,"), ...seq, ...utf8(",y\n")]);
    const o = await assertChunkingInvariant(bytes);
    assert.deepEqual(o.error, { line: 3, reason: "invalid_encoding" }, name);
    assert.deepEqual(rows(o), [[1, "a", "b"], [2, "Å", "1"]]);
  }
});

Deno.test("CsvError says the line and the reason", () => {
  const e = new CsvError(12, "stray_quote");
  assert.equal(e.name, "CsvError");
  assert.match(e.message, /^CSV line 12: .+ \(stray_quote\)$/);
});

Deno.test("a ReadableStream is read, and cancelled when the caller stops early", async () => {
  let cancelled = false;
  let pulls = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulls++;
      controller.enqueue(utf8(`row${pulls};x\n`));
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const r of readCsv(stream)) {
    assert.deepEqual(r, { line: 1, fields: ["row1", "x"] });
    break;
  }
  assert.ok(cancelled, "the stream is cancelled");
  assert.ok(pulls < 10, "no more than was needed is read");
});

/** Full garbage collection, for measuring what is actually retained. */
function collectGarbage() {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

Deno.test("100,000 rows stream through with flat memory", async () => {
  const line = utf8(
    'person@example.org;"Åsa";"Öberg, jr";Lunds universitet;"quoted ""x""";2026-01-01\n',
  );
  const total = 100_000;
  async function* source() {
    for (let i = 0; i < total / 1000; i++) {
      // A fresh block each time, as a file read would give: the reader must let them go.
      const block = new Uint8Array(line.length * 1000);
      for (let j = 0; j < 1000; j++) block.set(line, j * line.length);
      yield block;
    }
  }
  let count = 0;
  let baseline = 0;
  let growth = 0;
  for await (const r of readCsv(source(), { delimiter: ";", encoding: "utf-8" })) {
    count++;
    if (r.fields.length !== 6) assert.fail(`line ${r.line}: ${r.fields.length} fields`);
    if (count % 10_000 === 0) {
      collectGarbage();
      const used = Deno.memoryUsage().heapUsed;
      if (count === 10_000) baseline = used;
      else growth = Math.max(growth, used - baseline);
    }
  }
  assert.equal(count, total);
  // 7.6 MB of input went through; holding it would retain well over 8 MiB as strings.
  assert.ok(growth < 2 * 1024 * 1024, `retained heap grew by ${(growth / 1048576).toFixed(1)} MiB`);
});
