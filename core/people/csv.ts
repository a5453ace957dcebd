// A streaming CSV reader for contact imports: UTF-8 (with or without BOM) or Windows-1252, `,` `;`
// or tab delimiters, RFC 4180 quoting. It holds one decoded chunk and the record being built, so
// memory does not grow with the file, and malformed input is an error, never silently dropped.

export type CsvEncoding = "utf-8" | "windows-1252";
export type CsvDelimiter = "," | ";" | "\t";

export interface CsvRecord {
  /** 1-based physical line where the record starts. */
  line: number;
  fields: string[];
}

export interface CsvOptions {
  /** Sniffed from the header line (outside quotes) when not given. */
  delimiter?: CsvDelimiter;
  /**
   * When not given, the first non-ASCII sequence decides, wherever it comes: valid UTF-8 means
   * UTF-8 (a bad byte later is an error), anything else Windows-1252 (which also reads Latin-1).
   * Given "utf-8", bytes that are not UTF-8 are an error.
   */
  encoding?: CsvEncoding;
  /**
   * A record longer than this is an error rather than unbounded memory. Counted in decoded
   * characters, which equals bytes for ASCII and Windows-1252 and is never more than the UTF-8
   * byte count. Default 1 MiB.
   */
  maxRowBytes?: number;
}

export interface CsvSniff {
  encoding: CsvEncoding;
  delimiter: CsvDelimiter;
  bom: boolean;
}

/** Reason codes of CsvError, for message catalogue keys `csv.<reason>`. */
export const CSV_PROBLEMS = [
  "stray_quote",
  "unterminated_quote",
  "row_too_large",
  "invalid_encoding",
] as const;
export type CsvProblem = (typeof CSV_PROBLEMS)[number];

const DESCRIPTIONS: Record<CsvProblem, string> = {
  stray_quote: "a quote inside an unquoted field or after a closing quote",
  unterminated_quote: "a quoted field is never closed",
  row_too_large: "the row is too large",
  invalid_encoding: "bytes that are not valid UTF-8",
};

export class CsvError extends Error {
  override name = "CsvError";
  constructor(readonly line: number, readonly reason: CsvProblem) {
    super(`CSV line ${line}: ${DESCRIPTIONS[reason]} (${reason})`);
  }
}

const DEFAULT_MAX_ROW = 1 << 20;
/** The header line is looked for in at most this many characters. */
const SNIFF_CHARS = 64 * 1024;
const LF = 10;
const CR = 13;
const QUOTE = 34;
const DELIMITERS: readonly CsvDelimiter[] = [",", ";", "\t"];

/**
 * Guesses encoding and delimiter from the first bytes of a file, by the same rule as readCsv. An
 * all-ASCII sample counts as UTF-8; a sequence cut off at the end of the sample is ignored.
 */
export function sniffCsv(firstBytes: Uint8Array): CsvSniff {
  const bom = hasBom(firstBytes);
  const body = firstBytes.subarray(bom ? 3 : 0);
  const complete = body.subarray(0, body.length - incompleteTail(body));
  const encoding: CsvEncoding = bom || startsAsUtf8(complete) ? "utf-8" : "windows-1252";
  const header = new HeaderScanner();
  header.scan(new TextDecoder(encoding).decode(body.subarray(0, SNIFF_CHARS)));
  return { encoding, delimiter: header.delimiter(), bom };
}

/**
 * Yields the records of a CSV byte stream, skipping blank lines. Malformed input throws a
 * CsvError carrying the physical line; the records before it have been yielded by then.
 */
