// Reads SMTP replies off a byte stream: buffered lines, grouped into (multi-line) replies.

export interface SmtpReply {
  code: number;
  /** Enhanced status code (RFC 3463) from the first line, e.g. "2.1.5". */
  enhanced?: string;
  /** Reply text without code and enhanced status, lines joined with "\n". */
  message: string;
  /** Each line's text after "250-" / "250 ", enhanced status kept (EHLO keywords are here). */
  lines: string[];
}

/** The stream ended or sent something that is not an SMTP reply. */
export class ReplyStreamError extends Error {
  override name = "ReplyStreamError";
  constructor(message: string, readonly closed: boolean) {
    super(message);
  }
}

export interface ByteSource {
  read(p: Uint8Array): Promise<number | null>;
}

const LF = 10;
const CR = 13;
/** RFC 5321 allows 512 octets per reply line; be generous, but never buffer without bound. */
const MAX_LINE = 16 * 1024;
const ENHANCED = /^([245]\.\d{1,3}\.\d{1,3})(?: |$)/;
const decoder = new TextDecoder();

export class ReplyReader {
  #buf = new Uint8Array(4096);
  #start = 0;
  #end = 0;

  constructor(public source: ByteSource) {}

  /** Bytes received but not yet parsed. Must be 0 before a TLS upgrade (RFC 3207 §4.2). */
  get buffered(): number {
    return this.#end - this.#start;
  }

  async read(): Promise<SmtpReply> {
    const lines: string[] = [];
    let code = 0;
    for (;;) {
      const line = this.#takeLine() ?? await this.#fillAndTake();
      const lineCode = line.length >= 3 ? Number(line.slice(0, 3)) : NaN;
      const sep = line.charCodeAt(3);
      // sep is NaN for a bare "250": tolerated as a final line.
      if (!(lineCode >= 200 && lineCode <= 599) || !(sep === 32 || sep === 45 || isNaN(sep))) {
        throw new ReplyStreamError(`Malformed SMTP reply line: ${JSON.stringify(line)}`, false);
      }
      if (code === 0) code = lineCode;
      lines.push(line.slice(4));
      if (sep !== 45) break;
    }
    let enhanced: string | undefined;
    const first = ENHANCED.exec(lines[0] ?? "");
    if (first) enhanced = first[1];
    const message = enhanced
      ? lines.map((l) => l.startsWith(enhanced) ? l.slice(enhanced.length).trimStart() : l)
        .join("\n")
      : lines.join("\n");
    return { code, enhanced, message, lines };
  }

  #takeLine(): string | undefined {
    const i = this.#buf.subarray(this.#start, this.#end).indexOf(LF);
    if (i < 0) return undefined;
    const lf = this.#start + i;
    const stop = lf > this.#start && this.#buf[lf - 1] === CR ? lf - 1 : lf;
    const line = decoder.decode(this.#buf.subarray(this.#start, stop));
    this.#start = lf + 1;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return line;
  }

  async #fillAndTake(): Promise<string> {
    for (;;) {
      if (this.#end === this.#buf.length) {
        if (this.#end - this.#start >= MAX_LINE) {
          throw new ReplyStreamError(`SMTP reply line longer than ${MAX_LINE} bytes`, false);
        }
        // Move the partial line to the front, growing only if it fills most of the buffer.
        const pending = this.#buf.subarray(this.#start, this.#end);
        const next = pending.length * 2 > this.#buf.length
          ? new Uint8Array(this.#buf.length * 2)
          : this.#buf;
        next.set(pending);
        this.#buf = next;
        this.#start = 0;
        this.#end = pending.length;
      }
      const n = await this.source.read(this.#buf.subarray(this.#end));
      if (n === null) throw new ReplyStreamError("Connection closed by the server", true);
      this.#end += n;
      const line = this.#takeLine();
      if (line !== undefined) return line;
    }
  }
}
