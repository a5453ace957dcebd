// A pool of Web Workers that render and sign batches off the main thread, which keeps the
// database and the SMTP connections busy. Batches are split into one slice per worker: one
// message per task would cost 20-50 µs of messaging each (GOTCHAS.md), a slice ~1 µs.
import type { Recipient, TrackingSettings } from "./render.ts";
import type { SendKind } from "../db/schema.ts";
import type { Attachment } from "./mime.ts";

export interface DkimKey {
  domain: string;
  selector: string;
  privateKeyPem: string;
}

export interface RenderItem {
  key: string;
  sendId: string;
  recipient: Recipient;
  messageId: string;
  /** Ids of the tenant's DKIM keys that sign this message; their material is in RenderJob.keys. */
  dkimKeys?: string[];
  /** With the kind: tracking, List-Unsubscribe, Feedback-ID and VERP (render.ts messageOf). */
  tenantId?: string;
  kind?: SendKind;
}

/** A send's frozen content and its files, once per job (not per message). */
export interface RenderContent {
  sendId: string;
  content: unknown;
  attachments?: Attachment[];
}

export interface RenderJob {
  id: number;
  contents: RenderContent[];
  items: RenderItem[];
  dkim?: DkimKey;
  /** The per-tenant keys this job's items name, once per job rather than once per message. */
  keys?: Record<string, DkimKey>;
  tracking?: TrackingSettings;
}

export type RenderResult =
  | { key: string; raw: string; subject: string; mailFrom?: string; error?: undefined }
  | { key: string; error: string; raw?: undefined; subject?: undefined };

/** Only the keys a slice's items name. */
function keysFor(slice: RenderItem[], keys?: Record<string, DkimKey>) {
  if (!keys) return undefined;
  const out: Record<string, DkimKey> = {};
  for (const item of slice) for (const id of item.dkimKeys ?? []) if (keys[id]) out[id] = keys[id];
  return out;
}

export class RenderPool {
  readonly size: number;
  readonly #workers: Worker[];
  readonly #pending = new Map<number, (results: RenderResult[]) => void>();
  #next = 1;

  constructor(size: number) {
    this.size = Math.max(1, size);
    this.#workers = Array.from({ length: this.size }, () => {
      const w = new Worker(new URL("./render_worker.ts", import.meta.url), { type: "module" });
      w.onmessage = (e: MessageEvent<{ id: number; results: RenderResult[] }>) => {
        const done = this.#pending.get(e.data.id);
        this.#pending.delete(e.data.id);
        done?.(e.data.results);
      };
      w.onerror = (e) => {
        // A crashed worker fails its slices; the messages are retried like a lost connection.
        e.preventDefault();
        for (const [id, done] of this.#pending) {
          this.#pending.delete(id);
          done([]);
        }
      };
      return w;
    });
  }

  /** Renders items across the workers; results come back in the items' order. */
  async render(
    contents: RenderContent[],
    items: RenderItem[],
    dkim?: DkimKey,
    tracking?: TrackingSettings,
    keys?: Record<string, DkimKey>,
  ): Promise<RenderResult[]> {
    if (!items.length) return [];
    const per = Math.ceil(items.length / this.size);
    const slices: Promise<RenderResult[]>[] = [];
    for (let i = 0, w = 0; i < items.length; i += per, w++) {
      const slice = items.slice(i, i + per);
      const needed = new Set(slice.map((x) => x.sendId));
      const id = this.#next++;
      slices.push(
        new Promise<RenderResult[]>((resolve) => {
          this.#pending.set(id, resolve);
          this.#workers[w % this.size]!.postMessage(
            {
              id,
              contents: contents.filter((c) => needed.has(c.sendId)),
              items: slice,
              dkim,
              tracking,
              keys: keysFor(slice, keys),
            } satisfies RenderJob,
          );
        }).then((results) =>
          results.length === slice.length
            ? results
            : slice.map((x) => ({ key: x.key, error: "render worker failed" }))
        ),
      );
    }
    return (await Promise.all(slices)).flat();
  }

  close(): void {
    for (const w of this.#workers) w.terminate();
    for (const [id, done] of this.#pending) {
      this.#pending.delete(id);
      done([]);
    }
  }
}
