// Real SMTP peers on 127.0.0.1 for the tests and benchmarks: smtp-server, smtp-sink, scripted.
import { SMTPServer, type SMTPServerOptions } from "smtp-server";

export interface Received {
  from: string;
  to: string[];
  /** The message as the server stored it: after dot-unstuffing, without the final ".". */
  body: Uint8Array;
  /** Whether the session was under TLS. */
  secure: boolean;
  user: unknown;
  /** MAIL FROM parameters, e.g. { SIZE: "123", BODY: "8BITMIME" }. */
  mailArgs: Record<string, string | boolean>;
}

export interface TestSmtpServer {
  port: number;
  received: Received[];
  /** Sessions opened so far. */
  connections: number;
  close(): Promise<void>;
}

/** Starts nodemailer's smtp-server on a free loopback port; messages are kept in `received`. */
export async function startSmtpServer(options: SMTPServerOptions = {}): Promise<TestSmtpServer> {
  const received: Received[] = [];
  const state = { connections: 0 };
  const server = new SMTPServer({
    authOptional: true,
    disableReverseLookup: true,
    logger: false,
    closeTimeout: 200,
    onConnect(_session, callback) {
      state.connections++;
      callback();
    },
    async onData(stream, session, callback) {
      const chunks: Uint8Array[] = [];
      for await (const chunk of stream) chunks.push(chunk as Uint8Array);
      const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let o = 0;
      for (const c of chunks) body.set(c, (o += c.length) - c.length);
      const { mailFrom, rcptTo } = session.envelope;
      received.push({
        from: mailFrom ? mailFrom.address : "",
        to: rcptTo.map((r) => r.address),
        body,
        secure: session.secure,
        user: session.user,
        mailArgs: mailFrom && mailFrom.args
          ? { ...mailFrom.args } as Record<string, string | boolean>
          : {},
      });
      callback();
    },
    ...options,
  });
  // Client-side failures (a refused certificate, a hang-up) surface as server errors: ignore.
  server.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.server.address();
  if (address === null || typeof address === "string") throw new Error("smtp-server not on TCP");
  return {
    port: address.port,
    received,
    get connections() {
      return state.connections;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

export interface ScriptedConn {
  /** The next line without CRLF; null at end of stream. */
  line(): Promise<string | null>;
  /** Bytes up to and including "\r\n.\r\n". */
  data(): Promise<string>;
  send(text: string): Promise<void>;
  close(): void;
}

export interface ScriptedServer {
  port: number;
  connections: number;
  close(): Promise<void>;
}

/** A loopback server whose every session runs `script`: for misbehaviour smtp-server can't do. */
export function startScriptedServer(script: (c: ScriptedConn) => Promise<void>): ScriptedServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const sessions = new Set<Promise<void>>();
  const state = { connections: 0 };
  const accepting = (async () => {
    for await (const conn of listener) {
      state.connections++;
      open.add(conn);
      const session = script(scripted(conn)).catch(() => {}).finally(() => {
        open.delete(conn);
        try {
          conn.close();
        } catch { /* closed by the script */ }
      });
      sessions.add(session);
      void session.finally(() => sessions.delete(session));
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get connections() {
      return state.connections;
    },
    async close() {
      listener.close();
      for (const conn of open) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
      await accepting.catch(() => {});
      await Promise.all(sessions);
    },
  };
}

function scripted(conn: Deno.Conn): ScriptedConn {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let buffered = "";
  const more = async () => {
    const buf = new Uint8Array(65536);
    const n = await conn.read(buf);
    if (n === null) return false;
    buffered += decoder.decode(buf.subarray(0, n));
    return true;
  };
  return {
    async line() {
      while (!buffered.includes("\r\n")) if (!await more()) return null;
      const at = buffered.indexOf("\r\n");
      const line = buffered.slice(0, at);
      buffered = buffered.slice(at + 2);
      return line;
    },
    async data() {
      while (!buffered.includes("\r\n.\r\n")) if (!await more()) return buffered;
      const at = buffered.indexOf("\r\n.\r\n") + 5;
      const data = buffered.slice(0, at);
      buffered = buffered.slice(at);
      return data;
    },
    async send(text) {
      await conn.write(encoder.encode(text));
    },
    close: () => conn.close(),
  };
}

export const SMTP_SINK = "/usr/sbin/smtp-sink";

export function hasSmtpSink(): boolean {
  try {
    return Deno.statSync(SMTP_SINK).isFile;
  } catch {
    return false;
  }
}

export interface SmtpSink {
  port: number;
  /** Messages the sink has counted so far ("mesg=" of its -c output). */
  messages(): number;
  /** Resolves once the sink has counted at least n messages, or rejects after timeoutMs. */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts Postfix's smtp-sink on a free loopback port with a running counter (-c). Benchmarks
 * pass `counter: false`: the sink then writes nothing per message (messages() stays 0).
 */
export async function startSmtpSink({ counter = true } = {}): Promise<SmtpSink> {
  const port = freePort();
  // As root smtp-sink must drop privileges; it refuses to run otherwise.
  const user = Deno.uid() === 0 ? ["-u", "nobody"] : [];
  const child = new Deno.Command(SMTP_SINK, {
    args: [...user, ...(counter ? ["-c"] : []), `127.0.0.1:${port}`, "1000"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let count = 0;
  const reading = (async () => {
    const decoder = new TextDecoder();
    let tail = "";
    for await (const chunk of child.stdout) {
      tail = (tail + decoder.decode(chunk, { stream: true })).slice(-200);
      const all = [...tail.matchAll(/mesg=(\d+)/g)];
      const last = all[all.length - 1];
      if (last) count = Number(last[1]);
    }
  })();
  // Wait until our sink answers: its greeting proves the port is ours and it is up.
  for (let tries = 0;; tries++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const buf = new Uint8Array(256);
      const n = await conn.read(buf);
      conn.close();
      const greeting = new TextDecoder().decode(buf.subarray(0, n ?? 0));
      if (!greeting.includes("smtp-sink")) throw new Error(`Port ${port} answered ${greeting}`);
      break;
    } catch (err) {
      if (tries > 50) {
        child.kill();
        await child.status;
        throw err;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return {
    port,
    messages: () => count,
    async waitFor(n, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (count < n) {
        if (Date.now() > deadline) throw new Error(`smtp-sink counted ${count} of ${n} messages`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async close() {
      child.kill("SIGTERM");
      await child.status;
      await reading;
    },
  };
}

export interface TestCerts {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** A throwaway CA and a localhost/127.0.0.1 certificate signed by it, made with openssl. */
export async function makeCerts(): Promise<TestCerts | null> {
  const dir = await Deno.makeTempDir({ prefix: "skicka-smtp-tls-" });
  const run = async (args: string[]) => {
    const out = await new Deno.Command("openssl", {
      args,
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    })
      .output();
    if (!out.success) {
      throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
    }
  };
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    await run([
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "1",
      "-subj",
      "/CN=Skicka Test CA",
    ]);
    await run(["req", ...ec, "-keyout", "key.pem", "-out", "req.csr", "-subj", "/CN=localhost"]);
    await Deno.writeTextFile(`${dir}/ext.cnf`, "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    await run([
      "x509",
      "-req",
      "-in",
      "req.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "cert.pem",
      "-days",
      "1",
      "-extfile",
      "ext.cnf",
    ]);
    return {
      caPem: await Deno.readTextFile(`${dir}/ca.pem`),
      certPem: await Deno.readTextFile(`${dir}/cert.pem`),
      keyPem: await Deno.readTextFile(`${dir}/key.pem`),
    };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
