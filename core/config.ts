// Environment → typed configuration, validated in one place so a bad value stops start-up early.
import { isTimeZone } from "./time_zone.ts";
import { z } from "zod";
import { parseCidrList } from "./feedback/machine.ts";
import { type BucketLimit, parseDomainLimits, parseLimit } from "./send/rate_limiter.ts";

const bool = z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) =>
  v === "true" || v === "1" || v === "yes"
);
const intIn = (min: number, max: number) =>
  z.string().regex(/^\d+$/, "a whole number").transform(Number).pipe(
    z.number().int().min(min).max(max),
  );

/** Every environment variable Skicka reads, with its default and meaning (the README table mirrors this). */
export const ENV_VARS = {
  PORT: { default: "8080", doc: "HTTP port of the API and staff UI." },
  HOST: { default: "127.0.0.1", doc: "Interface the HTTP server binds to (0.0.0.0 for all)." },
  BASE_URL: {
    default: "",
    doc: "Public URL of this deployment, used in links (empty: http://HOST:PORT).",
  },
  DATA_DIR: {
    default: "./data",
    doc: "Folder for the embedded PGlite database and captured mail.",
  },
  DATABASE_URL: {
    default: "",
    doc: "postgres://… selects a PostgreSQL server; empty uses embedded PGlite in DATA_DIR.",
  },
  DATABASE_POOL_SIZE: { default: "10", doc: "Connections per process to PostgreSQL." },
  SECRET_KEY: {
    default: "",
    doc:
      "At least 32 characters; signs sessions, tokens and links. Empty: generated once and kept in DATA_DIR/secret.key.",
  },
  SESSION_TTL_HOURS: { default: "12", doc: "How long a staff login lasts." },
  COOKIE_SECURE: {
    default: "",
    doc: "true/false: mark cookies Secure. Empty: Secure when BASE_URL is https.",
  },
  OPERATOR_EMAIL: {
    default: "operator@localhost",
    doc: "Email of the operator account created on first start.",
  },
  DELIVERY: {
    default: "capture",
    doc: "capture (store mail locally), smtp://user:pass@host:port (relay) or mx (direct).",
  },
  SEND_BATCH_SIZE: {
    default: "500",
    doc: "Messages a send worker claims, renders and delivers per round.",
  },
  SEND_LEASE_SECONDS: {
    default: "120",
    doc: "How long a claimed batch stays with its worker; after that another worker takes it.",
  },
  SEND_RENDER_WORKERS: {
    default: "1",
    doc: "Web Workers that render and DKIM-sign messages off the main thread; 0 renders inline.",
  },
  SEND_CONCURRENCY: {
    default: "64",
    doc: "Messages on the wire at once per worker process.",
  },
  SEND_DOMAIN_RATE: {
    default: "200/400",
    doc: "Default limit per recipient domain and worker process: messages per second/burst.",
  },
  SEND_DOMAIN_LIMITS: {
    default: "",
    doc:
      "Overrides per domain, e.g. gmail.com=50/100,outlook.com=20/20 (a provider that wants less).",
  },
  SEND_RATE: {
    default: "0",
    doc: "Limit over all domains per worker process, messages per second/burst; 0 is none.",
  },
  INBOUND_SMTP_PORT: {
    default: "2525",
    doc:
      "Port of the smtp role's inbound server (bounces, complaints, mailto unsubscribes), on HOST.",
  },
  BOUNCE_DOMAIN: {
    default: "",
    doc:
      "Domain of the VERP return path (bounce+…@) and the List-Unsubscribe mailto. Empty: BASE_URL's host.",
  },
  TRACKING_APPLE_NETWORKS: {
    default: "17.0.0.0/8",
    doc:
      "CIDRs (comma-separated) of Apple Mail Privacy Protection's proxies: opens from them are machine opens.",
  },
  TRACKING_MACHINE_NETWORKS: {
    default: "",
    doc:
      "CIDRs (comma-separated) of security scanners: opens and clicks from them are machine events.",
  },
  TRACKING_SCANNER_SECONDS: {
    default: "15",
    doc: "A click this soon after delivery is a scanner's, not a person's (0 turns the rule off).",
  },
  SUBMISSION_SMTP_PORT: {
    default: "2587",
    doc:
      "Port of the smtp role's SMTP submission server (STARTTLS, AUTH) for customers' systems, on HOST.",
  },
  SUBMISSION_TLS_CERT: {
    default: "",
    doc:
      "PEM certificate file for submission. Empty: a self-signed one is made in DATA_DIR (development).",
  },
  SUBMISSION_TLS_KEY: {
    default: "",
    doc: "PEM private key file for SUBMISSION_TLS_CERT.",
  },
  SUBMISSION_MAX_MB: {
    default: "25",
    doc: "Largest message the submission server accepts (SIZE), in MB; larger ones get 552.",
  },
  API_SEND_RATE: {
    default: "200/400",
    doc:
      "Requests per second/burst per tenant and API process on the sending API (POST /api/v1/messages…); 0 is none. Over it: 429 with Retry-After.",
  },
  ATTACHMENTS_MAX_MB: {
    default: "10",
    doc: "Largest total size of a mailing's attachments (and so of any one file), in MB.",
  },
  RSS_POLL_MINUTES: {
    default: "30",
    doc: "How often the worker role refreshes every RSS/Atom feed (rss plugin), in minutes.",
  },
  RSS_ALLOW_PRIVATE: {
    default: "false",
    doc:
      "true: feeds may be fetched from loopback and private networks (tests, intranets); false refuses them.",
  },
  WEBHOOK_ALLOW_PRIVATE: {
    default: "false",
    doc:
      "true: webhook endpoints may be on loopback, private or link-local addresses (tests, intranets).",
  },
  WEBHOOK_ALLOW_HTTP: {
    default: "false",
    doc: "true: webhook endpoints may use plain http:// URLs; false accepts only https://.",
  },
  WEBHOOK_TIMEOUT_SECONDS: {
    default: "10",
    doc: "How long one webhook request may take before it counts as failed and is retried.",
  },
  LOG_LEVEL: { default: "info", doc: "debug, info, warn or error." },
  DEFAULT_LOCALE: {
    default: "en",
    doc: "Language of pages when the user has none: en, sv, fi, da.",
  },
  DEFAULT_TIME_ZONE: {
    default: "Europe/Stockholm",
    doc: "Time zone for dates when the user has none.",
  },
} as const;

