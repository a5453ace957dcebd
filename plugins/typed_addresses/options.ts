// What a mailing carries for this plugin (recipients.plugins.typed_addresses), and the rule it
// gives the send's expansion: send to the person's address of that type instead of the primary.
import { sql } from "kysely";
import { z } from "zod";
import { AppError } from "../../core/errors.ts";
import { zodIssues } from "../../core/http/errors.ts";
import type { ExpansionRules } from "../../core/send/expansion.ts";

const FIELD = "recipients.plugins.typed_addresses";

export const ADDRESS_TYPES = ["work", "private", "student"] as const;
export type AddressType = (typeof ADDRESS_TYPES)[number];

export const SendOptions = z.object({
  type: z.enum(ADDRESS_TYPES),
  /** Persons without an address of the type get their primary address instead. */
  fallback: z.boolean().default(false),
}).strict();
export type SendOptions = z.output<typeof SendOptions>;

/** The send's options, or null for the default (the primary address). */
export function sendOptions(raw: unknown): SendOptions | null {
  if (raw === undefined || raw === null) return null;
  const r = SendOptions.safeParse(raw);
  if (!r.success) {
    // The core's wording of zod issues (catalogue), under the field the options live in.
    throw new AppError(
      "validation",
      {},
      zodIssues(r.error).map((i) => ({ ...i, path: `${FIELD}.${i.path}` })),
    );
  }
  return r.data;
}

export function expansionRules(options: unknown): ExpansionRules | null {
  const o = sendOptions(options);
  if (!o) return null;
  return {
    address: {
      condition: sql`a.type = ${o.type}`,
      fallbackToPrimary: o.fallback,
      missingReason: "no_address_of_type",
    },
  };
}