export async function* readCsv(
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  options: CsvOptions = {},
): AsyncGenerator<CsvRecord> {
  const decoder = new ChunkDecoder(options.encoding);
  const maxRow = options.maxRowBytes ?? DEFAULT_MAX_ROW;
  let parser = options.delimiter ? new CsvParser(options.delimiter, maxRow) : undefined;
  // Without a delimiter, text is held back until the header line is complete.
  const header = new HeaderScanner();
  let held = "";
  // The records of one chunk. An array, not a nested generator: `yield*` inside an async
  // generator costs an extra promise per record, a fifth of the run time.
  const out: CsvRecord[] = [];

  /** Parses text into `out`. An error is returned, to be thrown after the records before it. */
  const parse = (text: string, invalid: boolean, end: boolean): CsvError | undefined => {
    try {
      if (!parser) {
        held += text;
        if (!header.scan(text) && held.length < SNIFF_CHARS && !invalid && !end) return;
        parser = new CsvParser(header.delimiter(), maxRow);
        text = held;
        held = "";
      }
      parser.feed(text, out);
      if (invalid) return new CsvError(parser.line, "invalid_encoding");
      if (end) parser.finish(out);
    } catch (e) {
      if (e instanceof CsvError) return e;
      throw e;
    }
  };

  // for-await hands an early `break` by the caller on to the source (a stream is cancelled).
  for await (const chunk of source) {
    const { text, invalid } = decoder.decode(chunk);
    const error = parse(text, invalid, false);
    for (const record of out) yield record;
    out.length = 0;
    if (error) throw error;
  }
  const { text, invalid } = decoder.end();
  const error = parse(text, invalid, true);
  for (const record of out) yield record;
  if (error) throw error;
}

/** Finds the delimiter by counting candidates on the header line, outside quotes. */
class HeaderScanner {
  #counts = [0, 0, 0];
  #quoted = false;
  #done = false;

