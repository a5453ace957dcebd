// Runs inside a Web Worker: renders (and DKIM-signs) a slice of a batch off the main thread.
// Compiled templates and signers are cached here for the worker's life.
/// <reference lib="deno.worker" />
import { compileContent, messageOf, type Recipient, renderMessage } from "./render.ts";
import { createDkimSigner, DkimSignerCache } from "./dkim.ts";
import type { SendContent } from "./queue.ts";
import type { DkimKey, RenderJob, RenderResult } from "./render_pool.ts";

const signers = new Map<string, (raw: string) => string>();
const tenantSigners = new DkimSignerCache();

function signerFor(key: DkimKey): (raw: string) => string {
  const id = `${key.domain}|${key.selector}|${key.privateKeyPem.length}`;
  let s = signers.get(id);
  if (!s) {
    s = createDkimSigner(key);
    signers.set(id, s);
  }
  return s;
}

self.onmessage = (e: MessageEvent<RenderJob>) => {
  const job = e.data;
  const contents = new Map(
    job.contents.map((c) => [c.sendId, compileContent(c.content as SendContent)]),
  );
  const files = new Map(job.contents.map((c) => [c.sendId, c.attachments]));
  const sign = job.dkim ? signerFor(job.dkim) : undefined;
  const results: RenderResult[] = job.items.map((item) => {
    const compiled = contents.get(item.sendId);
    if (!compiled) return { key: item.key, error: "send content missing" };
    try {
      // A tenant's own keys, when it has them for the From domain, else the deployment's key.
      const signer = item.dkimKeys?.length ? tenantSigners.get(item.dkimKeys, job.keys) : sign;
      const r = renderMessage(compiled, item.recipient as Recipient, {
        messageId: item.messageId,
        tracking: job.tracking,
        message: messageOf(item),
        attachments: files.get(item.sendId),
      });
      return {
        key: item.key,
        raw: signer ? signer(r.raw) : r.raw,
        subject: r.subject,
        mailFrom: r.mailFrom,
      };
    } catch (err) {
      return { key: item.key, error: `render: ${String(err)}` };
    }
  });
  self.postMessage({ id: job.id, results });
};
