// The row differ: a merge-join of source and destination rows, both ordered by key (see key-order.ts), comparing
// raw bytes. Pure: it reads two async row sequences and counts; where the rows come from is not its business.

import type { RawValue, Row } from '../mysql/sql.ts';
import { describeKey, keyComparator, type KeyComparator, type RowKey } from './key-order.ts';
import { emptyTally, MAX_EXAMPLES, type DiffExample, type DiffTally, type DifferenceKind } from './tally.ts';

export interface RowDiffSpec {
  key: RowKey;
  /** Every column's name, in row order: to name the ones that differ. */
  columns: readonly string[];
}

/** A side's rows came out of key order: the merge-join would report nonsense, so it stops instead. */
export class RowOrderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RowOrderError';
  }
}

/** One side of the join: its next row, checked to come after the one before. */
class OrderedCursor {
  readonly #name: string;
  readonly #rows: AsyncIterator<Row>;
  readonly #compare: KeyComparator;
  readonly #spec: RowDiffSpec;
  #previous: Row | null = null;

  constructor(name: string, rows: AsyncIterable<Row>, compare: KeyComparator, spec: RowDiffSpec) {
    this.#name = name;
    this.#rows = rows[Symbol.asyncIterator]();
    this.#compare = compare;
    this.#spec = spec;
  }

  async next(): Promise<Row | null> {
    const r = await this.#rows.next();
    if (r.done) return null;
    const row = r.value;
    if (this.#previous) {
      const c = this.#compare(this.#previous, row);
      // A primary key is unique; identical whole rows of a table without one may repeat.
      if (c > 0 || (c === 0 && this.#spec.key.byPrimaryKey)) {
        const what = c > 0 ? 'came after' : 'repeated';
        throw new RowOrderError(`${this.#name} rows are out of key order: ${describeKey(row, this.#spec.key)} ${what} ${describeKey(this.#previous, this.#spec.key)}`);
      }
    }
    this.#previous = row;
    return row;
  }

  /** Ends the sequence early (a stream then gives its connection up). */
  async close(): Promise<void> {
    await this.#rows.return?.();
  }
}

function sameValue(a: RawValue, b: RawValue): boolean {
  if (a === null || b === null) return a === b;
  return a.equals(b);
}

/** Names of the columns whose values differ, or null when the rows are identical. */
function differingColumns(a: Row, b: Row, columns: readonly string[]): string[] | null {
  let out: string[] | null = null;
  for (let i = 0; i < columns.length; i++) {
    if (!sameValue(a[i], b[i])) (out ??= []).push(columns[i]);
  }
  return out;
}

function record(tally: DiffTally, kind: DifferenceKind, example: DiffExample): void {
  tally[kind]++;
  if (tally.examples[kind].length < MAX_EXAMPLES) tally.examples[kind].push(example);
}

/**
 * Merge-joins `source` and `destination`, each ordered by `spec.key` (NULL first, integers by value, the rest by
 * bytes), and counts matching, mismatched, extra-on-source and extra-on-destination rows. Both sequences are closed
 * when it returns or throws. Throws RowOrderError when either side is out of order.
 */
export async function diffRows(source: AsyncIterable<Row>, destination: AsyncIterable<Row>, spec: RowDiffSpec): Promise<DiffTally> {
  const compare = keyComparator(spec.key);
  const src = new OrderedCursor('source', source, compare, spec);
  const dst = new OrderedCursor('destination', destination, compare, spec);
  const tally = emptyTally();
  try {
    let a = await src.next();
    let b = await dst.next();
    while (a !== null || b !== null) {
      tally.processed++;
      const c = a === null ? 1 : b === null ? -1 : compare(a, b);
      if (c < 0) {
        record(tally, 'extraOnSource', { key: describeKey(a!, spec.key) });
        a = await src.next();
      } else if (c > 0) {
        record(tally, 'extraOnDestination', { key: describeKey(b!, spec.key) });
        b = await dst.next();
      } else {
        const columns = differingColumns(a!, b!, spec.columns);
        if (columns) record(tally, 'mismatched', { key: describeKey(a!, spec.key), columns });
        else tally.matching++;
        a = await src.next();
        b = await dst.next();
      }
    }
  } finally {
    // Settled, not all: a failing close must not hide the error that got us here.
    await Promise.allSettled([src.close(), dst.close()]);
  }
  return tally;
}
