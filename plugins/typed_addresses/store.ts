// Reading and setting address types and a mailing's address choice, tenant-scoped and audited.
import type { AppDeps } from "../../core/deps.ts";
import { AppError } from "../../core/errors.ts";
import { getPerson } from "../../core/people/persons.ts";
import { setAddressType } from "../../core/people/address_types.ts";
import { audit } from "../../core/tenants/audit.ts";
import { getMailing, patchMailing } from "../../core/mailings/mailings.ts";
import { ADDRESS_TYPES, type AddressType, SendOptions, sendOptions } from "./options.ts";

/** The person's addresses with their types (the core's rows). */
export async function typedAddresses(deps: AppDeps, tenantId: string, personId: string) {
  const p = await getPerson(deps, tenantId, personId);
  return p.addresses.map((a) => ({
    id: a.id,
    address: a.address,
    is_primary: a.is_primary,
    type: (ADDRESS_TYPES as readonly string[]).includes(a.type ?? "")
      ? a.type as AddressType
      : null,
  }));
}

/**
 * Sets the types of the person's addresses at once: `types` maps an address id to a type or
 * null. A type may be given to one address only. In one transaction, audited.
 */
export async function setTypes(
  deps: AppDeps,
  tenantId: string,
  personId: string,
  types: Record<string, AddressType | null>,
  actor: string,
) {
  const p = await getPerson(deps, tenantId, personId);
  const byId = new Map(p.addresses.map((a) => [a.id, a]));
  const issues = Object.keys(types).filter((id) => !byId.has(id))
    .map((id) => ({ path: `types.${id}`, code: "unknown_address", message: "" }));
  const seen = new Map<string, string>();
  for (const [id, type] of Object.entries(types)) {
    if (!type) continue;
    if (seen.has(type)) issues.push({ path: `types.${id}`, code: "type_used_twice", message: "" });
    seen.set(type, id);
  }
  if (issues.length) throw new AppError("validation", {}, issues);
  const now = deps.clock();
  await deps.db.transaction().execute(async (trx) => {
    // Clear first, so moving "work" from one address to another never trips over itself.
    for (const [id, type] of Object.entries(types)) {
      if (type === null) await setAddressType(trx, tenantId, p.id, { id }, null);
    }
    for (const [id, type] of Object.entries(types)) {
      if (type !== null) await setAddressType(trx, tenantId, p.id, { id }, type);
    }
    await audit(trx, {
      tenantId,
      actor,
      action: "typed_addresses.set",
      target: p.id,
      details: { types },
      at: now,
    });
  });
  return await typedAddresses(deps, tenantId, p.id);
}

/** The mailing's address choice (null: the primary address). */
export async function mailingChoice(deps: AppDeps, tenantId: string, mailingId: string) {
  const m = await getMailing(deps, tenantId, mailingId);
  return { mailing: m, choice: sendOptions(m.recipients.plugins?.typed_addresses) };
}

/** Sets the draft's address choice (null: the primary), checked against the version seen. */
export async function setMailingChoice(
  deps: AppDeps,
  tenantId: string,
  mailingId: string,
  input: { version: number; choice: SendOptions | null },
  actor: string,
) {
  const m = await getMailing(deps, tenantId, mailingId);
  const choice = input.choice === null ? null : SendOptions.parse(input.choice);
  const plugins = { ...m.recipients.plugins };
  if (choice) plugins.typed_addresses = choice;
  else delete plugins.typed_addresses;
  return await patchMailing(deps, tenantId, mailingId, {
    version: input.version,
    recipients: { ...m.recipients, plugins },
  }, actor);
}
