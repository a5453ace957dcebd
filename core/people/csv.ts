// A streaming CSV reader for real-world imports: UTF-8 (with or without BOM) or Windows-1252,
// `,` `;` or tab delimiters, RFC 4180 quoting with newlines inside quotes. It holds one record
// at a time (plus one decoded chunk), so memory does not grow with the file.

export type CsvEncoding = "utf-8" | "windows-1252";
export type CsvDelimiter = "," | ";" | "\t";

export interface CsvRecord {
  /** 1-based physical line where the record starts. */
  line: number;
  fields: string[];
}

export interface CsvOptions {
  delimiter?: CsvDelimiter;
  encoding?: CsvEncoding;
  /** A record larger than this is an error, not a memory problem. Default 1 MiB. */
  maxRowBytes?: number;
}

export type CsvProblem = "stray_quote" | "unterminated_quote" | "row_too_large";

export class CsvError extends Error {
  override name = "CsvError";
  constructor(readonly line: number, readonly reason: CsvProblem) {
    super(`CSV line ${line}: ${reason}`);
  }
}

/** Guesses encoding and delimiter from the first bytes of a file. */
export function sniffCsv(
  first: Uint8Array,
): { encoding: CsvEncoding; delimiter: CsvDelimiter; bom: boolean } {
  const bom = first[0] === 0xef && first[1] === 0xbb && first[2] === 0xbf;
  const encoding: CsvEncoding = bom || validUtf8Prefix(first) ? "utf-8" : "windows-1252";
  const text = new TextDecoder(encoding).decode(first.subarray(bom ? 3 : 0, 64 * 1024));
  // Count candidates on the header line, outside quotes.
  const counts: Record<CsvDelimiter, number> = { ",": 0, ";": 0, "\t": 0 };
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === "\n" || ch === "\r")) break;
    else if (!quoted && ch in counts) counts[ch as CsvDelimiter]++;
  }
  const delimiter = (Object.entries(counts) as [CsvDelimiter, number][])
      .sort((a, b) => b[1] - a[1])[0]![1] > 0
    ? (Object.entries(counts) as [CsvDelimiter, number][]).sort((a, b) => b[1] - a[1])[0]![0]
    : ",";
  return { encoding, delimiter, bom };
}

/** True when the bytes are valid UTF-8, allowing a multi-byte sequence cut off at the end. */
function validUtf8Prefix(bytes: Uint8Array): boolean {
  let end = bytes.length;
  // Step back over a possibly incomplete final sequence (at most 3 bytes).
  for (let i = 1; i <= 3 && end - i >= 0; i++) {
    const b = bytes[end - i]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte
    if (b >= 0xc0) {
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      if (need > i) end -= i;
    }
    break;
  }
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, end));
    return true;
  } catch {
    return false;
  }
}

async function* decode(
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  encoding: CsvEncoding,
): AsyncGenerator<string> {
  // ignoreBOM false: the decoder drops a leading UTF-8 BOM itself.
  const decoder = new TextDecoder(encoding);
  for await (const chunk of source as AsyncIterable<Uint8Array>) {
    const text = decoder.decode(chunk, { stream: true });
    if (text) yield text;
  }
  const rest = decoder.decode();
  if (rest) yield rest;
}

/**
 * Yields records. When encoding or delimiter is not given, the first chunk is sniffed.
 * Blank lines are skipped. Malformed input throws CsvError with the line number.
 */
