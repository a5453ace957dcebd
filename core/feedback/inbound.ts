// The `smtp` role's inbound server: bounces to the VERP return path (bounce+<token>@BOUNCE_DOMAIN),
// complaints (ARF) and List-Unsubscribe mail (unsubscribe+<token>@BOUNCE_DOMAIN). Every other
// recipient gets 550: this is no relay and no mailbox. Tokens are signed, so a forged address is
// refused at RCPT before any data is read.
import { SMTPServer, type SMTPServerAddress } from "smtp-server";
import { listenSmtp, type RunningSmtpServer, smtpError } from "../smtp/server.ts";
import { sql } from "kysely";
import type { AppDeps } from "../deps.ts";
import { type MessageRef, TokenSigner } from "./tokens.ts";
import { type ParsedReport, parseReport } from "./dsn.ts";
import { classify } from "./classify.ts";
import { recordBounces } from "./bounces.ts";
import { messageForUnsubscribe, unsubscribe, type UnsubscribeScope } from "./unsubscribe.ts";

type Deps = Pick<AppDeps, "db" | "clock" | "config" | "log" | "secret">;

/** Bounces carry the original message back; a mailing with attachments can be large. */
export const MAX_MESSAGE_BYTES = 25 * 1024 * 1024;

export type InboundTarget =
  | { kind: "bounce"; ref: MessageRef }
  | { kind: "unsubscribe"; ref: MessageRef };

/** What an envelope recipient is for; null for anything this server does not accept. */
export function inboundTarget(
  signer: TokenSigner,
  bounceDomain: string,
  address: string,
): InboundTarget | null {
  const m = /^(bounce|unsubscribe)\+([A-Za-z0-9_-]+)@([^@\s]+)$/i.exec(address.trim());
  if (!m || m[3]!.toLowerCase() !== bounceDomain.toLowerCase()) return null;
  const kind = m[1]!.toLowerCase() as "bounce" | "unsubscribe";
  const ref = signer.verifyMessage(kind, m[2]!);
  return ref && { kind, ref };
}

export interface InboundResult {
  type: ParsedReport["type"] | "unsubscribe";
  bounces: number;
  complaints: number;
  unsubscribes: number;
}

/**
 * Handles one accepted message for its (already checked) envelope recipients. A report that
 * arrives without a usable envelope token is matched by the returned message instead: our
 * signed tokens in it, else its Message-ID (`<queue id@domain>`).
 */
export async function handleInbound(
  deps: Deps,
  msg: { recipients: string[]; raw: Uint8Array },
): Promise<InboundResult> {
  const signer = new TokenSigner(deps.secret);
  const targets = msg.recipients.map((r) => inboundTarget(signer, deps.config.bounceDomain, r))
    .filter((t) => t !== null);
  const report = await parseReport(msg.raw);
  const out: InboundResult = { type: report.type, bounces: 0, complaints: 0, unsubscribes: 0 };
  const bounceRef = targets.find((t) => t.kind === "bounce")?.ref;

  if (report.type === "arf") {
    // not-spam, virus and the like are no complaint about our mail.
    if (!["abuse", "fraud"].includes(report.feedbackType ?? "")) return out;
    const ref = bounceRef ?? targets[0]?.ref ?? await identify(deps, signer, report);
    if (!ref) {
      deps.log.warn("complaint for an unknown message", { reporter: report.reportingMta });
      return out;
    }
    const r = await recordBounces(deps, [{
      tenantId: ref.tenantId,
      queueId: ref.queueId,
      address: report.recipients[0]?.address ?? "",
      kind: "complaint",
      reason: report.feedbackType!,
      source: "arf",
      reporter: report.reportingMta,
    }]);
    out.complaints = r.recorded;
    const u = await unsubscribe(deps, {
      tenantId: ref.tenantId,
      queueId: ref.queueId,
      scope: { kind: "all" },
      source: "complaint",
    }).catch((e) => {
      deps.log.warn("complaint unsubscribe failed", { error: String(e) });
      return { created: false };
    });
    if (u.created) out.unsubscribes++;
    return out;
  }

  // Mail to the unsubscribe address is the request itself, whatever it says.
  for (const t of targets.filter((t) => t.kind === "unsubscribe")) {
    if (await mailtoUnsubscribe(deps, t.ref)) out.unsubscribes++;
    out.type = "unsubscribe";
  }
  // Auto-replies to the return path are dropped; so is a report sent to the unsubscribe address.
  if (report.type !== "dsn" || (targets.length && !bounceRef)) return out;
  const ref = bounceRef ?? await identify(deps, signer, report);

  // A DSN: only final failures are bounces; "delayed" warnings and "delivered" notices are not.
  // With VERP each message has one recipient, so the first failed one is the one.
  const failed = report.recipients.find((r) => !r.action || r.action === "failed");
  if (!failed) return out;
  if (!ref) {
    deps.log.warn("bounce for an unknown message", { format: report.format });
    return out;
  }
  const c = classify({ status: failed.status, text: failed.diagnostic, action: failed.action });
  const r = await recordBounces(deps, [{
    tenantId: ref.tenantId,
    queueId: ref.queueId,
    address: failed.address,
    kind: c.kind,
    status: c.status,
    reason: c.reason,
    diagnostic: failed.diagnostic,
    source: "async_dsn",
    reporter: failed.remoteMta ?? report.reportingMta,
  }]);
  out.bounces = r.recorded;
  return out;
}

