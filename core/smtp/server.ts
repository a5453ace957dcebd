// What Skicka's SMTP servers (the inbound role for bounces, the submission relay) share on top
// of `smtp-server`: a reply carrying an SMTP code, and listening with the bound port reported.
import type { SMTPServer } from "smtp-server";

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
