// Runs the tenant's plugins' sendData hooks once when a mailing's content is frozen: send-wide
// merge data under each plugin's name (SendContent.data), or a plugin's veto of the send.
import { sql } from "kysely";
import type { AppDeps } from "../deps.ts";
import type { SendDataContext, SendDataResult } from "../plugin.ts";

export interface SendDataOutcome {
  /** Keyed by plugin name: every plugin with a sendData hook whose namespace the content names. */
  data: Record<string, unknown>;
  /** The first plugin (in registry order) that vetoed the send, with its reason. */
  skip?: { plugin: string; reason: string };
}

/**
 * Under a plugin's send data, the moment that data reflects (an ISO time): the next send of the
 * mailing is told it as lastSentAt. A hook may set it itself (the time it read its source under
 * a lock); otherwise it is the moment the core asked the hook.
 */
export const DATA_CUTOFF_KEY = "_cutoff";

/**
 * Where the plugin's data for this mailing's last real send stopped: the cut-off frozen into
 * the newest send that is no test send, was not rolled back (a draft send is one whose
 * expansion failed) and did not end without sending anything (cancelled or failed before a
 * single message went out). The send's creation time when it has no cut-off (older sends):
 * data is computed before the send row is created, so that is never earlier than the data.
 */
export async function lastSentAt(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  mailingId: string,
  plugin: string,
): Promise<Date | null> {
  const row = await deps.db.selectFrom("sends").select([
    "created_at",
    sql<string | null>`content -> 'data' -> ${plugin}::text ->> ${DATA_CUTOFF_KEY}::text`.as(
      "cutoff",
    ),
  ])
    .where("tenant_id", "=", tenantId).where("mailing_id", "=", mailingId)
    .where("is_test", "=", false).where("status", "<>", "draft")
    .where((eb) =>
      eb.not(eb.and([eb("status", "in", ["cancelled", "failed"]), eb("sent", "=", 0)]))
    )
    .orderBy("created_at", "desc").orderBy("id", "desc").limit(1).executeTakeFirst();
  if (!row) return null;
  const cutoff = row.cutoff ? new Date(row.cutoff) : null;
  if (cutoff && !Number.isNaN(cutoff.getTime())) return cutoff;
  return new Date(row.created_at as unknown as string | Date);
}

/**
 * Asks each enabled plugin with a sendData hook, one at a time, each under the hook time limit.
 * Unlike transformTemplate (decoration, dropped on failure), this data is content the mailing
 * names: a hook that fails or times out stops the send rather than send a hole.
 */
export async function collectSendData(
  deps: AppDeps,
  ctx: Omit<SendDataContext, "lastSentAt" | "deps">,
  opts: { timeoutMs?: number } = {},
): Promise<SendDataOutcome> {
  const out: SendDataOutcome = { data: {} };
  const source = [ctx.content.subject, ctx.content.html ?? "", ctx.content.text ?? ""].join("\n");
  // Only plugins whose namespace the content names are asked (most mailings name none).
  const named = deps.registry.all().filter((p) =>
    p.hooks?.sendData && source.includes(`${p.name}.`)
  );
  if (!named.length) return out;
  // The namespace is the plugin's even when it is not enabled or adds nothing: person data of
  // that name must never stand in for it (sanitize.ts trusts URLs read from it).
  for (const p of named) out.data[p.name] = {};
  const enabled = await deps.registry.enabledForTenant(deps.db, ctx.tenantId);
  if (!named.some((p) => enabled.has(p.name))) return out;
  for (const p of named) {
    if (!enabled.has(p.name)) continue;
    const since = await lastSentAt(deps, ctx.tenantId, ctx.mailingId, p.name);
    const asked = deps.clock();
    let r: SendDataResult = {};
    await deps.registry.runHook("sendData", new Set([p.name]), async (hook) => {
      r = await hook({ ...ctx, deps, content: { ...ctx.content }, lastSentAt: since });
    }, opts.timeoutMs);
    const own = r.data?.[DATA_CUTOFF_KEY];
    out.data[p.name] = {
      ...(r.data ?? {}),
      [DATA_CUTOFF_KEY]: typeof own === "string" ? own : asked.toISOString(),
    };
    if (r.skip && !out.skip) out.skip = { plugin: p.name, reason: r.skip.reason };
  }
  return out;
}
