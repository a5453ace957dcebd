// A line-at-a-time SMTP client for the submission tests: one command, one reply, so a test can
// say exactly which step a server refuses (RCPT without AUTH, DATA after a failed MAIL…).
const enc = new TextEncoder();
const dec = new TextDecoder();

export interface Reply {
  code: number;
  /** All lines of the reply, joined with "\n", without the codes. */
  text: string;
}

export class SmtpTestClient {
  #conn: Deno.Conn | Deno.TlsConn;
  #buffer = "";

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Connects and reads the greeting. */
  static async connect(port: number): Promise<{ client: SmtpTestClient; greeting: Reply }> {
    const client = new SmtpTestClient(await Deno.connect({ hostname: "127.0.0.1", port }));
    return { client, greeting: await client.reply() };
  }

  async reply(): Promise<Reply> {
    const lines: string[] = [];
    for (;;) {
      const nl = this.#buffer.indexOf("\r\n");
      if (nl < 0) {
        const chunk = new Uint8Array(16_384);
        const n = await this.#conn.read(chunk);
        if (n === null) throw new Error(`connection closed; so far: ${lines.join(" | ")}`);
        this.#buffer += dec.decode(chunk.subarray(0, n));
        continue;
      }
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 2);
      lines.push(line);
      if (/^\d{3}( |$)/.test(line)) {
        return { code: Number(line.slice(0, 3)), text: lines.map((l) => l.slice(4)).join("\n") };
      }
    }
  }

  async cmd(line: string): Promise<Reply> {
    await this.write(line + "\r\n");
    return await this.reply();
  }

  async write(text: string): Promise<void> {
    const bytes = enc.encode(text);
    let o = 0;
    while (o < bytes.length) o += await this.#conn.write(bytes.subarray(o));
  }

  /** STARTTLS and a new EHLO inside TLS, trusting `caCert`. */
  async startTls(caCert: string): Promise<Reply> {
    const r = await this.cmd("STARTTLS");
    if (r.code !== 220) throw new Error(`STARTTLS refused: ${r.code} ${r.text}`);
    this.#conn = await Deno.startTls(this.#conn as Deno.TcpConn, {
      hostname: "localhost",
      caCerts: [caCert],
    });
    return await this.cmd("EHLO client.test");
  }

  authPlain(user: string, pass: string): Promise<Reply> {
    return this.cmd(`AUTH PLAIN ${btoa(`\0${user}\0${pass}`)}`);
  }

  /** DATA with the message (dot-stuffed here); the reply to the final dot. */
  async data(message: string): Promise<Reply> {
    const go = await this.cmd("DATA");
    if (go.code !== 354) return go;
    const body = message.replace(/\r?\n/g, "\r\n").replace(/^\./gm, "..");
    await this.write(body + (body.endsWith("\r\n") ? "" : "\r\n") + ".\r\n");
    return await this.reply();
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed by the server
    }
  }
}