/** The mailto List-Unsubscribe: leaves the mailing's subscription type, or all mass mail. */
async function mailtoUnsubscribe(deps: Deps, ref: MessageRef): Promise<boolean> {
  const m = await messageForUnsubscribe(deps, ref);
  if (!m) return false;
  const scope: UnsubscribeScope = m.subscription_type_id
    ? { kind: "type", subscriptionTypeId: m.subscription_type_id }
    : { kind: "all" };
  const r = await unsubscribe(deps, {
    tenantId: ref.tenantId,
    queueId: ref.queueId,
    scope,
    source: "mailto",
  });
  return r.created;
}

const MESSAGE_ID = /^<([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})@[^<>\s]+>$/i;

/** The message a report is about, from what the returned copy carries. */
async function identify(
  deps: Deps,
  signer: TokenSigner,
  report: ParsedReport,
): Promise<MessageRef | null> {
  for (const t of report.original.bounceTokens) {
    const r = signer.verifyMessage("bounce", t);
    if (r) return r;
  }
  for (const t of report.original.unsubscribeTokens) {
    const r = signer.verifyMessage("unsubscribe", t);
    if (r) return r;
  }
  for (const mid of report.original.messageIds) {
    const m = MESSAGE_ID.exec(mid);
    if (!m) continue;
    // The tenant is unknown here: one primary-key probe per tenant (tenants are few), and the
    // stored Message-ID must match exactly, so a guessed id alone finds nothing.
    const r = await sql<{ tenant_id: string; id: string }>`
      select q.tenant_id, q.id from tenants t
      join send_queue q on q.tenant_id = t.id and q.id = ${m[1]!.toLowerCase()}::uuid
      where q.message_id = ${mid} limit 1`.execute(deps.db);
    const row = r.rows[0];
    if (row) return { tenantId: row.tenant_id, queueId: row.id };
  }
  return null;
}

export type InboundServer = RunningSmtpServer;

/** Starts the inbound server; `port: 0` picks a free one (tests). */
export async function startInbound(
  deps: Deps,
  opts: { port: number; host: string; maxBytes?: number },
): Promise<InboundServer> {
  const signer = new TokenSigner(deps.secret);
  const maxBytes = opts.maxBytes ?? MAX_MESSAGE_BYTES;
  const server = new SMTPServer({
    name: deps.config.bounceDomain,
    banner: "Skicka bounce and feedback service",
    authOptional: true,
    disabledCommands: ["AUTH", "STARTTLS"],
    hideSTARTTLS: true,
    disableReverseLookup: true,
    logger: false,
    size: maxBytes,
    maxClients: 200,
    socketTimeout: 60_000,
    closeTimeout: 1_000,
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      if (inboundTarget(signer, deps.config.bounceDomain, address.address)) return callback();
      callback(smtpError(550, "5.1.1 No such recipient here"));
    },
    async onData(stream, session, callback) {
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of stream) {
        size += (chunk as Uint8Array).length;
        if (size <= maxBytes) chunks.push(chunk as Uint8Array);
      }
      if (stream.sizeExceeded || size > maxBytes) {
        return callback(smtpError(552, "5.3.4 Message exceeds fixed maximum message size"));
      }
      const raw = new Uint8Array(size);
      let o = 0;
      for (const c of chunks) {
        raw.set(c, o);
        o += c.length;
      }
      try {
        const recipients = session.envelope.rcptTo.map((r) => r.address);
        const r = await handleInbound(deps, { recipients, raw });
        deps.log.info("inbound mail", { ...r, bytes: size });
        callback();
      } catch (e) {
        deps.log.error("inbound mail failed", { error: String(e) });
        callback(smtpError(451, "4.3.0 Temporary failure, try again later"));
      }
    },
  });
  server.on("error", (e: Error) => deps.log.warn("inbound smtp error", { error: String(e) }));
  return await listenSmtp(server, opts);
}
