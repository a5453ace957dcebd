// Outbound SMTP client: one connection carrying pipelined transactions of ready-built messages.
import { encodeData } from "./data.ts";
import { SmtpError } from "./errors.ts";
import { SmtpIo } from "./io.ts";
import {
  base64,
  checkAddress,
  isOk,
  NO_EXTENSIONS,
  type OutboundMessage,
  parseCapabilities,
  type RecipientResult,
  replyError,
  result,
  type SmtpCapabilities,
} from "./protocol.ts";
import type { SmtpReply } from "./reply.ts";
import { denoTransport, type SmtpTransport } from "./transport.ts";

/**
 * "require": STARTTLS or fail. "opportunistic": STARTTLS when offered; if the handshake fails,
 * reconnect in plaintext (RFC 7435). "off": never. "implicit": TLS from the first byte (port 465).
 */
export type TlsMode = "require" | "opportunistic" | "off" | "implicit";

export interface SmtpAuth {
  user: string;
  pass: string;
  /** Defaults to PLAIN when offered, else LOGIN. */
  method?: "PLAIN" | "LOGIN";
}

export interface SmtpConnectionOptions {
  host: string;
  /** Defaults to 25, or 465 for implicit TLS. */
  port?: number;
  /** Our name in EHLO/HELO; receivers check it, so set the sending host's FQDN. */
  name?: string;
  /** Defaults to "opportunistic". */
  tls?: TlsMode;
  /** Name the certificate must carry; defaults to host. */
  servername?: string;
  /** Extra trusted roots in PEM (a private relay's CA, a test CA). */
  caCerts?: string[];
  /** Checks the chain but not the name. Only when explicitly configured. */
  unsafelyDisableHostnameVerification?: boolean;
  auth?: SmtpAuth;
  /** Credentials are refused over plaintext unless this is set. */
  allowInsecureAuth?: boolean;
  /** Use PIPELINING when the server offers it (default true). */
  pipelining?: boolean;
  connectTimeoutMs?: number;
  greetingTimeoutMs?: number;
  /** Per command or pipelined group of commands. */
  commandTimeoutMs?: number;
  /** From the first byte of the message to the final reply. */
  dataTimeoutMs?: number;
  transport?: SmtpTransport;
}

export type {
  DeliveryStatus,
  OutboundMessage,
  RecipientResult,
  SmtpCapabilities,
} from "./protocol.ts";

const SCRATCH_MAX = 1 << 20;

/** One SMTP session. Not for concurrent use: SmtpPool gives each send its own connection. */
export class SmtpConnection {
  readonly host: string;
  readonly port: number;
  #o: SmtpConnectionOptions;
  #io: SmtpIo;
  #timeouts: { connect: number; greeting: number; command: number; data: number };
  #caps: SmtpCapabilities = NO_EXTENSIONS;
  #secure = false;
  #busy = false;
  /** A MAIL transaction may be open on the server, so the next one starts with RSET. */
  #dirty = false;
  #sent = 0;
  #bodyWritten = false;
  #scratch: Uint8Array = new Uint8Array(0);

