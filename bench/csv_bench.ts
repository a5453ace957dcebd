// Throughput of the streaming CSV reader on a 100,000-row contact export (8 columns, some quoted,
// Nordic names), read from memory in 64 KiB chunks. Flat memory is checked in
// core/people/csv_test.ts ("100,000 rows stream through with flat memory").
// Run: deno bench -A bench/csv_bench.ts
import { type CsvOptions, readCsv } from "../core/people/csv.ts";

const ROWS = 100_000;
const CHUNK = 64 * 1024;

const first = ["Åsa", "Örjan", "Päivi", "Søren", "Kalle", "Jyrki", "Mikko", "Anna"];
const last = ["Öberg", "Häkkinen", "Ærø", "Lind", "Mäkelä", "Berg", "Østergård", "Ek"];
// Quoted fields hold the delimiter, doubled quotes and a line break.
const orgs = (d: string) => [`"Lunds universitet${d} LU"`, "KTH", `"Jyväskylä${d} IT"`, "Aalto"];
const notes = ["", '"ringde, vill ha ""nyheter"""', "VIP", '"två\nrader"'];

/** The export as text; the i-th row varies so that no two neighbours are identical. */
function exportText(delimiter: string): string {
  const org = orgs(delimiter);
  const lines = [
    ["email", "first_name", "last_name", "organisation", "city", "phone", "note", "created"].join(
      delimiter,
    ),
  ];
  for (let i = 0; i < ROWS; i++) {
    const f = first[i % first.length]!;
    const l = last[(i >> 3) % last.length]!;
    lines.push([
      `person${i}@example.se`,
      f,
      l,
      org[i % org.length]!,
      i % 2 ? "Jyväskylä" : "Malmö",
      `+46 70 ${String(i).padStart(7, "0")}`,
      notes[i % notes.length]!,
      "2026-01-01",
    ].join(delimiter));
  }
  return lines.join("\r\n") + "\r\n";
}

/** Windows-1252 bytes, through the decoder's own table. */
function cp1252(text: string): Uint8Array {
  const decoder = new TextDecoder("windows-1252");
  const table = new Map<string, number>();
  for (let b = 0; b < 256; b++) table.set(decoder.decode(new Uint8Array([b])), b);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = table.get(text[i]!)!;
  return out;
}

const utf8 = new TextEncoder().encode("\uFEFF" + exportText(";"));
const win = cp1252(exportText(","));

async function* stream(bytes: Uint8Array) {
  for (let i = 0; i < bytes.length; i += CHUNK) yield bytes.subarray(i, i + CHUNK);
}

async function parseAll(bytes: Uint8Array, options?: CsvOptions) {
  let n = 0;
  for await (const _ of readCsv(stream(bytes), options)) n++;
  if (n !== ROWS + 1) throw new Error(`read ${n} records`);
}

const mb = (b: Uint8Array) => (b.length / 1e6).toFixed(1);

Deno.bench(`readCsv 100k rows, UTF-8 ';' given (${mb(utf8)} MB)`, {
  group: "csv",
  baseline: true,
}, async () => {
  await parseAll(utf8, { delimiter: ";", encoding: "utf-8" });
});

Deno.bench("readCsv 100k rows, UTF-8 with BOM, sniffed", { group: "csv" }, async () => {
  await parseAll(utf8);
});

Deno.bench(`readCsv 100k rows, Windows-1252 ',' sniffed (${mb(win)} MB)`, {
  group: "csv",
}, async () => {
  await parseAll(win);
});
