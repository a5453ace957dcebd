// Runs inside a Web Worker: renders (and DKIM-signs) a slice of a batch off the main thread.
// Compiled templates and signers are cached here for the worker's life.
/// <reference lib="deno.worker" />
import { compileContent, type Recipient, renderMessage } from "./render.ts";
import { createDkimSigner } from "./dkim.ts";
import type { SendContent } from "./queue.ts";
import type { DkimKey, RenderJob, RenderResult } from "./render_pool.ts";

const signers = new Map<string, (raw: string) => string>();

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
  const sign = job.dkim ? signerFor(job.dkim) : undefined;
  const results: RenderResult[] = job.items.map((item) => {
    const compiled = contents.get(item.sendId);
    if (!compiled) return { key: item.key, error: "send content missing" };
    try {
      const r = renderMessage(compiled, item.recipient as Recipient, { messageId: item.messageId });
      return { key: item.key, raw: sign ? sign(r.raw) : r.raw, subject: r.subject };
    } catch (err) {
      return { key: item.key, error: `render: ${String(err)}` };
    }
  });
  self.postMessage({ id: job.id, results });
};
