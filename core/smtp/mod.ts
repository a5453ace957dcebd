// Outbound SMTP for the deliver stage: connections, per-destination pools, MX lookup.
export {
  type DeliveryStatus,
  type OutboundMessage,
  type RecipientResult,
  type SmtpAuth,
  type SmtpCapabilities,
  SmtpConnection,
  type SmtpConnectionOptions,
  type TlsMode,
} from "./client.ts";
export { SmtpError, type SmtpErrorOptions, type SmtpPhase } from "./errors.ts";
export {
  type BackoffOptions,
  PoolManager,
  type PoolManagerOptions,
  type PoolStats,
  SmtpPool,
  type SmtpPoolOptions,
} from "./pool.ts";
export {
  denoResolver,
  type DnsResolver,
  MxError,
  type MxErrorReason,
  type MxHost,
  type MxRecord,
  MxResolver,
  type MxResolverOptions,
  type MxResult,
} from "./mx.ts";
export { statusOf } from "./protocol.ts";
export { denoTransport, type SmtpSocket, type SmtpTransport, type TlsParams } from "./transport.ts";