export type EnvName = keyof typeof ENV_VARS;

/** A refinement that accepts what `parse` accepts. */
function parses(parse: (v: string) => unknown): (v: string) => boolean {
  return (v) => {
    try {
      parse(v);
      return true;
    } catch {
      return false;
    }
  };
}

const cidrList = z.string().refine((v) => {
  try {
    parseCidrList(v);
    return true;
  } catch {
    return false;
  }
}, "comma-separated CIDRs such as 17.0.0.0/8, 2620:149::/32");

const schema = z.object({
  PORT: intIn(0, 65535),
  HOST: z.string().min(1),
  BASE_URL: z.string().regex(/^(https?:\/\/[^\s/]+(\/\S*)?)?$/, "an http(s):// URL"),
  DATA_DIR: z.string().min(1),
  DATABASE_URL: z.string().regex(/^(postgres(ql)?:\/\/.+)?$/, "empty or a postgres:// URL"),
  DATABASE_POOL_SIZE: intIn(1, 1000),
  SECRET_KEY: z.string().refine((s) => s === "" || s.length >= 32, "at least 32 characters"),
  SESSION_TTL_HOURS: intIn(1, 24 * 90),
  COOKIE_SECURE: z.union([z.literal(""), bool], { error: "true, false or empty" }),
  OPERATOR_EMAIL: z.string().regex(/^[^\s@]+@[^\s@]+$/, "an email address"),
  DELIVERY: z.string().regex(
    /^(capture|mx|smtps?:\/\/[^/\s]+)$/,
    "capture, mx or smtp://user:pass@host:port",
  ),
  SEND_BATCH_SIZE: intIn(1, 10_000),
  SEND_LEASE_SECONDS: intIn(5, 86_400),
  SEND_CONCURRENCY: intIn(1, 1_000),
  SEND_RENDER_WORKERS: intIn(0, 64),
  SEND_DOMAIN_RATE: z.string().refine(
    parses(parseLimit),
    "messages per second/burst, e.g. 200/400",
  ),
  SEND_DOMAIN_LIMITS: z.string().refine(
    parses(parseDomainLimits),
    "domain=rate/burst pairs, e.g. gmail.com=50/100,outlook.com=20",
  ),
  SEND_RATE: z.string().refine(
    (v) => v.trim() === "0" || parses(parseLimit)(v),
    "0 or messages per second/burst, e.g. 1000/2000",
  ),
  API_SEND_RATE: z.string().refine(
    (v) => v.trim() === "0" || parses(parseLimit)(v),
    "0 or requests per second/burst, e.g. 200/400",
  ),
  ATTACHMENTS_MAX_MB: intIn(1, 100),
  SUBMISSION_SMTP_PORT: intIn(0, 65535),
  SUBMISSION_TLS_CERT: z.string(),
  SUBMISSION_TLS_KEY: z.string(),
  SUBMISSION_MAX_MB: intIn(1, 100),
  INBOUND_SMTP_PORT: intIn(0, 65535),
  BOUNCE_DOMAIN: z.string().regex(/^([a-z0-9-]+(\.[a-z0-9-]+)*)?$/i, "a domain name"),
  TRACKING_APPLE_NETWORKS: cidrList,
  TRACKING_MACHINE_NETWORKS: cidrList,
  TRACKING_SCANNER_SECONDS: intIn(0, 3600),
  RSS_POLL_MINUTES: intIn(1, 10_080),
  RSS_ALLOW_PRIVATE: bool,
  WEBHOOK_ALLOW_PRIVATE: bool,
  WEBHOOK_ALLOW_HTTP: bool,
  WEBHOOK_TIMEOUT_SECONDS: intIn(1, 120),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]),
  DEFAULT_LOCALE: z.enum(["en", "sv", "fi", "da"]),
  DEFAULT_TIME_ZONE: z.string().refine(isTimeZone, "an IANA time zone such as Europe/Helsinki"),
});

