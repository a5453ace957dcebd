// A run of a mailing used as a template: its content frozen into a new send of its own, linked
// to the mailing (sends.mailing_id) and expanded — while the mailing itself stays as it is, so
// it can run again. Recurring and triggered sends are built on this; sendMailing (send.ts) is
// the one-off send that moves the mailing to `sending`.
import type { Transaction } from "kysely";
import type { z } from "zod";
import type { AppDeps } from "../deps.ts";
import type { DB, SendKind } from "../db/schema.ts";
import { audit } from "../tenants/audit.ts";
import { Audience, createSend, expandSend } from "../send/queue.ts";
import { mailingSendKind } from "../send/expansion.ts";
import { assertStatus, getMailing } from "./mailings.ts";
import { freezeContent, refuseSkipped } from "./send.ts";

export interface MailingRunOptions {
  audience: z.input<typeof Audience>;
  actor: string;
  /** Default: as sendMailing decides ('single' for one recipient, else 'mass'). */
  kind?: SendKind;
  /**
   * Runs in the transaction that creates the send, before it is expanded: a caller records the
   * run there, so the run and its send exist together or not at all. Throwing undoes both.
   */
  onCreated?: (trx: Transaction<DB>, sendId: string) => Promise<void>;
  /** The messages wait until then: the audience is taken early, the mail goes out on time. */
  readyAt?: Date;
}

export interface MailingRun {
  send_id: string;
  total: number;
  excluded: Record<string, number>;
}

/**
 * Starts one run. A plugin's veto (the sendData hook's skip) creates nothing and throws
 * AppError "send_skipped" with the plugin and reason. If expanding fails, the send is removed
 * (it never started) and the error is rethrown.
 */
export async function startMailingRun(
  deps: AppDeps,
  tenantId: string,
  mailingId: string,
  opts: MailingRunOptions,
): Promise<MailingRun> {
  const m = await getMailing(deps, tenantId, mailingId);
  assertStatus(m, ["draft", "scheduled", "sending", "sent"]);
  const audience = Audience.parse(opts.audience);
  const { content, skip } = await freezeContent(deps, tenantId, m);
  if (skip) await refuseSkipped(deps, tenantId, mailingId, opts.actor, skip);
  const now = deps.clock();
  const sendId = await deps.db.transaction().execute(async (trx) => {
    const s = await createSend({ db: trx, clock: deps.clock }, tenantId, {
      kind: opts.kind ?? mailingSendKind(audience),
      content,
      audience,
      mailingId,
    }, opts.actor);
    await opts.onCreated?.(trx, s.id);
    await audit(trx, {
      tenantId,
      actor: opts.actor,
      action: "mailing.run",
      target: mailingId,
      details: { send: s.id },
      at: now,
    });
    return s.id;
  });
  try {
    const expanded = await expandSend(deps, tenantId, sendId, opts.actor, {
      readyAt: opts.readyAt,
    });
    return { send_id: sendId, total: expanded.total, excluded: { ...expanded.excluded } };
  } catch (e) {
    await deps.db.deleteFrom("sends").where("tenant_id", "=", tenantId).where("id", "=", sendId)
      .where("status", "=", "draft").execute();
    throw e;
  }
}
