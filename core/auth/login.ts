// Password login with per-account and per-IP attempt limits, and one-time login/set-up links.
import { sql } from "kysely";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from "./password.ts";
import type { Subject } from "./sessions.ts";
import { hashToken, issueToken } from "./tokens.ts";

type Deps = Pick<AppDeps, "db" | "clock">;

/** Failed attempts allowed in WINDOW before further attempts are refused. */
export const LOGIN_LIMITS = { perAccount: 5, perIp: 30, windowMs: 15 * 60_000 } as const;

export interface Account {
  subject: Subject;
  /** Shown when one email has several accounts. */
  label: string;
}

/**
 * Checks email and password; returns every account that matched (usually one). Throws
 * rate_limited when the account or the IP has failed too often, before checking anything.
 */
export async function login(
  deps: Deps,
  input: { email: string; password: string; ip: string },
): Promise<Account[]> {
  const email = input.email.trim().toLowerCase();
  const accountKey = `acct:${email}`;
  const ipKey = `ip:${input.ip}`;
  const now = deps.clock();
  const since = new Date(now.getTime() - LOGIN_LIMITS.windowMs);
  const counts = await deps.db.selectFrom("login_failures")
    .select(["key", sql<number>`count(*)`.as("n"), sql<Date>`min(at)`.as("first")])
    .where("key", "in", [accountKey, ipKey]).where("at", ">", since)
    .groupBy("key").execute();
  for (const c of counts) {
    const limit = c.key === accountKey ? LOGIN_LIMITS.perAccount : LOGIN_LIMITS.perIp;
    if (c.n >= limit) {
      const retryMs = new Date(c.first).getTime() + LOGIN_LIMITS.windowMs - now.getTime();
      const seconds = Math.max(1, Math.ceil(retryMs / 1000));
      throw new AppError("rate_limited", { seconds }, undefined, {
        "Retry-After": String(seconds),
      });
    }
  }

  const operators = await deps.db.selectFrom("operators").select(["id", "password_hash"])
    .where(sql`lower(email)`, "=", email).execute();
  const users = await deps.db.selectFrom("users as u").innerJoin(
    "tenants as t",
    "t.id",
    "u.tenant_id",
  )
    .select(["u.id", "u.tenant_id", "u.password_hash", "t.name as tenant_name"])
    .where(sql`lower(u.email)`, "=", email).where("u.disabled_at", "is", null).execute();

  const matched: Account[] = [];
  for (const o of operators) {
    if (await verifyPassword(input.password, o.password_hash)) {
      matched.push({ subject: { kind: "operator", operatorId: o.id }, label: "Operator" });
    }
  }
  for (const u of users) {
    if (await verifyPassword(input.password, u.password_hash)) {
      matched.push({
        subject: { kind: "user", tenantId: u.tenant_id, userId: u.id },
        label: u.tenant_name,
      });
    }
  }
  if (operators.length + users.length === 0) await verifyPassword(input.password, null);

  if (matched.length === 0) {
    await deps.db.insertInto("login_failures").values([
      { key: accountKey, at: now },
      { key: ipKey, at: now },
    ]).execute();
    throw new AppError("login_failed");
  }
  await deps.db.deleteFrom("login_failures").where("key", "=", accountKey).execute();
  return matched;
}

/** Forgets failures older than the window (run now and then). */
export async function pruneLoginFailures(deps: Deps): Promise<void> {
  const cutoff = new Date(deps.clock().getTime() - LOGIN_LIMITS.windowMs);
  await deps.db.deleteFrom("login_failures").where("at", "<=", cutoff).execute();
}

/**
 * A one-time link: "login" signs an operator in (first start), "setup" lets a new user choose
 * a password. Returns the token to put in the URL.
 */
export async function createLoginToken(
  deps: Deps,
  subject: Subject,
  purpose: "login" | "setup",
  ttlMs = 72 * 3600_000,
): Promise<string> {
  const { token, hash } = await issueToken();
  const now = deps.clock();
  await deps.db.insertInto("login_tokens").values({
    id: hash,
    purpose,
    operator_id: subject.kind === "operator" ? subject.operatorId : null,
    tenant_id: subject.kind === "user" ? subject.tenantId : null,
    user_id: subject.kind === "user" ? subject.userId : null,
    created_at: now,
    expires_at: new Date(now.getTime() + ttlMs),
  }).execute();
  return token;
}

/** Uses a one-time token exactly once; throws link_invalid if unknown, used or expired. */
export async function consumeLoginToken(deps: Deps, token: string): Promise<Subject> {
  if (!token || token.length > 100) throw new AppError("link_invalid");
  const row = await deps.db.updateTable("login_tokens").set({ used_at: deps.clock() })
    .where("id", "=", await hashToken(token)).where("used_at", "is", null)
    .where("expires_at", ">", deps.clock())
    .returning(["operator_id", "tenant_id", "user_id"]).executeTakeFirst();
  if (!row) throw new AppError("link_invalid");
  return row.operator_id
    ? { kind: "operator", operatorId: row.operator_id }
    : { kind: "user", tenantId: row.tenant_id!, userId: row.user_id! };
}

export async function setPassword(deps: Deps, subject: Subject, password: string): Promise<void> {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new AppError("password_weak", {}, [{
      path: "password",
      code: "too_short",
      message: `At least ${MIN_PASSWORD_LENGTH} characters.`,
    }]);
  }
  const password_hash = await hashPassword(password);
  if (subject.kind === "operator") {
    await deps.db.updateTable("operators").set({ password_hash })
      .where("id", "=", subject.operatorId).execute();
  } else {
    await deps.db.updateTable("users").set({ password_hash })
      .where("tenant_id", "=", subject.tenantId).where("id", "=", subject.userId).execute();
  }
}