  /** Scans more of the header; true once the header line has ended. */
  scan(text: string): boolean {
    for (let i = 0; i < text.length && !this.#done; i++) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) this.#quoted = !this.#quoted;
      else if (this.#quoted) continue;
      else if (c === LF || c === CR) this.#done = true;
      else {
        const k = DELIMITERS.indexOf(text[i] as CsvDelimiter);
        if (k >= 0) this.#counts[k]!++;
      }
    }
    return this.#done;
  }

  /** The most frequent candidate; ties go to the earlier one, a single column gets ",". */
  delimiter(): CsvDelimiter {
    let best = 0;
    for (let k = 1; k < DELIMITERS.length; k++) {
      if (this.#counts[k]! > this.#counts[best]!) best = k;
    }
    return DELIMITERS[best]!;
  }
}

/** Bytes to text, chunk by chunk, keeping a multi-byte sequence cut at a chunk boundary whole. */
class ChunkDecoder {
  #encoding: CsvEncoding | "auto";
  /** Bytes held back: a possible BOM start, or an incomplete UTF-8 sequence. */
  #pending = new Uint8Array(0);
  #atStart = true;
  // ignoreBOM: the BOM is removed here, once; each decode() call would otherwise strip it again.
  #utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  #cp1252 = new TextDecoder("windows-1252");

  constructor(encoding?: CsvEncoding) {
    this.#encoding = encoding ?? "auto";
  }

  /** `invalid` means the text stops before bytes that are not UTF-8. */
  decode(chunk: Uint8Array): { text: string; invalid: boolean } {
    let bytes = chunk;
    if (this.#pending.length) {
      bytes = new Uint8Array(this.#pending.length + chunk.length);
      bytes.set(this.#pending);
      bytes.set(chunk, this.#pending.length);
      this.#pending = new Uint8Array(0);
    }
    if (this.#atStart) {
      // Wait for three bytes (or a mismatch) before deciding about the BOM.
      if (bytes.length < 3 && BOM.subarray(0, bytes.length).every((b, i) => b === bytes[i])) {
        this.#pending = bytes.slice();
        return { text: "", invalid: false };
      }
      this.#atStart = false;
      if (hasBom(bytes)) {
        bytes = bytes.subarray(3);
        if (this.#encoding === "auto") this.#encoding = "utf-8";
      }
    }
    if (this.#encoding === "windows-1252") {
      return { text: this.#cp1252.decode(bytes), invalid: false };
    }
    const cut = bytes.length - incompleteTail(bytes);
    // Copied: a source may reuse its buffer for the next chunk.
    this.#pending = bytes.slice(cut);
    return this.#utf8OrFallback(bytes, cut);
  }

  /** Decodes what is still held back at the end of the stream. */
  end(): { text: string; invalid: boolean } {
    const bytes = this.#pending;
    this.#pending = new Uint8Array(0);
    if (!bytes.length) return { text: "", invalid: false };
    // A file shorter than a BOM, or ending inside a UTF-8 sequence.
    if (this.#encoding === "windows-1252") {
      return { text: this.#cp1252.decode(bytes), invalid: false };
    }
    return this.#utf8OrFallback(bytes, bytes.length);
  }

  #utf8OrFallback(bytes: Uint8Array, cut: number): { text: string; invalid: boolean } {
    const body = bytes.subarray(0, cut);
    try {
      const text = this.#utf8.decode(body);
      // Fewer characters than bytes: a multi-byte sequence was valid UTF-8, so that is settled.
      if (this.#encoding === "auto" && text.length !== body.length) this.#encoding = "utf-8";
      return { text, invalid: false };
    } catch {
      if (this.#encoding === "auto" && !startsAsUtf8(body)) {
        // Everything before was ASCII, which reads the same in both encodings: switching is safe.
        this.#encoding = "windows-1252";
        this.#pending = new Uint8Array(0);
        return { text: this.#cp1252.decode(bytes), invalid: false };
      }
      this.#encoding = "utf-8";
      this.#pending = new Uint8Array(0);
      return { text: this.#utf8.decode(body.subarray(0, validUtf8Length(body))), invalid: true };
    }
  }
}

const BOM = new Uint8Array([0xef, 0xbb, 0xbf]);
const hasBom = (b: Uint8Array) => b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;

/**
 * True when the first non-ASCII sequence is valid UTF-8 (or there is none). One rule for the
 * sniffer and the reader, so a UTF-8 file with a bad byte later is an error at that byte rather
 * than read whole as Windows-1252, which would garble every letter before it without a word.
 */
function startsAsUtf8(b: Uint8Array): boolean {
  let p = 0;
  while (p < b.length && b[p]! < 0x80) p++;
  return p === b.length || validUtf8Length(b.subarray(p, p + 4)) > 0;
}

/** How many bytes at the end start a UTF-8 sequence that the next chunk must complete. */
function incompleteTail(b: Uint8Array): number {
  for (let k = 1; k <= 3 && k <= b.length; k++) {
    const c = b[b.length - k]!;
    if ((c & 0xc0) === 0x80) continue; // a continuation byte: look further back
    if (c < 0xc0) return 0;
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    return need > k ? k : 0;
  }
  return 0;
}

/** Length of the longest prefix of complete, valid UTF-8 sequences (RFC 3629 table). */
function validUtf8Length(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0; // overlong
      if (c === 0xed) hi = 0x9f; // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90; // overlong
      if (c === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return i;
    if (i + need >= b.length) return i;
    const c1 = b[i + 1]!;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= need; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return i;
}

// Parser states.
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
const QUOTE_IN_QUOTED = 3; // a `"` inside quotes: either `""` or the closing quote
const AFTER_QUOTE = 4; // after the closing quote only a delimiter or a line end may follow

/**
 * An RFC 4180 state machine fed decoded text in pieces of any size. Runs of ordinary characters
 * are found with indexOf and copied as one slice: far faster than going character by character.
 */
class CsvParser {
  /** Physical line at the current position (CRLF, LF and a lone CR each end a line). */
  line = 1;
  #delimiter: CsvDelimiter;
  #delimiterCode: number;
  #maxRow: number;
  #state = FIELD_START;
  #fields: string[] = [];
  #field = "";
  #recordLine = 1;
  #quoteLine = 1;
  /** Nothing but a line end seen in this record: a blank line, skipped. */
  #blank = true;
  /** The last record ended with CR, so a following LF (perhaps in the next chunk) belongs to it. */
  #skipLF = false;
  /** Quoted text ended a chunk with CR: whether it was a line end depends on the next character. */
  #crInQuotes = false;
  /** Characters of the current record in earlier chunks, and where it starts in this one. */
  #rowBefore = 0;
  #rowFrom = 0;

  constructor(delimiter: CsvDelimiter, maxRow: number) {
    this.#delimiter = delimiter;
    this.#delimiterCode = delimiter.charCodeAt(0);
    this.#maxRow = maxRow;
  }

  /** Parses the next piece of text, adding the records it completes to `out`. */
  feed(t: string, out: CsvRecord[]) {
    const n = t.length;
    // Next position of each special character at or after the scan point; n when there is none.
    // They only move forward, so each is searched for once per chunk overall.
    let nextDelimiter = -1;
    let nextLF = -1;
    let nextCR = -1;
    let nextQuote = -1;
    const find = (s: string, from: number) => {
      const p = t.indexOf(s, from);
      return p < 0 ? n : p;
    };
    this.#rowFrom = 0;
    let i = 0;
    while (i < n) {
      if (this.#skipLF) {
        this.#skipLF = false;
        if (t.charCodeAt(i) === LF) {
          this.#rowFrom = ++i;
          continue;
        }
      }
      const state = this.#state;
      if (state === FIELD_START || state === UNQUOTED) {
        if (state === FIELD_START && t.charCodeAt(i) === QUOTE) {
          this.#state = QUOTED;
          this.#quoteLine = this.line;
          this.#blank = false;
          i++;
          continue;
        }
        this.#state = UNQUOTED;
        if (nextDelimiter < i) nextDelimiter = find(this.#delimiter, i);
        if (nextLF < i) nextLF = find("\n", i);
        if (nextCR < i) nextCR = find("\r", i);
        if (nextQuote < i) nextQuote = find('"', i);
        const end = Math.min(nextDelimiter, nextLF, nextCR, nextQuote);
        if (end > i) {
          this.#field += t.slice(i, end);
          this.#blank = false;
          this.#checkSize(end);
        }
        if (end === n) break;
        const c = t.charCodeAt(end);
        if (c === QUOTE) throw new CsvError(this.line, "stray_quote");
        i = end + 1;
        if (c === this.#delimiterCode) this.#endField(i);
        else {
          const rec = this.#endRecord(c, i);
          if (rec) out.push(rec);
        }
      } else if (state === QUOTED) {
        if (this.#crInQuotes) {
          this.#crInQuotes = false;
          if (t.charCodeAt(i) !== LF) this.line++;
        }
        if (nextQuote < i) nextQuote = find('"', i);
        const end = nextQuote;
        // Line breaks inside the quotes still advance the physical line.
        if (nextLF < i) nextLF = find("\n", i);
        for (; nextLF < end; nextLF = find("\n", nextLF + 1)) this.line++;
        if (nextCR < i) nextCR = find("\r", i);
        for (; nextCR < end; nextCR = find("\r", nextCR + 1)) {
          if (nextCR + 1 === n) this.#crInQuotes = true;
          else if (t.charCodeAt(nextCR + 1) !== LF) this.line++;
        }
        if (end > i) {
          this.#field += t.slice(i, end);
          this.#checkSize(end);
        }
        if (end === n) break;
        i = end + 1;
        this.#state = QUOTE_IN_QUOTED;
      } else if (state === QUOTE_IN_QUOTED) {
        if (t.charCodeAt(i) === QUOTE) {
          this.#field += '"';
          this.#state = QUOTED;
          this.#checkSize(++i);
        } else this.#state = AFTER_QUOTE;
      } else {
        const c = t.charCodeAt(i++);
        if (c === this.#delimiterCode) this.#endField(i);
        else if (c === LF || c === CR) {
          const rec = this.#endRecord(c, i);
          if (rec) out.push(rec);
        } else throw new CsvError(this.line, "stray_quote");
      }
    }
    this.#rowBefore += n - this.#rowFrom;
  }

  /** Ends the input: adds the last record, which may lack a line end. */
  finish(out: CsvRecord[]) {
    if (this.#state === QUOTED) throw new CsvError(this.#quoteLine, "unterminated_quote");
    this.#fields.push(this.#field);
    if (!this.#blank) out.push({ line: this.#recordLine, fields: this.#fields });
  }

  /** `pos` is just past the delimiter. */
  #endField(pos: number) {
    this.#fields.push(this.#field);
    this.#field = "";
    this.#blank = false;
    this.#state = FIELD_START;
    // Delimiters count, or a row of a million empty fields would escape the limit.
    this.#checkSize(pos);
  }

  /** `c` is the CR or LF that ended the record, `pos` the position just past it. */
  #endRecord(c: number, pos: number): CsvRecord | undefined {
    this.#fields.push(this.#field);
    const rec = this.#blank ? undefined : { line: this.#recordLine, fields: this.#fields };
    this.#fields = [];
    this.#field = "";
    this.#blank = true;
    this.#state = FIELD_START;
    this.#recordLine = ++this.line;
    this.#skipLF = c === CR;
    this.#rowBefore = 0;
    this.#rowFrom = pos;
    return rec;
  }

  /** `pos` is how far into the current chunk the record has been read. */
  #checkSize(pos: number) {
    if (this.#rowBefore + pos - this.#rowFrom > this.#maxRow) {
      throw new CsvError(this.#recordLine, "row_too_large");
    }
  }
}
