// The sockets under the SMTP client, passed in so tests and other runtimes can supply their own.

export interface SmtpSocket {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

export interface TlsParams {
  /** The name the server certificate must carry (and the SNI sent). */
  hostname: string;
  /** Extra trusted roots in PEM, e.g. a test CA. */
  caCerts?: string[];
  /** Checks the chain but not the name. Only for explicitly configured peers. */
  unsafelyDisableHostnameVerification?: boolean;
}

export interface SmtpTransport {
  connect(options: { hostname: string; port: number; signal: AbortSignal }): Promise<SmtpSocket>;
  /** Upgrades a socket from connect() and completes the handshake before resolving. */
  startTls(socket: SmtpSocket, options: TlsParams): Promise<SmtpSocket>;
}

/** Deno's native TCP and rustls. node:net measured the same on loopback (±noise), so: simpler. */
export const denoTransport: SmtpTransport = {
  connect: ({ hostname, port, signal }) => Deno.connect({ hostname, port, signal }),
  async startTls(socket, options) {
    const tls = await Deno.startTls(socket as Deno.TcpConn, {
      hostname: options.hostname,
      caCerts: options.caCerts,
      unsafelyDisableHostnameVerification: options.unsafelyDisableHostnameVerification,
    });
    // Deno handshakes lazily; doing it here makes certificate errors part of the TLS step.
    await tls.handshake();
    return tls;
  },
};
