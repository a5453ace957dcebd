// The submission server's TLS certificate: the operator's files (SUBMISSION_TLS_CERT/KEY), or
// for development a self-signed one made once with the system's `openssl` and kept in DATA_DIR.
import type { Config } from "../../core/config.ts";

export interface TlsFiles {
  cert: string;
  key: string;
  /** True when made here: clients must be told to trust it (or not to verify). */
  selfSigned: boolean;
}

export class TlsSetupError extends Error {
  override name = "TlsSetupError";
}

type TlsConfig = Pick<
  Config,
  "submissionTlsCert" | "submissionTlsKey" | "dataDir" | "baseUrl"
>;

export async function submissionTls(config: TlsConfig): Promise<TlsFiles> {
  const { submissionTlsCert: certPath, submissionTlsKey: keyPath } = config;
  if (certPath || keyPath) {
    if (!certPath || !keyPath) {
      throw new TlsSetupError("Set both SUBMISSION_TLS_CERT and SUBMISSION_TLS_KEY, or neither");
    }
    return {
      cert: await readPem(certPath, "SUBMISSION_TLS_CERT", "CERTIFICATE"),
      key: await readPem(keyPath, "SUBMISSION_TLS_KEY", "PRIVATE KEY"),
      selfSigned: false,
    };
  }
  const dir = `${config.dataDir}/submission-tls`;
  try {
    return {
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
      selfSigned: true,
    };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(dir, { recursive: true });
  const made = await selfSignedCertificate(new URL(config.baseUrl).hostname);
  await Deno.writeTextFile(`${dir}/key.pem`, made.key, { mode: 0o600 });
  await Deno.writeTextFile(`${dir}/cert.pem`, made.cert);
  return made;
}

async function readPem(path: string, name: string, kind: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new TlsSetupError(`${name}=${path}: cannot be read (${(e as Error).message})`);
  }
  if (!text.includes(`-----BEGIN `) || !text.includes(kind)) {
    throw new TlsSetupError(`${name}=${path}: expected a PEM file with a ${kind}`);
  }
  return text;
}

/**
 * A self-signed P-256 certificate for `host`, localhost and 127.0.0.1, valid for 825 days.
 * Made by the system's OpenSSL (no network, no extra package); P-256 because it is quick to
 * make and every client we document accepts it.
 */
export async function selfSignedCertificate(host: string): Promise<TlsFiles> {
  const dir = await Deno.makeTempDir({ prefix: "skicka-tls-" });
  const names = new Set(["DNS:localhost", "IP:127.0.0.1"]);
  if (/^[a-z0-9.-]+$/i.test(host)) {
    names.add(/^\d+\.\d+\.\d+\.\d+$/.test(host) ? `IP:${host}` : `DNS:${host}`);
  }
  try {
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command("openssl", {
        args: [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-keyout",
          `${dir}/key.pem`,
          "-out",
          `${dir}/cert.pem`,
          "-days",
          "825",
          "-subj",
          `/CN=${/^[a-z0-9.-]+$/i.test(host) ? host : "localhost"}`,
          "-addext",
          `subjectAltName=${[...names].join(",")}`,
          // A leaf, not a CA: rustls (Deno's TLS) refuses a CA certificate as a server's own.
          "-addext",
          "basicConstraints=critical,CA:FALSE",
          "-addext",
          "keyUsage=critical,digitalSignature",
          "-addext",
          "extendedKeyUsage=serverAuth",
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
    } catch (e) {
      throw new TlsSetupError(
        `No TLS certificate: set SUBMISSION_TLS_CERT and SUBMISSION_TLS_KEY, or install openssl ` +
          `to have a self-signed one made for development (${(e as Error).message})`,
      );
    }
    if (!out.success) {
      throw new TlsSetupError(
        `openssl could not make a certificate: ${new TextDecoder().decode(out.stderr).trim()}`,
      );
    }
    return {
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
      selfSigned: true,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
