// Per-table progress: counters, a rate over a recent window, and an honest ETA.

import type { TableDiffStatus, TableState, TableStatus, Totals } from './status.ts';

/** Rows per second over the last `windowMs` (not since the start, not the last second alone). */
export class RateMeter {
  readonly #windowMs: number;
  /** (time, cumulative count) samples, oldest first, spanning at most the window plus one sample. */
  #samples: { t: number; n: number }[] = [];

  constructor(windowMs = 30_000) {
    this.#windowMs = windowMs;
  }

  record(now: number, cumulative: number): void {
    const last = this.#samples[this.#samples.length - 1];
    const previous = this.#samples[this.#samples.length - 2];
    // Coalesce bursts into samples at least 250 ms apart: keeps the list short. (Measured from the sample before
    // the last: updates every few ms would otherwise move the last sample forever and never start a new one,
    // and the window would never slide.)
    if (last && previous && now - previous.t < 250) {
      last.n = cumulative;
      last.t = now;
    } else {
      this.#samples.push({ t: now, n: cumulative });
    }
    // Keep one sample at or before the window start, so the window is full once the job has run that long.
    while (this.#samples.length > 2 && this.#samples[1].t <= now - this.#windowMs) this.#samples.shift();
  }

  rate(now: number): number {
    if (this.#samples.length === 0) return 0;
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    const elapsed = (now - first.t) / 1000;
    if (elapsed <= 0) return 0;
    return (last.n - first.n) / elapsed;
  }
}

/** ETA in seconds: remaining / rate, once 1% is copied and the rate is non-zero; 0 when done; never negative. */
export function etaSeconds(copied: number, estimated: number, rate: number, done: boolean): number | null {
  if (done) return 0;
  if (estimated <= 0 || copied < estimated * 0.01 || rate <= 0) return null;
  return Math.max(0, (estimated - copied) / rate);
}

export class TableProgress {
  readonly name: string;
  readonly kind: 'table' | 'view';
  state: TableState = 'waiting';
  rowsEstimated: number;
  rowsCopied = 0;
  rowsSkipped = 0;
  chunksTotal = 0;
  chunksDone = 0;
  note: string | null = null;
  /** Set once a diff of the table starts. */
  diff: TableDiffStatus | null = null;
  readonly #rate = new RateMeter();

  constructor(name: string, kind: 'table' | 'view', rowsEstimated: number, now: number) {
    this.name = name;
    this.kind = kind;
    this.rowsEstimated = rowsEstimated;
    this.#rate.record(now, 0);
  }

  addRows(rows: number, now: number): void {
    this.rowsCopied += rows;
    // An estimate is a guess; once passed, the copied count is the better one.
    if (this.rowsCopied > this.rowsEstimated) this.rowsEstimated = this.rowsCopied;
    this.#rate.record(now, this.rowsCopied);
  }

  snapshot(now: number): TableStatus {
    const done = this.state === 'done';
    // Once a table is done its row count is known exactly; the estimate has served its purpose.
    if (done && this.kind === 'table') this.rowsEstimated = this.rowsCopied;
    // Record "no rows since" so a stalled table's rate decays instead of freezing at its last value.
    this.#rate.record(now, this.rowsCopied);
    const rowsPerSecond = done ? 0 : this.#rate.rate(now);
    return {
      name: this.name,
      kind: this.kind,
      state: this.state,
      rowsEstimated: this.rowsEstimated,
      rowsCopied: this.rowsCopied,
      chunksTotal: this.chunksTotal,
      chunksDone: this.chunksDone,
      rowsPerSecond: Math.round(rowsPerSecond),
      etaSeconds: round1(etaSeconds(this.rowsCopied, this.rowsEstimated, rowsPerSecond, done)),
      ...(this.note !== null ? { note: this.note } : {}),
      ...(this.diff !== null ? { diff: structuredClone(this.diff) } : {}),
    };
  }
}

function round1(v: number | null): number | null {
  return v === null ? null : Math.round(v * 10) / 10;
}

/**
 * The job's figures: the tables' sums, and the rate `overallRate` when given (the job's own meter: a finished
 * table's rate is 0, so the tables' rates add up to less than the job's own while others still copy).
 */
export function totalsOf(tables: TableStatus[], allDone: boolean, overallRate?: number): Totals {
  let rowsEstimated = 0;
  let rowsCopied = 0;
  let rowsPerSecond = 0;
  for (const t of tables) {
    rowsEstimated += t.rowsEstimated;
    rowsCopied += t.rowsCopied;
    rowsPerSecond += t.rowsPerSecond;
  }
  if (overallRate !== undefined) rowsPerSecond = allDone ? 0 : Math.round(overallRate);
  return { rowsEstimated, rowsCopied, rowsPerSecond, etaSeconds: round1(etaSeconds(rowsCopied, rowsEstimated, rowsPerSecond, allDone)) };
}
