// Small helpers over in-memory collections (bounded batches only; audiences stay in SQL).

/** Items grouped by a key, in first-seen order; e.g. a batch's rows per tenant. */
export function groupBy<T, K>(items: Iterable<T>, key: (item: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
