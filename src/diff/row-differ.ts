// The row differ: a merge-join of source and destination rows, all ordered by key (see key-order.ts), comparing
// raw bytes. Pure: it reads batches of rows (mysql/row-batches.ts) and counts; where they come from is not its
// business. One pass serves a split and a merge alike: the sources' rows are merged in key order, and each goes to
// the destination its batch's tag names, so a source is read once however many destinations it feeds.

import { RowBatch } from '../mysql/row-batches.ts';
import type { Row } from '../mysql/sql.ts';
import { compareBatchKeys, describeKey, type RowKey } from './key-order.ts';
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

/**
 * One side of the join: its current row (`batch`, `i`), checked to come after the one before. Rows are walked
 * within a batch without awaiting anything; only a used-up batch costs a promise (`fill`).
 */
class BatchCursor {
  readonly #name: string;
  readonly #batches: AsyncIterator<RowBatch>;
  readonly #spec: RowDiffSpec;
  batch: RowBatch | null = null;
  i = 0;
  ended = false;
  #previous: RowBatch | null = null;
  #previousI = 0;

  constructor(name: string, batches: AsyncIterable<RowBatch>, spec: RowDiffSpec) {
    this.#name = name;
    this.#batches = batches[Symbol.asyncIterator]();
    this.#spec = spec;
  }

  /** Moves to the next row of the batch; false when the batch is used up (then `fill`). */
  step(): boolean {
    if (++this.i >= this.batch!.count) return false;
    this.#check();
    return true;
  }

  /** Moves to the first row of the next non-empty batch, or ends. */
  async fill(): Promise<void> {
    for (;;) {
      const r = await this.#batches.next();
      if (r.done) {
        this.ended = true;
        this.batch = null;
        return;
      }
      if (r.value.count === 0) continue;
      this.batch = r.value;
      this.i = 0;
      this.#check();
      return;
    }
  }

