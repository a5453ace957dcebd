// SMTP submission for customers' own systems (the transactional add-on's relay): STARTTLS, then
// AUTH PLAIN/LOGIN with a tenant's SMTP credential — or a client address inside one of the
// tenant's relay networks (set by the operator) — MAIL FROM a verified sender, and every
// accepted message committed to the durable queue before 250 is answered. Nothing is relayed
// for anyone else; a database failure answers 451 so the client keeps the message.
import {
  SMTPServer,
  type SMTPServerAddress,
  type SMTPServerDataStream,
  type SMTPServerSession,
} from "smtp-server";
import { GREET_AT_ONCE, listenSmtp, smtpError as coded } from "../../core/smtp/server.ts";
import type { AppDeps } from "../../core/deps.ts";
import { AppError } from "../../core/errors.ts";
import { fromMailbox } from "../../core/send/raw_message.ts";
import { verifiedSenders } from "../../core/mailings/senders.ts";
import { DEFAULT_GROUP_COMMIT, GroupCommit, type GroupCommitOptions } from "./smtp_group_commit.ts";
import { verifySmtpLogin } from "./credentials.ts";
import { relayNetworkOf } from "./relay_networks.ts";
import { SubmissionHeaderError, takeSubmissionHeaders } from "./smtp_headers.ts";
import { AuthGuard, type AuthGuardOptions, DEFAULT_AUTH_GUARD } from "./smtp_auth_guard.ts";
import { submissionTls, type TlsFiles } from "./smtp_tls.ts";

type Deps = Pick<AppDeps, "db" | "clock" | "config" | "log" | "registry">;

/** Recipients per message: a relay for one-to-one mail, not a list server. */
export const MAX_RECIPIENTS = 100;

/** The replies a client sees; the enhanced status code leads the text (RFC 3463). */
const REPLY = {
  authRequired: [530, "5.7.0 Authentication required: STARTTLS, then AUTH PLAIN or LOGIN"],
  authInvalid: [535, "5.7.8 Authentication credentials invalid"],
  authNotEnabled: [
    535,
    "5.7.8 SMTP relay needs the transactional add-on, which this organisation does not have",
  ],
  authSuspended: [535, "5.7.8 This organisation is suspended"],
  authLocked: [454, "4.7.0 Too many failed logins from your address; try again later"],
  authTemporary: [454, "4.7.0 Temporary authentication failure; try again later"],
  tooManyRecipients: [452, `4.5.3 Too many recipients (at most ${MAX_RECIPIENTS} per message)`],
  tooBig: [552, "5.3.4 Message exceeds fixed maximum message size"],
  notUtf8: [
    554,
    "5.6.0 Message is neither 7-bit nor UTF-8; encode 8-bit parts as quoted-printable or base64",
  ],
  temporary: [451, "4.3.0 Temporary failure, message not queued; try again later"],
} as const satisfies Record<string, readonly [number, string]>;

/** Who a session submits for: an AUTH login, or the relay network its client address is in. */
type SessionUser =
  | { tenantId: string; credentialId: string; username: string }
  | { tenantId: string; networkId: string; network: string };

/** What onConnect learnt about the client's address, kept on the session object. */
interface NetworkSession {
  relayNetwork?: SessionUser | "lookup_failed";
}

export interface SubmissionServer {
  port: number;
  close(): Promise<void>;
}

export interface SubmissionOptions {
  port: number;
  host: string;
  tls: TlsFiles;
  /** Largest message in bytes (SIZE); default config.submissionMaxBytes. */
  maxBytes?: number;
  authGuard?: AuthGuardOptions;
  groupCommit?: GroupCommitOptions;
}

function smtpError([code, text]: readonly [number, string]): Error {
  return coded(code, text);
}

/** AUTH wins over the network; null when the session is neither. */
function userOf(session: SMTPServerSession): SessionUser | null {
  const network = (session as NetworkSession).relayNetwork;
  return (session.user as SessionUser | undefined) ??
    (typeof network === "object" ? network : null);
}

/** The reply for MAIL/RCPT/DATA of a session that is not authorised. */
function unauthorised(session: SMTPServerSession): Error {
  // A network client whose lookup failed must retry, not bounce its mail.
  return (session as NetworkSession).relayNetwork === "lookup_failed"
    ? smtpError(REPLY.temporary)
    : smtpError(REPLY.authRequired);
}

