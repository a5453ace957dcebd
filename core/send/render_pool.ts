// A pool of Web Workers that render and sign batches off the main thread, which keeps the
// database and the SMTP connections busy. Batches are split into one slice per worker: one
// message per task would cost 20-50 µs of messaging each (GOTCHAS.md), a slice ~1 µs.
import type { Recipient } from "./render.ts";

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
}

export interface RenderJob {
  id: number;
  contents: { sendId: string; content: unknown }[];
  items: RenderItem[];
  dkim?: DkimKey;
}

export type RenderResult =
  | { key: string; raw: string; subject: string; error?: undefined }
  | { key: string; error: string; raw?: undefined; subject?: undefined };

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
    contents: { sendId: string; content: unknown }[],
    items: RenderItem[],
    dkim?: DkimKey,
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