  private constructor(options: SmtpConnectionOptions) {
    this.#o = options;
    this.host = options.host;
    this.port = options.port ?? (options.tls === "implicit" ? 465 : 25);
    this.#io = new SmtpIo(this.host, this.port, options.transport ?? denoTransport);
    this.#timeouts = {
      connect: options.connectTimeoutMs ?? 10_000,
      greeting: options.greetingTimeoutMs ?? 30_000,
      command: options.commandTimeoutMs ?? 60_000,
      data: options.dataTimeoutMs ?? 120_000,
    };
    const name = options.name ?? "localhost";
    if (!/^[\x21-\x7e]{1,255}$/.test(name)) {
      throw new SmtpError(`Invalid EHLO name ${JSON.stringify(name)}`, {
        phase: "ehlo",
        temporary: false,
      });
    }
  }

  /** Connects, reads the greeting, says EHLO, upgrades to TLS and authenticates as configured. */
  static async connect(options: SmtpConnectionOptions): Promise<SmtpConnection> {
    const conn = new SmtpConnection(options);
    try {
      await conn.#open();
      return conn;
    } catch (err) {
      const error = conn.#io.toError(err, false);
      conn.close();
      const tlsFailed = error.phase === "tls" || error.during === "tls";
      if ((options.tls ?? "opportunistic") === "opportunistic" && tlsFailed) {
        return SmtpConnection.connect({ ...options, tls: "off" });
      }
      throw error;
    }
  }

  get capabilities(): SmtpCapabilities {
    return this.#caps;
  }
  /** Whether the session runs over TLS. */
  get secure(): boolean {
    return this.#secure;
  }
  get closed(): boolean {
    return this.#io.closed;
  }
  /** Messages accepted for at least one recipient over this connection. */
  get messagesSent(): number {
    return this.#sent;
  }

  /**
   * Sends one message and returns a result per recipient. Rejections by the server are results;
   * a broken session (timeout, lost connection, 421) throws SmtpError and closes the connection.
   */
  async send(message: OutboundMessage): Promise<RecipientResult[]> {
    if (this.#busy) throw new Error("SmtpConnection.send() is already running on this connection");
    if (this.#io.closed) {
      throw new SmtpError(`Connection to ${this.host}:${this.port} is closed`, { phase: "mail" });
    }
    const { from, to, raw } = message;
    if (to.length === 0) {
      throw new SmtpError("A message needs at least one recipient", {
        phase: "rcpt",
        temporary: false,
      });
    }
    let utf8 = checkAddress(from, "mail");
    for (const rcpt of to) utf8 = checkAddress(rcpt, "rcpt") || utf8;
    if (utf8 && !this.#caps.smtpUtf8) {
      throw new SmtpError(`${this.host} does not offer SMTPUTF8, needed for a non-ASCII address`, {
        phase: "mail",
        enhanced: "5.6.7",
        temporary: false,
      });
    }
    const { size, sizeLimit, eightBitMime } = this.#caps;
    if (sizeLimit > 0 && raw.length > sizeLimit) {
      const text =
        `Message of ${raw.length} bytes exceeds the ${sizeLimit}-byte limit of ${this.host}`;
      return to.map((rcpt) =>
        result(rcpt, { code: 552, enhanced: "5.3.4", message: text, lines: [] })
      );
    }
    // 8BITMIME may be declared for any body, so declaring it always spares a scan of the bytes.
    const mail = `MAIL FROM:<${from}>${size ? ` SIZE=${raw.length}` : ""}` +
      `${eightBitMime ? " BODY=8BITMIME" : ""}${utf8 ? " SMTPUTF8" : ""}`;
    const data = encodeData(raw, this.#scratch);
    // Reused for the next message unless huge: saves an allocation (and GC work) per message.
    if (data.buffer !== this.#scratch.buffer && data.length <= SCRATCH_MAX) {
      this.#scratch = new Uint8Array(data.buffer);
    }
    this.#busy = true;
    this.#bodyWritten = false;
    try {
      const usePipelining = this.#caps.pipelining && this.#o.pipelining !== false;
      return await (usePipelining
        ? this.#pipelined(mail, to, data)
        : this.#stepwise(mail, to, data));
    } catch (err) {
      const error = this.#io.toError(err, this.#bodyWritten);
      this.close();
      throw error;
    } finally {
      this.#busy = false;
      this.#io.disarm();
    }
  }

  /** Says QUIT and closes; never throws. */
  async quit(): Promise<void> {
    if (this.#io.closed || this.#busy) return this.close();
    try {
      this.#io.at("mail", "waiting for the reply to QUIT");
      this.#io.arm(Math.min(this.#timeouts.command, 5_000));
      await this.#io.write("QUIT\r\n");
      await this.#io.read();
    } catch {
      // The peer may hang up before answering QUIT; the session is over either way.
    } finally {
      this.close();
    }
  }

  /** Closes the socket at once. */
  close(): void {
    this.#io.close();
  }

  async #open(): Promise<void> {
    const o = this.#o;
    const mode = o.tls ?? "opportunistic";
    this.#io.at("connect", "connecting");
    this.#io.arm(this.#timeouts.connect);
    await this.#io.connect();
    if (mode === "implicit") await this.#upgrade();
    this.#io.at("greeting", "waiting for the greeting");
    this.#io.arm(this.#timeouts.greeting);
    const greeting = await this.#io.read();
    if (greeting.code !== 220) throw replyError("greeting", greeting, "Session", this.host);
    await this.#hello();
    if (mode === "require" || mode === "opportunistic") {
      if (this.#caps.startTls) {
        this.#io.at("tls", "waiting for the reply to STARTTLS");
        const reply = await this.#command("STARTTLS");
        if (reply.code === 220) {
          // Bytes already queued behind the 220 were sent in plaintext: a known injection trick.
          if (this.#io.buffered > 0) {
            throw new SmtpError(`${this.host} sent data after its 220 to STARTTLS`, {
              phase: "tls",
              temporary: false,
            });
          }
          await this.#upgrade();
          await this.#hello();
        } else if (mode === "require") {
          throw replyError("tls", reply, "STARTTLS", this.host);
        }
      } else if (mode === "require") {
        throw new SmtpError(
          `${this.host}:${this.port} does not offer STARTTLS, which is required`,
          {
            phase: "tls",
            temporary: false,
          },
        );
      }
    }
    if (o.auth) await this.#authenticate(o.auth);
    this.#io.disarm();
  }

  async #upgrade(): Promise<void> {
    this.#io.at("tls", "during the TLS handshake");
    this.#io.arm(this.#timeouts.connect);
    await this.#io.startTls({
      hostname: this.#o.servername ?? this.host,
      caCerts: this.#o.caCerts,
      unsafelyDisableHostnameVerification: this.#o.unsafelyDisableHostnameVerification,
    });
    this.#secure = true;
  }

  async #hello(): Promise<void> {
    const name = this.#o.name ?? "localhost";
    this.#io.at("ehlo", "waiting for the reply to EHLO");
    const ehlo = await this.#command(`EHLO ${name}`);
    if (ehlo.code === 250) {
      this.#caps = parseCapabilities(ehlo.lines);
      return;
    }
    // RFC 5321 §3.2: a server without ESMTP rejects EHLO; HELO then gives a plain SMTP session.
    this.#io.at("ehlo", "waiting for the reply to HELO");
    const helo = await this.#command(`HELO ${name}`);
    if (helo.code !== 250) throw replyError("ehlo", helo, "HELO", this.host);
    this.#caps = NO_EXTENSIONS;
  }

  async #authenticate(auth: SmtpAuth): Promise<void> {
    if (!this.#secure && !this.#o.allowInsecureAuth) {
      throw new SmtpError(
        `Refusing to send credentials to ${this.host} without TLS (set allowInsecureAuth to allow)`,
        { phase: "auth", temporary: false },
      );
    }
    const offered = this.#caps.auth;
    const method = auth.method ??
      (offered.includes("PLAIN") ? "PLAIN" : offered.includes("LOGIN") ? "LOGIN" : undefined);
    if (method === undefined || !offered.includes(method)) {
      const list = offered.join(" ") || "no AUTH";
      throw new SmtpError(`${this.host} offers ${list}; ${method ?? "PLAIN or LOGIN"} needed`, {
        phase: "auth",
        temporary: false,
      });
    }
    this.#io.at("auth", `waiting for the reply to AUTH ${method}`);
    let reply: SmtpReply;
    if (method === "PLAIN") {
      reply = await this.#command(`AUTH PLAIN ${base64(`\0${auth.user}\0${auth.pass}`)}`);
    } else {
      reply = await this.#command("AUTH LOGIN");
      if (reply.code === 334) reply = await this.#command(base64(auth.user));
      if (reply.code === 334) reply = await this.#command(base64(auth.pass));
    }
    if (reply.code !== 235) throw replyError("auth", reply, "Authentication", this.host);
  }

  /** RSET (on reuse), MAIL, every RCPT and DATA in one write: one round trip (RFC 2920). */
  async #pipelined(mail: string, to: readonly string[], data: Uint8Array) {
    // Pipelined RSET costs no round trip, so a reused connection always starts clean.
    const rset = this.#sent > 0 || this.#dirty;
    let group = rset ? `RSET\r\n${mail}\r\n` : `${mail}\r\n`;
    for (const rcpt of to) group += `RCPT TO:<${rcpt}>\r\n`;
    group += "DATA\r\n";
    this.#io.at("mail", "sending the envelope");
    this.#io.arm(this.#timeouts.command);
    await this.#io.write(group);
    this.#dirty = true;
    if (rset) {
      this.#io.at("mail", "waiting for the reply to RSET");
      const reply = await this.#io.read();
      if (reply.code !== 250) throw replyError("mail", reply, "RSET", this.host);
    }
    this.#io.at("mail", "waiting for the reply to MAIL FROM");
    const mailReply = await this.#io.read();
    const rcptReplies: SmtpReply[] = [];
    for (const rcpt of to) {
      this.#io.at("rcpt", `waiting for the reply to RCPT TO:<${rcpt}>`);
      rcptReplies.push(await this.#io.read());
    }
    this.#io.at("data", "waiting for the reply to DATA");
    const dataReply = await this.#io.read();
    return await this.#finish(to, mailReply, rcptReplies, dataReply, data);
  }

  /** Without PIPELINING: one command per round trip, stopping as soon as the outcome is known. */
  async #stepwise(mail: string, to: readonly string[], data: Uint8Array) {
    if (this.#dirty) {
      // RSET is only needed after an unfinished transaction: a completed DATA resets the state.
      this.#io.at("mail", "waiting for the reply to RSET");
      const reply = await this.#command("RSET");
      if (reply.code !== 250) throw replyError("mail", reply, "RSET", this.host);
      this.#dirty = false;
    }
    this.#io.at("mail", "waiting for the reply to MAIL FROM");
    const mailReply = await this.#command(mail);
    if (!isOk(mailReply)) return to.map((rcpt) => result(rcpt, mailReply));
    this.#dirty = true;
    const rcptReplies: SmtpReply[] = [];
    for (const rcpt of to) {
      this.#io.at("rcpt", `waiting for the reply to RCPT TO:<${rcpt}>`);
      rcptReplies.push(await this.#command(`RCPT TO:<${rcpt}>`));
    }
    if (!rcptReplies.some(isOk)) return to.map((rcpt, i) => result(rcpt, rcptReplies[i]!));
    this.#io.at("data", "waiting for the reply to DATA");
    const dataReply = await this.#command("DATA");
    return await this.#finish(to, mailReply, rcptReplies, dataReply, data);
  }

  async #finish(
    to: readonly string[],
    mailReply: SmtpReply,
    rcptReplies: SmtpReply[],
    dataReply: SmtpReply,
    data: Uint8Array,
  ): Promise<RecipientResult[]> {
    const nobody = !isOk(mailReply) || !rcptReplies.some(isOk);
    if (dataReply.code === 354 && nobody) {
      // A server that opens DATA with no valid recipient gets an empty message to close it.
      this.#io.at("data", "waiting for the reply to an empty DATA");
      this.#io.arm(this.#timeouts.data);
      await this.#io.write(".\r\n");
      await this.#io.read();
    }
    if (!isOk(mailReply)) return to.map((rcpt) => result(rcpt, mailReply));
    const refusedData = dataReply.code === 354 ? undefined : dataReply;
    if (nobody || refusedData) {
      // Recipients accepted at RCPT but stopped by a DATA refusal take that reply, never "sent".
      const status = (refusedData?.code ?? 0) >= 500 ? "failed" : "deferred";
      return to.map((rcpt, i) => {
        const reply = rcptReplies[i]!;
        return isOk(reply) && refusedData ? result(rcpt, refusedData, status) : result(rcpt, reply);
      });
    }
    this.#io.at("data", "sending the message");
    this.#io.arm(this.#timeouts.data);
    await this.#io.writeBytes(data);
    this.#bodyWritten = true;
    this.#io.at("data", "waiting for the reply to the end of data");
    const final = await this.#io.read();
    this.#dirty = false;
    if (isOk(final)) this.#sent++;
    return to.map((rcpt, i) => {
      const reply = rcptReplies[i]!;
      return isOk(reply) ? result(rcpt, final) : result(rcpt, reply);
    });
  }

  #command(line: string): Promise<SmtpReply> {
    return this.#io.command(line, this.#timeouts.command);
  }
}