/** A verified sender address of the tenant exactly (the core's list, reused for seconds). */
async function isVerifiedSender(deps: Deps, tenantId: string, address: string): Promise<boolean> {
  return (await verifiedSenders(deps, tenantId)).addresses
    .has(address.toLowerCase());
}

/** Starts the submission server; `port: 0` picks a free one (tests). */
export async function startSubmission(
  deps: Deps,
  opts: SubmissionOptions,
): Promise<SubmissionServer> {
  const maxBytes = opts.maxBytes ?? deps.config.submissionMaxBytes;
  const guard = new AuthGuard(opts.authGuard ?? DEFAULT_AUTH_GUARD);
  const commits = new GroupCommit(deps, opts.groupCommit ?? DEFAULT_GROUP_COMMIT);
  const utf8 = new TextDecoder("utf-8", { fatal: true });

  async function receive(
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    callback: (err?: Error | null, message?: string) => void,
  ): Promise<void> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of stream) {
      size += (chunk as Uint8Array).length;
      if (size <= maxBytes) chunks.push(chunk as Uint8Array);
    }
    const user = userOf(session);
    if (!user) return callback(unauthorised(session));
    if (stream.sizeExceeded || size > maxBytes) return callback(smtpError(REPLY.tooBig));
    const bytes = new Uint8Array(size);
    let o = 0;
    for (const c of chunks) {
      bytes.set(c, o);
      o += c.length;
    }
    // PostgreSQL text and jsonb cannot hold NUL: such a message could never be queued, and a
    // 4xx would make the client retry it forever. A permanent refusal tells it at once.
    if (bytes.includes(0)) {
      return callback(smtpError([554, "5.6.0 The message contains a NUL character"]));
    }
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      return callback(smtpError(REPLY.notUtf8));
    }
    let message;
    try {
      message = takeSubmissionHeaders(text);
    } catch (e) {
      if (e instanceof SubmissionHeaderError) {
        return callback(smtpError([554, `5.6.0 ${e.message}`]));
      }
      throw e;
    }
    // The From: header is what recipients see and what DKIM signs for: it must be a verified
    // sender too, or a verified envelope could carry anyone's name.
    const from = fromMailbox(message.raw);
    if ("problem" in from) {
      return callback(smtpError([
        550,
        `5.6.0 The message needs exactly one From: field with one address (${from.problem})`,
      ]));
    }
    const shownFrom = from.address;
    try {
      if (!(await isVerifiedSender(deps, user.tenantId, shownFrom))) {
        return callback(smtpError([
          550,
          `5.7.1 From: <${shownFrom}> is not a verified sender of your organisation: ` +
          "an admin adds and verifies it under Senders",
        ]));
      }
    } catch (e) {
      deps.log.error("smtp submission sender check failed", { error: String(e) });
      return callback(smtpError(REPLY.temporary));
    }
    const envelope = session.envelope;
    try {
      const { ids } = await commits.enqueue(user.tenantId, {
        mailFrom: envelope.mailFrom ? envelope.mailFrom.address : "",
        // A recipient given twice (any case) gets the message once.
        rcptTo: [
          ...new Map(envelope.rcptTo.map((r) => [r.address.toLowerCase(), r.address])).values(),
        ],
        raw: message.raw,
        ...message.options,
      });
      deps.log.debug("smtp submission queued", { tenant: user.tenantId, ids, bytes: size });
      callback(null, `2.0.0 Queued as ${ids[0]}`);
    } catch (e) {
      if (e instanceof AppError && e.code === "validation") {
        const detail = Array.isArray(e.details)
          ? e.details.map((d) => `${d.path} ${d.code}`).join(", ")
          : "";
        return callback(smtpError([554, `5.6.0 Message refused: ${detail}`.trim()]));
      }
      // The message is not committed: the client keeps it and tries again.
      deps.log.error("smtp submission not queued", { tenant: user.tenantId, error: String(e) });
      callback(smtpError(REPLY.temporary));
    }
  }

  const server = new SMTPServer({
    // Submission by known systems: no 100 ms early-talker pause before the greeting.
    ...{ [GREET_AT_ONCE]: true },
    name: new URL(deps.config.baseUrl).hostname,
    banner: "Skicka submission service",
    key: opts.tls.key,
    cert: opts.tls.cert,
    authMethods: ["PLAIN", "LOGIN"],
    // AUTH only inside TLS: a password never crosses the network in the clear.
    allowInsecureAuth: false,
    // A relay network's clients submit without AUTH, so the handlers below refuse everyone
    // else's MAIL, RCPT and DATA themselves (530, as smtp-server would).
    authOptional: true,
    disableReverseLookup: true,
    logger: false,
    size: maxBytes,
    maxClients: 1_000,
    socketTimeout: 60_000,
    closeTimeout: 1_000,

    // One indexed lookup per connection, not per message: is the client in a relay network?
    async onConnect(session, callback) {
      const remote = session.remoteAddress;
      try {
        const match = await relayNetworkOf(deps, remote);
        if (match.ok) {
          (session as NetworkSession).relayNetwork = {
            tenantId: match.tenantId,
            networkId: match.networkId,
            network: match.network,
          };
          deps.log.info("smtp submission authorised by relay network", {
            tenant: match.tenantId,
            network: match.network,
            remote,
          });
        } else if (match.reason !== "none") {
          deps.log.info("smtp submission relay network not honoured", {
            reason: match.reason,
            tenant: match.tenantId,
            network: match.network,
            remote,
          });
        }
      } catch (e) {
        deps.log.error("smtp submission relay network lookup failed", { error: String(e) });
        (session as NetworkSession).relayNetwork = "lookup_failed";
      }
      callback();
    },

    async onAuth(auth, session, callback) {
      const from = session.remoteAddress;
      if (!guard.allowed(from)) return callback(smtpError(REPLY.authLocked));
      let result;
      try {
        result = await verifySmtpLogin(deps, auth.username ?? "", auth.password ?? "");
      } catch (e) {
        deps.log.error("smtp submission auth failed", { error: String(e) });
        return callback(smtpError(REPLY.authTemporary));
      }
      if (!result.ok) {
        await guard.failed(from);
        deps.log.info("smtp submission auth refused", {
          reason: result.reason,
          remote: from,
          username: (auth.username ?? "").slice(0, 64),
        });
        const reply = result.reason === "not_enabled"
          ? REPLY.authNotEnabled
          : result.reason === "suspended"
          ? REPLY.authSuspended
          : REPLY.authInvalid;
        return callback(smtpError(reply));
      }
      const user: SessionUser = {
        tenantId: result.tenantId,
        credentialId: result.credentialId,
        username: result.username,
      };
      callback(null, { user });
    },

    async onMailFrom(address: SMTPServerAddress, session, callback) {
      const user = userOf(session);
      if (!user) return callback(unauthorised(session));
      try {
        if (!(await isVerifiedSender(deps, user.tenantId, address.address))) {
          return callback(smtpError([
            553,
            `5.7.1 Sender <${address.address}> is not a verified sender of your organisation: ` +
            "an admin adds and verifies it under Senders",
          ]));
        }
      } catch (e) {
        deps.log.error("smtp submission sender check failed", { error: String(e) });
        return callback(smtpError(REPLY.temporary));
      }
      callback();
    },

    onRcptTo(_address: SMTPServerAddress, session, callback) {
      if (!userOf(session)) return callback(unauthorised(session));
      if (session.envelope.rcptTo.length >= MAX_RECIPIENTS) {
        return callback(smtpError(REPLY.tooManyRecipients));
      }
      callback();
    },

    onData(stream, session, callback) {
      // Whatever goes wrong (a client gone mid-message, a bug) answers 451, never crashes the
      // process through an unhandled rejection, and never says 250.
      receive(stream, session, callback).catch((e) => {
        deps.log.error("smtp submission failed", { error: String(e) });
        try {
          callback(smtpError(REPLY.temporary));
        } catch {
          // the session is gone
        }
      });
    },
  });
  // Client-side failures (a refused certificate, a hang-up mid-TLS) surface here.
  server.on("error", (e: Error) => deps.log.debug("smtp submission error", { error: String(e) }));
  return await listenSmtp(server, opts);
}

/** The plugin's smtp-role start-up: TLS from config (or self-signed), then listen. */
export async function startSmtpRole(deps: AppDeps): Promise<() => Promise<void>> {
  const tls = await submissionTls(deps.config);
  const server = await startSubmission(deps, {
    port: deps.config.submissionSmtpPort,
    host: deps.config.host,
    tls,
  });
  deps.log.info("smtp submission listening", {
    port: server.port,
    selfSignedCertificate: tls.selfSigned,
  });
  return () => server.close();
}
