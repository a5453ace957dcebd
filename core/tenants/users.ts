// Staff users of a tenant: created by an operator or an admin, who sets a password via a one-time link.
import { sql } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { isUuid, uuidv7 } from "../db/ids.ts";
import { AppError } from "../errors.ts";
import { createLoginToken } from "../auth/login.ts";
import { audit } from "./audit.ts";
import { getTenant } from "./tenants.ts";

export const UserCreate = z.object({
  email: z.string().trim().max(254).regex(/^[^\s@]+@[^\s@]+$/, "An email address"),
  name: z.string().trim().max(200).default(""),
  role: z.enum(["admin", "user"]),
});
export type UserCreate = z.input<typeof UserCreate>;

const COLUMNS = [
  "id",
  "email",
  "name",
  "role",
  "created_at",
  "last_login_at",
  "disabled_at",
] as const;

/** Creates a user and returns a one-time link token for choosing a password. */
export async function createUser(
  deps: Pick<AppDeps, "db" | "clock">,
  tenantId: string,
  input: UserCreate,
  actor: string,
) {
  const v = UserCreate.parse(input);
  await getTenant(deps, tenantId);
  const now = deps.clock();
  return await deps.db.transaction().execute(async (trx) => {
    const taken = await trx.selectFrom("users").select("id").where("tenant_id", "=", tenantId)
      .where(sql`lower(email)`, "=", v.email.toLowerCase()).executeTakeFirst();
    if (taken) {
      throw new AppError("email_taken", { email: v.email }, [{
        path: "email",
        code: "taken",
        message: "",
      }]);
    }
    const user = await trx.insertInto("users").values({
      tenant_id: tenantId,
      id: uuidv7(),
      email: v.email,
      name: v.name,
      role: v.role,
      password_hash: null,
      locale: null,
      time_zone: null,
      created_at: now,
    }).returning(COLUMNS).executeTakeFirstOrThrow();
    const setupToken = await createLoginToken(
      { db: trx, clock: deps.clock },
      { kind: "user", tenantId, userId: user.id },
      "setup",
    );
    await audit(trx, {
      tenantId,
      actor,
      action: "user.create",
      target: user.id,
      details: { email: v.email, role: v.role },
      at: now,
    });
    return { user, setupToken };
  });
}

export async function listUsers(deps: Pick<AppDeps, "db">, tenantId: string) {
  return await deps.db.selectFrom("users").select(COLUMNS).where("tenant_id", "=", tenantId)
    .orderBy("id").execute();
}

export async function getUser(deps: Pick<AppDeps, "db">, tenantId: string, id: string) {
  if (!isUuid(id)) throw new AppError("not_found");
  const row = await deps.db.selectFrom("users").select(COLUMNS).where("tenant_id", "=", tenantId)
    .where("id", "=", id).executeTakeFirst();
  if (!row) throw new AppError("not_found");
  return row;
}
