// First start: create the operator account and hand out a one-time login link (no default password).
import type { AppDeps } from "./deps.ts";
import { uuidv7 } from "./db/ids.ts";
import { createLoginToken } from "./auth/login.ts";

/** Returns a one-time login URL when this call created the operator, else null. */
export async function ensureOperator(
  deps: Pick<AppDeps, "db" | "clock" | "config">,
): Promise<string | null> {
  const existing = await deps.db.selectFrom("operators").select("id").limit(1).executeTakeFirst();
  if (existing) return null;
  const id = uuidv7();
  // Processes started together on a new database (several workers) all get here: the one whose
  // insert lands creates the operator, the others must not fail on the unique email.
  const created = await deps.db.insertInto("operators").values({
    id,
    email: deps.config.operatorEmail,
    password_hash: null,
    locale: null,
    time_zone: null,
    created_at: deps.clock(),
  }).onConflict((oc) => oc.doNothing()).returning("id").executeTakeFirst();
  if (!created) return null;
  return await operatorLoginLink(deps, id);
}

export async function operatorLoginLink(
  deps: Pick<AppDeps, "db" | "clock" | "config">,
  operatorId: string,
): Promise<string> {
  const token = await createLoginToken(
    deps,
    { kind: "operator", operatorId },
    "setup",
    24 * 3600_000,
  );
  return `${deps.config.baseUrl}/password/setup/${token}`;
}
