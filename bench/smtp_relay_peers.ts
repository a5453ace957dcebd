// The other SMTP servers bench/smtp_relay.ts compares Skicka with: a throwaway Postfix relay
// in a temporary directory (no root-owned state touched) and an smtp-server that discards.
import { SMTPServer } from "smtp-server";
import { freePort } from "../core/smtp/_test_servers.ts";

/**
 * Postfix as a plain relay to the sink: its defaults, except what 50 sessions on loopback need.
 * As root the data directory is handed to the postfix user (its master writes a lock there).
 */
export async function startPostfix(
  sinkPort: number,
  tls: { cert: string; key: string },
  sessions: number,
) {
  const dir = await Deno.makeTempDir({ prefix: "skicka-bench-postfix-" });
  await Deno.chmod(dir, 0o755); // the postfix user walks into it
  const port = freePort();
  for (const d of ["etc", "queue", "data"]) await Deno.mkdir(`${dir}/${d}`);
  await Deno.writeTextFile(`${dir}/etc/cert.pem`, tls.cert);
  await Deno.writeTextFile(`${dir}/etc/key.pem`, tls.key, { mode: 0o600 });
  // Postfix's defaults, except what a relay for 50 sessions on loopback needs.
  await Deno.writeTextFile(
    `${dir}/etc/main.cf`,
    `compatibility_level = 3.6
queue_directory = ${dir}/queue
data_directory = ${dir}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.bench.skicka.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:${sinkPort}
alias_maps =
alias_database =
local_transport = error:local delivery is off
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_client_connection_count_limit = 0
default_process_limit = ${sessions * 2}
default_destination_concurrency_limit = ${sessions}
smtpd_tls_cert_file = ${dir}/etc/cert.pem
smtpd_tls_key_file = ${dir}/etc/key.pem
smtpd_tls_security_level = may
maillog_file = ${dir}/maillog
maillog_file_prefixes = ${dir}
`,
  );
  const master = (await Deno.readTextFile("/etc/postfix/master.cf")).replace(
    /^smtp\s+inet\s.*$/m,
    `127.0.0.1:${port} inet n - n - - smtpd`,
  );
  await Deno.writeTextFile(`${dir}/etc/master.cf`, master);
  if (Deno.uid() === 0) {
    await new Deno.Command("chown", { args: ["postfix", `${dir}/data`] }).output();
  }
  const postfix = (cmd: string) =>
    new Deno.Command("postfix", { args: ["-c", `${dir}/etc`, cmd], stderr: "piped" }).output();
  const started = await postfix("start");
  if (!started.success) {
    let why = new TextDecoder().decode(started.stderr);
    try {
      why += await Deno.readTextFile(`${dir}/maillog`);
    } catch { /* no log */ }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new Error(`postfix did not start: ${why.slice(-500)}`);
  }
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    async stop() {
      await postfix("stop");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** nodemailer's smtp-server with STARTTLS and any AUTH, reading and dropping every message. */
export async function startDiscardServer(tls: { cert: string; key: string }) {
  const server = new SMTPServer({
    key: tls.key,
    cert: tls.cert,
    authMethods: ["PLAIN", "LOGIN"],
    disableReverseLookup: true,
    logger: false,
    size: 100 * 1024 * 1024,
    onAuth(_auth, _session, callback) {
      callback(null, { user: "bench" });
    },
    async onData(stream, _session, callback) {
      for await (const _chunk of stream) { /* dropped */ }
      callback();
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const addr = server.server.address();
  return {
    port: addr && typeof addr === "object" ? addr.port : 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
