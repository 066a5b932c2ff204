// Row sequences for the differ's source side: the rows of several sources merged into one ordered sequence (a
// merge reads two source shards into one destination), and only the rows that belong to the destination.

import type { Row } from '../mysql/sql.ts';
import type { KeyComparator } from './key-order.ts';

async function nextRow(it: AsyncIterator<Row>): Promise<Row | null> {
  const r = await it.next();
  return r.done ? null : r.value;
}

/**
 * Merges sequences each ordered by `compare` into one ordered sequence (on equal keys, the earlier sequence's row
 * first). All are closed when the merge ends, early or not.
 */
export async function* mergeOrdered(sequences: readonly AsyncIterable<Row>[], compare: KeyComparator): AsyncGenerator<Row> {
  if (sequences.length === 1) {
    yield* sequences[0];
    return;
  }
  const iterators = sequences.map((s) => s[Symbol.asyncIterator]());
  try {
    const heads = await Promise.all(iterators.map(nextRow));
    for (;;) {
      // A few sources at most: a linear scan beats a heap.
      let min = -1;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i];
        if (head !== null && (min < 0 || compare(head, heads[min]!) < 0)) min = i;
      }
      if (min < 0) return;
      yield heads[min]!;
      heads[min] = await nextRow(iterators[min]);
    }
  } finally {
    await Promise.allSettled(iterators.map((it) => it.return?.()));
  }
}

export interface RowCounter {
  /** Called with a count of rows read so far, every `every` rows and at the end. */
  (rows: number): void;
}

/**
 * The rows `keep` accepts, in order; `onRead` hears how many were read in all (kept or not), for the progress:
 * every `every` rows and once at the end.
 */
export async function* keepRows(rows: AsyncIterable<Row>, keep: (row: Row) => boolean, onRead: RowCounter, every = 1000): AsyncGenerator<Row> {
  let unreported = 0;
  try {
    for await (const row of rows) {
      if (++unreported >= every) {
        onRead(unreported);
        unreported = 0;
      }
      if (keep(row)) yield row;
    }
  } finally {
    if (unreported) onRead(unreported);
  }
}