export interface Config {
  port: number;
  host: string;
  /** Public base URL without a trailing slash. */
  baseUrl: string;
  dataDir: string;
  /** Empty means embedded PGlite. */
  databaseUrl: string;
  databasePoolSize: number;
  /** Empty means: generate and persist one in dataDir (see ensureSecret). */
  secretKey: string;
  sessionTtlMs: number;
  cookieSecure: boolean;
  operatorEmail: string;
  delivery: string;
  sendBatchSize: number;
  sendLeaseMs: number;
  sendConcurrency: number;
  sendRenderWorkers: number;
  /** Route stage limits (core/send/rate_limiter.ts): per domain, overrides, all domains. */
  sendDomainLimit: BucketLimit;
  sendDomainLimits: Record<string, BucketLimit>;
  sendRate: BucketLimit | null;
  /** Per-tenant request limit of the sending API (429 beyond it); null is none. */
  apiSendRate: BucketLimit | null;
  /** Largest total size of one mailing's attachments, in bytes. */
  attachmentsMaxBytes: number;
  /** The smtp role's inbound server (core/feedback/inbound.ts). */
  inboundSmtpPort: number;
  /** SMTP submission for customers' systems: port, TLS files (empty: self-signed), size limit. */
  submissionSmtpPort: number;
  submissionTlsCert: string;
  submissionTlsKey: string;
  submissionMaxBytes: number;
  /** VERP and list-unsubscribe mailto domain (BOUNCE_DOMAIN, else BASE_URL's host). */
  bounceDomain: string;
  /** Machine open/click detection (core/feedback/machine.ts). */
  trackingAppleNetworks: string[];
  trackingMachineNetworks: string[];
  trackingScannerMs: number;
  /** Feed refresh interval and private-network policy of the rss plugin's fetcher. */
  rssPollMs: number;
  rssAllowPrivate: boolean;
  /** Webhook delivery (webhooks plugin): internal targets, plain http, request time limit. */
  webhookAllowPrivate: boolean;
  webhookAllowHttp: boolean;
  webhookTimeoutMs: number;
  logLevel: "debug" | "info" | "warn" | "error";
  defaultLocale: "en" | "sv" | "fi" | "da";
  defaultTimeZone: string;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Reads the environment into a Config; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const raw: Record<string, string> = {};
  for (const [name, spec] of Object.entries(ENV_VARS)) {
    raw[name] = env[name]?.trim() ?? spec.default;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      return `  ${name}=${JSON.stringify(raw[name])}: expected ${describe(issue)}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const v = parsed.data;
  const baseUrl = (v.BASE_URL || `http://${v.HOST === "0.0.0.0" ? "localhost" : v.HOST}:${v.PORT}`)
    .replace(/\/+$/, "");
  return {
    port: v.PORT,
    host: v.HOST,
    baseUrl,
    dataDir: v.DATA_DIR,
    databaseUrl: v.DATABASE_URL,
    databasePoolSize: v.DATABASE_POOL_SIZE,
    secretKey: v.SECRET_KEY,
    sessionTtlMs: v.SESSION_TTL_HOURS * 3600_000,
    cookieSecure: v.COOKIE_SECURE === "" ? baseUrl.startsWith("https:") : v.COOKIE_SECURE,
    operatorEmail: v.OPERATOR_EMAIL,
    delivery: v.DELIVERY,
    sendBatchSize: v.SEND_BATCH_SIZE,
    sendLeaseMs: v.SEND_LEASE_SECONDS * 1000,
    sendConcurrency: v.SEND_CONCURRENCY,
    sendRenderWorkers: v.SEND_RENDER_WORKERS,
    sendDomainLimit: parseLimit(v.SEND_DOMAIN_RATE),
    sendDomainLimits: parseDomainLimits(v.SEND_DOMAIN_LIMITS),
    sendRate: v.SEND_RATE.trim() === "0" ? null : parseLimit(v.SEND_RATE),
    apiSendRate: v.API_SEND_RATE.trim() === "0" ? null : parseLimit(v.API_SEND_RATE),
    attachmentsMaxBytes: v.ATTACHMENTS_MAX_MB * 1024 * 1024,
    inboundSmtpPort: v.INBOUND_SMTP_PORT,
    submissionSmtpPort: v.SUBMISSION_SMTP_PORT,
    submissionTlsCert: v.SUBMISSION_TLS_CERT,
    submissionTlsKey: v.SUBMISSION_TLS_KEY,
    submissionMaxBytes: v.SUBMISSION_MAX_MB * 1024 * 1024,
    bounceDomain: (v.BOUNCE_DOMAIN || new URL(baseUrl).hostname).toLowerCase(),
    trackingAppleNetworks: splitList(v.TRACKING_APPLE_NETWORKS),
    trackingMachineNetworks: splitList(v.TRACKING_MACHINE_NETWORKS),
    trackingScannerMs: v.TRACKING_SCANNER_SECONDS * 1000,
    rssPollMs: v.RSS_POLL_MINUTES * 60_000,
    rssAllowPrivate: v.RSS_ALLOW_PRIVATE,
    webhookAllowPrivate: v.WEBHOOK_ALLOW_PRIVATE,
    webhookAllowHttp: v.WEBHOOK_ALLOW_HTTP,
    webhookTimeoutMs: v.WEBHOOK_TIMEOUT_SECONDS * 1000,
    logLevel: v.LOG_LEVEL,
    defaultLocale: v.DEFAULT_LOCALE,
    defaultTimeZone: v.DEFAULT_TIME_ZONE,
  };
}

function splitList(v: string): string[] {
  return v.split(",").map((x) => x.trim()).filter(Boolean);
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_value") return `one of ${issue.values.join(", ")}`;
  if (issue.code === "too_small") return `at least ${issue.minimum}`;
  if (issue.code === "too_big") return `at most ${issue.maximum}`;
  return issue.message;
}

/** Returns the configured secret, or one kept in DATA_DIR so restarts keep sessions and links valid. */
export async function ensureSecret(config: Config): Promise<string> {
  if (config.secretKey) return config.secretKey;
  const path = `${config.dataDir}/secret.key`;
  try {
    const existing = (await Deno.readTextFile(path)).trim();
    if (existing.length >= 32) return existing;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(config.dataDir, { recursive: true });
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const secret = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  await Deno.writeTextFile(path, secret + "\n", { mode: 0o600 });
  return secret;
}
