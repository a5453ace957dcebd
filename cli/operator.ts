// Scriptable provisioning for operators: `deno task operator <noun> <verb> [--flags] [--json]`.
// It opens the same database as the server (DATABASE_URL or PGlite in DATA_DIR) and calls the
// same core functions as the operator API, so validation and audit entries are identical.
import { parseArgs } from "node:util";
import { z } from "zod";
import { ConfigError, loadConfig } from "../core/config.ts";
import { prepare } from "../core/server.ts";
import type { AppDeps } from "../core/deps.ts";
import { AppError, ERRORS } from "../core/errors.ts";
import { t } from "../core/i18n/mod.ts";
import { MigrationError } from "../core/db/migrator.ts";
import { DatabaseLockedError } from "../core/db/database.ts";
import { createTenant, findTenant, listTenants, updateTenant } from "../core/tenants/tenants.ts";
import { createUser } from "../core/tenants/users.ts";
import { saveDefaultDesign } from "../core/mailings/design_store.ts";
import { localizeIssues } from "../core/http/errors.ts";
import { createApiKey, createOperatorKey, type Scope, SCOPES } from "../core/auth/api_keys.ts";
import { ensureOperator, operatorLoginLink } from "../core/bootstrap.ts";
import { installedPlugins } from "../plugins/mod.ts";
import {
  addRelayNetwork,
  listRelayNetworks,
  removeRelayNetwork,
} from "../plugins/transactional/relay_networks.ts";

const USAGE = `Usage: deno task operator <command> [options] [--json]

  tenant create --name NAME --tier light|standard|advanced [--slug S] [--addons a,b]
                [--locale en|sv|fi|da] [--time-zone Europe/Helsinki]
  tenant list
  tenant set-tier TENANT --tier light|standard|advanced
  tenant set-addons TENANT --addons a,b   (empty string removes all)
  tenant suspend TENANT
  tenant activate TENANT
  tenant set-design TENANT --file DESIGN.mjml [--name NAME]
                                    the tenant's default design (a Light tenant's one): created
                                    (--name needed) when it has none, else a new version
  tenant relay-networks TENANT list | add CIDR [--note NOTE] | remove ID
                                    networks whose SMTP clients submit as the tenant without
                                    AUTH (transactional add-on); IPv4 /16 or narrower
  user create --tenant TENANT --email EMAIL --role admin|user [--name NAME]
  api-key create --tenant TENANT [--name NAME] [--scopes read,write,send,admin]
  operator key [--name NAME]        a key for the operator API (/api/v1/tenants…)
  operator login-link               a new one-time link to set the operator's password

TENANT is a tenant's id or slug. --json prints one JSON object for scripts.
With the embedded database (no DATABASE_URL), stop the server first: PGlite is single-process.`;

/** A mistake in how the command was called: printed with the usage, exit code 2. */
class UsageError extends Error {}

const ACTOR = "cli";

type Out = { text: string; json: unknown };