export async function* readCsv(
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  options: CsvOptions = {},
): AsyncGenerator<CsvRecord> {
  const maxRow = options.maxRowBytes ?? 1 << 20;
  let input: AsyncIterable<Uint8Array> = source as AsyncIterable<Uint8Array>;
  let { encoding, delimiter } = options;
  if (!encoding || !delimiter) {
    // Peek at up to 64 KiB (a header line may span several small chunks), then replay it.
    const it = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    const head: Uint8Array[] = [];
    let size = 0;
    let r = await it.next();
    while (!r.done) {
      head.push(r.value);
      size += r.value.length;
      if (size >= 64 * 1024) break;
      r = await it.next();
    }
    if (!size) return;
    const joined = new Uint8Array(size);
    let off = 0;
    for (const h of head) {
      joined.set(h, off);
      off += h.length;
    }
    const sniffed = sniffCsv(joined);
    encoding ??= sniffed.encoding;
    delimiter ??= sniffed.delimiter;
    const ended = r.done;
    input = (async function* () {
      yield joined;
      if (ended) return;
      for (let x = await it.next(); !x.done; x = await it.next()) yield x.value;
    })();
  }

  const d = delimiter;
  let fields: string[] = [];
  let field = "";
  let rowChars = 0;
  let quoted = false; // inside a quoted field
  let afterQuote = false; // just closed a quoted field
  let pendingQuote = false; // saw `"` inside quotes at the end of a chunk: `""` or a close?
  let pendingCR = false; // saw CR outside quotes at the end of a chunk
  let line = 1; // current physical line
  let start = 1; // line where the current record began
  let fieldStarted = false;

  const endField = () => {
    fields.push(field);
    field = "";
    afterQuote = false;
    fieldStarted = false;
  };
  const endRecord = (): CsvRecord | null => {
    endField();
    const rec = fields.length === 1 && fields[0] === "" ? null : { line: start, fields };
    fields = [];
    rowChars = 0;
    return rec;
  };

  for await (const text of decode(input, encoding)) {
    let i = 0;
    const n = text.length;
    while (i < n) {
      if (pendingCR) {
        pendingCR = false;
        if (text[i] === "\n") {
          i++;
          continue;
        }
      }
      if (quoted) {
        if (pendingQuote) {
          pendingQuote = false;
          if (text[i] === '"') {
            field += '"';
            i++;
            continue;
          }
          quoted = false;
          afterQuote = true;
          continue;
        }
        // Copy up to the next quote in one slice; count newlines for line numbers.
        const q = text.indexOf('"', i);
        const end = q < 0 ? n : q;
        const part = text.slice(i, end);
        for (let k = part.indexOf("\n"); k >= 0; k = part.indexOf("\n", k + 1)) line++;
        // A lone CR inside quotes is also a line break in the file.
        for (let k = part.indexOf("\r"); k >= 0; k = part.indexOf("\r", k + 1)) {
          if (part[k + 1] !== "\n" && !(k + 1 === part.length && end === n)) line++;
        }
        field += part;
        rowChars += part.length;
        if (rowChars > maxRow) throw new CsvError(start, "row_too_large");
        if (q < 0) break;
        i = q + 1;
        if (i === n) {
          pendingQuote = true;
          break;
        }
        if (text[i] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
          afterQuote = true;
        }
        continue;
      }
      const ch = text[i]!;
      if (ch === d) {
        endField();
        i++;
      } else if (ch === "\n" || ch === "\r") {
        const rec = endRecord();
        if (rec) yield rec;
        line++;
        start = line;
        i++;
        if (ch === "\r") {
          if (i === n) pendingCR = true;
          else if (text[i] === "\n") i++;
        }
      } else if (ch === '"') {
        if (fieldStarted || afterQuote) throw new CsvError(line, "stray_quote");
        quoted = true;
        fieldStarted = true;
        i++;
      } else {
        if (afterQuote) throw new CsvError(line, "stray_quote");
        // Copy a run of plain characters in one slice.
        let j = i + 1;
        while (j < n) {
          const c = text[j]!;
          if (c === d || c === "\n" || c === "\r" || c === '"') break;
          j++;
        }
        field += text.slice(i, j);
        rowChars += j - i;
        if (rowChars > maxRow) throw new CsvError(start, "row_too_large");
        fieldStarted = true;
        i = j;
      }
    }
  }
  if (quoted && !pendingQuote) throw new CsvError(start, "unterminated_quote");
  const rec = endRecord();
  if (rec) yield rec;
}
