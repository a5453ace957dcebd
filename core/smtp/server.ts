// What Skicka's SMTP servers (the inbound role for bounces, the submission relay) share on top
// of `smtp-server`: a reply carrying an SMTP code, and listening with the bound port reported.
import type { SMTPServer } from "smtp-server";
import { SMTPConnection } from "smtp-server/lib/smtp-connection.js";

/** An error smtp-server answers with this code and text. */
export function smtpError(code: number, text: string): Error {
  return Object.assign(new Error(text), { responseCode: code });
}

export interface RunningSmtpServer {
  port: number;
  close(): Promise<void>;
}

/** Listens (`port: 0` picks a free one, for tests) and reports the port it got. */
export async function listenSmtp(
  server: SMTPServer,
  opts: { port: number; host: string },
): Promise<RunningSmtpServer> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.server.address();
  const port = addr && typeof addr === "object" ? addr.port : opts.port;
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The option that makes a server greet at once. smtp-server waits 100 ms before its greeting to
 * catch "early talkers" (spam bots that do not wait for it): worth it for mail from strangers
 * (the inbound role), not for submission by known systems, where a client that opens a
 * connection per message — Postfix's smtp-source, many applications — got at most ten messages a
 * second per connection from it (measured: 220 came 110–120 ms after connect, everything else
 * took 4 ms).
 */
export const GREET_AT_ONCE = "skickaGreetAtOnce";

interface ConnectionInternals {
  _server: { options: Record<string, unknown>; connections: Set<unknown> };
  _setListeners(ready: () => void): void;
  connectionReady(): void;
  send(code: number, text: string, close: boolean): void;
  name: string;
}

// smtp-server@3.21.6 (pinned in deno.json): init() is _setListeners → the client limit → a
// 100 ms timer → connectionReady(). With GREET_AT_ONCE the same, without the timer.
const proto = SMTPConnection.prototype as unknown as ConnectionInternals & { init(): void };
const init = proto.init;
proto.init = function (this: ConnectionInternals) {
  if (!this._server.options[GREET_AT_ONCE]) return init.call(this);
  this._setListeners(() => {
    const max = Number(this._server.options.maxClients ?? 0);
    if (max && this._server.connections.size > max) {
      return this.send(
        421,
        this.name + " Too many connected clients, try again in a moment",
        false,
      );
    }
    this.connectionReady();
  });
};