function list(value: string | undefined): string[] {
  return (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

function need(flags: Record<string, unknown>, name: string): string {
  const v = flags[name];
  if (typeof v !== "string" || v === "") throw new UsageError(`--${name} is required`);
  return v;
}

async function tenantArg(deps: AppDeps, positional: string[]) {
  const ref = positional[2];
  if (!ref) throw new UsageError("which tenant? Give its id or slug");
  return await findTenant(deps, ref);
}

async function run(deps: AppDeps, positional: string[], flags: Record<string, unknown>) {
  const [noun, verb] = positional;
  const cmd = `${noun ?? ""} ${verb ?? ""}`.trim();
  switch (cmd) {
    case "tenant create": {
      const tenant = await createTenant(deps, {
        name: need(flags, "name"),
        tier: need(flags, "tier") as never,
        slug: flags.slug as string | undefined,
        addons: list(flags.addons as string | undefined),
        ...(flags.locale ? { locale: flags.locale as never } : {}),
        ...(flags["time-zone"] ? { time_zone: flags["time-zone"] as string } : {}),
      }, ACTOR);
      return {
        text: `Created tenant ${tenant.slug} (${tenant.tier}), id ${tenant.id}`,
        json: tenant,
      };
    }
    case "tenant list": {
      const rows = [];
      let cursor: string | undefined;
      do {
        const page = await listTenants(deps, { limit: 200, cursor });
        rows.push(...page.items);
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
      const text = rows.map((r) => `${r.id}  ${r.slug.padEnd(24)} ${r.tier.padEnd(9)} ${r.status}`)
        .join("\n");
      return { text: text || "No tenants yet.", json: { items: rows } };
    }
    case "tenant set-tier":
    case "tenant set-addons":
    case "tenant suspend":
    case "tenant activate": {
      const tenant = await tenantArg(deps, positional);
      const patch = verb === "set-tier"
        ? { tier: need(flags, "tier") as never }
        : verb === "set-addons"
        ? { addons: list(flags.addons as string | undefined) }
        : { status: verb === "suspend" ? "suspended" as const : "active" as const };
      if (verb === "set-addons" && typeof flags.addons !== "string") {
        throw new UsageError("--addons is required (an empty string removes all)");
      }
      const updated = await updateTenant(deps, tenant.id, patch, ACTOR);
      return {
        text: `Tenant ${updated.slug}: tier ${updated.tier}, add-ons [${
          updated.addons.join(", ")
        }], ${updated.status}`,
        json: updated,
      };
    }
    case "tenant set-design": {
      const tenant = await tenantArg(deps, positional);
      const file = need(flags, "file");
      let mjml: string;
      try {
        mjml = await Deno.readTextFile(file);
      } catch (e) {
        throw new UsageError(`--file: cannot read ${file}: ${(e as Error).message}`);
      }
      const name = flags.name as string | undefined;
      const r = await saveDefaultDesign(
        deps,
        tenant.id,
        { mjml, ...(name ? { name } : {}) },
        ACTOR,
      );
      return {
        text: `Tenant ${tenant.slug}: design "${r.template.name}" ` +
          (r.created ? "created" : `saved as version ${r.version}`),
        json: { ...r.template, version: r.version, created: r.created },
      };
    }
    case "tenant relay-networks": {
      const tenant = await tenantArg(deps, positional);
      const [, , , action, arg] = positional;
      if (action === "list") {
        const rows = await listRelayNetworks(deps, tenant.id);
        const text = rows.map((r) => `${r.id}  ${r.network.padEnd(20)} ${r.note}`).join("\n");
        return {
          text: text || `Tenant ${tenant.slug} has no relay networks.`,
          json: { items: rows },
        };
      }
      if (action === "add" && arg) {
        const note = (flags.note as string | undefined) ?? "";
        const row = await addRelayNetwork(deps, tenant.id, { network: arg, note }, {
          actor: ACTOR,
        });
        return {
          text: `Tenant ${tenant.slug}: relay network ${row.network} added, id ${row.id}`,
          json: row,
        };
      }
      if (action === "remove" && arg) {
        const row = await removeRelayNetwork(deps, tenant.id, arg, ACTOR);
        return { text: `Tenant ${tenant.slug}: relay network ${row.network} removed`, json: row };
      }
      throw new UsageError("relay-networks: list, add CIDR [--note NOTE] or remove ID");
    }
    case "user create": {
      const input = {
        email: need(flags, "email"),
        role: need(flags, "role") as never,
        name: (flags.name as string | undefined) ?? "",
      };
      const tenant = await findTenant(deps, need(flags, "tenant"));
      const { user, setupToken } = await createUser(deps, tenant.id, input, ACTOR);
      const setupUrl = `${deps.config.baseUrl}/password/setup/${setupToken}`;
      return {
        text: `Created ${user.role} ${user.email} in ${tenant.slug}.\n` +
          `One-time link to choose a password (valid 72 hours):\n  ${setupUrl}`,
        json: { ...user, tenant_id: tenant.id, setup_url: setupUrl },
      };
    }
    case "api-key create": {
      const scopes = flags.scopes === undefined ? ["read", "write", "send"] : list(
        flags.scopes as string,
      );
      const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
      if (bad.length || !scopes.length) {
        throw new UsageError(`--scopes: expected some of ${SCOPES.join(", ")}`);
      }
      const name = (flags.name as string | undefined) ?? "CLI key";
      const tenant = await findTenant(deps, need(flags, "tenant"));
      const key = await createApiKey(deps, {
        tenantId: tenant.id,
        name,
        scopes: scopes as Scope[],
      });
      return {
        text: `API key for ${tenant.slug} (${key.scopes.join(", ")}). It is shown only now:\n` +
          `  ${key.key}`,
        json: { ...key, tenant_id: tenant.id },
      };
    }
    case "operator key":
    case "operator login-link": {
      await ensureOperator(deps);
      const op = await deps.db.selectFrom("operators").select(["id", "email"]).orderBy("id")
        .executeTakeFirstOrThrow();
      if (verb === "key") {
        const key = await createOperatorKey(deps, {
          operatorId: op.id,
          name: (flags.name as string | undefined) ?? "CLI operator key",
        });
        return { text: `Operator API key. It is shown only now:\n  ${key.key}`, json: key };
      }
      const url = await operatorLoginLink(deps, op.id);
      return {
        text: `One-time link for ${op.email} (valid 24 hours):\n  ${url}`,
        json: { email: op.email, setup_url: url },
      };
    }
    default:
      throw new UsageError(cmd ? `unknown command "${cmd}"` : "no command given");
  }
}

/** Runs one CLI invocation; returns the exit code. Output goes through `print`/`fail`. */
export async function main(
  args: string[],
  env: Record<string, string>,
  print: (s: string) => void = console.log,
  fail: (s: string) => void = console.error,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        name: { type: "string" },
        tier: { type: "string" },
        slug: { type: "string" },
        addons: { type: "string" },
        locale: { type: "string" },
        "time-zone": { type: "string" },
        tenant: { type: "string" },
        email: { type: "string" },
        role: { type: "string" },
        scopes: { type: "string" },
        file: { type: "string" },
        note: { type: "string" },
      },
    });
  } catch (e) {
    fail(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values: flags, positionals } = parsed;
  if (flags.help || positionals.length === 0) {
    (flags.help ? print : fail)(USAGE);
    return flags.help ? 0 : 2;
  }
  const json = Boolean(flags.json);
  const report = (code: string, message: string, details?: unknown) => {
    fail(json ? JSON.stringify({ error: { code, message, details } }) : `Error: ${message}`);
  };

  let deps: AppDeps | undefined;
  try {
    const config = loadConfig(env);
    // Quiet logs: stdout belongs to the command's result.
    deps = await prepare({ ...config, logLevel: "error" }, installedPlugins);
    const out: Out = await run(deps, positionals, flags);
    print(json ? JSON.stringify(out.json) : out.text);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      fail(`${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof AppError) {
      // Field issues (an MJML error's line among them) are named, not only kept in --json.
      const issues = Array.isArray(e.details) ? localizeIssues("en", e.details) : [];
      const lines = issues.map((i) => {
        const line = (i as { line?: number | null }).line;
        return `  ${i.path}${line ? ` line ${line}` : ""}: ${i.message || i.code}`;
      });
      report(e.code, [t("en", ERRORS[e.code].message, e.params), ...lines].join("\n"), e.details);
    } else if (e instanceof z.ZodError) {
      const lines = e.issues.map((i) => `--${i.path.join(".").replace("_", "-")}: ${i.message}`);
      report("validation", lines.join("; "), e.issues);
    } else if (
      e instanceof ConfigError || e instanceof MigrationError ||
      e instanceof DatabaseLockedError
    ) {
      report("config", e.message);
    } else {
      throw e;
    }
    return 1;
  } finally {
    await deps?.database.close();
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args, Deno.env.toObject()));
}