  #check(): void {
    const batch = this.batch!;
    if (this.#previous) {
      const c = compareBatchKeys(this.#spec.key, this.#previous, this.#previousI, batch, this.i);
      // A primary key is unique; identical whole rows of a table without one may repeat.
      if (c > 0 || (c === 0 && this.#spec.key.byPrimaryKey)) {
        const what = c > 0 ? 'came after' : 'repeated';
        throw new RowOrderError(
          `${this.#name} rows are out of key order: ${describeKey(batch.row(this.i), this.#spec.key)} ${what} ${describeKey(this.#previous.row(this.#previousI), this.#spec.key)}`,
        );
      }
    }
    this.#previous = batch;
    this.#previousI = this.i;
  }

  row(): Row {
    return this.batch!.row(this.i);
  }

  /** Ends the sequence early (a read then gives its connection up). */
  async close(): Promise<void> {
    await this.#batches.return?.();
  }
}

/** Whether two rows' values are identical: their payloads are the same bytes. */
function sameRow(a: RowBatch, i: number, b: RowBatch, j: number): boolean {
  const as = a.rowStart[i];
  const ae = a.rowStart[i + 1];
  const bs = b.rowStart[j];
  const be = b.rowStart[j + 1];
  return ae - as === be - bs && a.bytes.compare(b.bytes, bs, be, as, ae) === 0;
}

/** Names of the columns whose values differ (rows known to differ). */
function differingColumns(a: RowBatch, i: number, b: RowBatch, j: number, columns: readonly string[]): string[] {
  const out: string[] = [];
  for (let c = 0; c < columns.length; c++) {
    const x = i * a.columns + c;
    const y = j * b.columns + c;
    const as = a.start[x];
    const bs = b.start[y];
    const same = as < 0 || bs < 0 ? as === bs : a.end[x] - as === b.end[y] - bs && a.bytes.compare(b.bytes, bs, b.end[y], as, a.end[x]) === 0;
    if (!same) out.push(columns[c]);
  }
  return out;
}

function record(tally: DiffTally, kind: DifferenceKind, example: DiffExample): void {
  tally[kind]++;
  if (tally.examples[kind].length < MAX_EXAMPLES) tally.examples[kind].push(example);
}

/**
 * Merge-joins the rows of `sources` (each ordered by `spec.key`: NULL first, integers by value, the rest by bytes)
 * with those of `destinations` (likewise), a source row being compared on the destination its tag names, and
 * counts matching, mismatched, extra-on-source and extra-on-destination rows: one tally per destination. Every
 * sequence is closed when it returns or throws. Throws RowOrderError when a side is out of order, and when a source
 * row's tag names no destination.
 */
export async function joinBatches(
  sources: readonly AsyncIterable<RowBatch>[],
  destinations: readonly AsyncIterable<RowBatch>[],
  spec: RowDiffSpec,
): Promise<DiffTally[]> {
  const { key, columns } = spec;
  const srcs = sources.map((s, i) => new BatchCursor(sources.length > 1 ? `source ${i + 1}` : 'source', s, spec));
  const dsts = destinations.map((d, i) => new BatchCursor(destinations.length > 1 ? `destination ${i + 1}` : 'destination', d, spec));
  const tallies = destinations.map(() => emptyTally());
  const extraOnDestination = (d: BatchCursor, t: DiffTally) => {
    t.processed++;
    record(t, 'extraOnDestination', { key: describeKey(d.row(), key) });
  };
  try {
    await Promise.all([...srcs, ...dsts].map((c) => c.fill()));
    for (;;) {
      // The sources' smallest head (a few sources at most: a linear scan beats a heap).
      let s: BatchCursor | null = null;
      for (const c of srcs) if (!c.ended && (s === null || compareBatchKeys(key, c.batch!, c.i, s.batch!, s.i) < 0)) s = c;
      if (s === null) break;
      const sb = s.batch!;
      const tag = sb.tag[s.i];
      const d = dsts[tag];
      if (d === undefined) throw new RowOrderError(`a source row was routed to destination ${tag} of ${dsts.length}`);
      const t = tallies[tag];
      // The destination's rows before it are not on the source.
      let c = 1;
      while (!d.ended) {
        c = compareBatchKeys(key, d.batch!, d.i, sb, s.i);
        if (c >= 0) break;
        extraOnDestination(d, t);
        if (!d.step()) await d.fill();
      }
      t.processed++;
      if (!d.ended && c === 0) {
        if (sameRow(sb, s.i, d.batch!, d.i)) t.matching++;
        else record(t, 'mismatched', { key: describeKey(s.row(), key), columns: differingColumns(sb, s.i, d.batch!, d.i, columns) });
        if (!d.step()) await d.fill();
      } else {
        record(t, 'extraOnSource', { key: describeKey(s.row(), key) });
      }
      if (!s.step()) await s.fill();
    }
    for (const [i, d] of dsts.entries()) {
      while (!d.ended) {
        extraOnDestination(d, tallies[i]);
        if (!d.step()) await d.fill();
      }
    }
  } finally {
    // Settled, not all: a failing close must not hide the error that got us here.
    await Promise.allSettled([...srcs, ...dsts].map((c) => c.close()));
  }
  return tallies;
}

/** Batches of the rows of a sequence of `Row`s (each tagged `tag`). */
export async function* batchesOf(rows: AsyncIterable<Row>, columns: number, tag = 0): AsyncGenerator<RowBatch> {
  const pending: Row[] = [];
  for await (const row of rows) {
    pending.push(row);
    if (pending.length === 256) yield* RowBatch.of(pending.splice(0), columns, tag);
  }
  if (pending.length) yield* RowBatch.of(pending, columns, tag);
}

/** diffRows of one source and one destination given as `Row`s (a test's rows, say): joinBatches' one tally. */
export async function diffRows(source: AsyncIterable<Row>, destination: AsyncIterable<Row>, spec: RowDiffSpec): Promise<DiffTally> {
  const [tally] = await joinBatches([batchesOf(source, spec.columns.length)], [batchesOf(destination, spec.columns.length)], spec);
  return tally;
}
