// The running job's status: one owner for state, timings, targets, per-table progress and log lines.
// Everything else reads it through snapshot(), taken at one instant.

import type { CopyProgress } from '../clone/copier.ts';
import { LogRing } from './log.ts';
import { TableProgress, totalsOf } from './progress.ts';
import { ENDED_STATES, type JobRequest, type StatusSnapshot, type TableState, type WorkerState } from './status.ts';

/**
 * not started → initializing → finding target instances → copying the data → cleaning up → done | error | canceled.
 * Any running phase may fail or be canceled, and then goes straight to cleaning up: cleanup always runs.
 */
const TRANSITIONS: Record<WorkerState, readonly WorkerState[]> = {
  'not started': ['initializing'],
  initializing: ['finding target instances', 'cleaning up'],
  'finding target instances': ['copying the data', 'cleaning up'],
  'copying the data': ['cleaning up'],
  'cleaning up': ['done', 'error', 'canceled'],
  done: [],
  error: [],
  canceled: [],
};

export class JobStatus {
  readonly id: string;
  readonly request: JobRequest;
  readonly ring = new LogRing();
  #state: WorkerState = 'not started';
  #startedAt: Date | null = null;
  #endedAt: Date | null = null;
  #error: string | null = null;
  sources: string[] = [];
  destinations: string[] = [];
  /** In the order tables were first reported. */
  readonly #tables = new Map<string, TableProgress>();
  readonly #now: () => number;

  constructor(id: string, request: JobRequest, now: () => number = Date.now) {
    this.id = id;
    this.request = request;
    this.#now = now;
  }

  get state(): WorkerState {
    return this.#state;
  }

  get ended(): boolean {
    return ENDED_STATES.has(this.#state);
  }

  setState(next: WorkerState): void {
    if (!TRANSITIONS[this.#state].includes(next)) throw new Error(`worker cannot go from ${this.#state} to ${next}`);
    this.#state = next;
    const now = new Date(this.#now());
    if (next === 'initializing') this.#startedAt = now;
    if (ENDED_STATES.has(next)) this.#endedAt = now;
  }

  /** Keeps the first error: later ones are usually its consequences. */
  setError(message: string): void {
    this.#error ??= message;
  }

  get error(): string | null {
    return this.#error;
  }

  addTable(name: string, kind: 'table' | 'view', rowsEstimated: number): void {
    const existing = this.#tables.get(name);
    if (existing) existing.rowsEstimated += rowsEstimated;
    else this.#tables.set(name, new TableProgress(name, kind, rowsEstimated, this.#now()));
  }

  table(name: string): TableProgress {
    const t = this.#tables.get(name);
    if (!t) throw new Error(`no progress for table ${name}`);
    return t;
  }

  setTableState(name: string, state: TableState): void {
    this.table(name).state = state;
  }

  tableNames(): string[] {
    return [...this.#tables.keys()];
  }

  /** The copy pipeline's view of this status. */
  copyProgress(): CopyProgress {
    return {
      chunksPlanned: (table, count) => {
        const t = this.table(table);
        t.chunksTotal += count;
        // Another source's chunks of a table that looked finished (a merge reads each source in turn).
        if (t.state === 'done' && count > 0) t.state = 'copying';
      },
      tableStarted: (table) => {
        const t = this.table(table);
        if (t.state === 'waiting') t.state = 'copying';
      },
      rowsWritten: (table, rows) => this.table(table).addRows(rows, this.#now()),
      rowsSkipped: (table, rows) => {
        this.table(table).rowsSkipped += rows;
      },
      chunkDone: (table) => {
        const t = this.table(table);
        t.chunksDone++;
        if (t.chunksDone === t.chunksTotal && t.state === 'copying') t.state = 'done';
      },
    };
  }

  snapshot(): StatusSnapshot {
    const now = this.#now();
    const tables = [...this.#tables.values()].map((t) => t.snapshot(now));
    return {
      state: this.#state,
      job: this.request,
      startedAt: this.#startedAt?.toISOString() ?? null,
      endedAt: this.#endedAt?.toISOString() ?? null,
      error: this.#error,
      sources: [...this.sources],
      destinations: [...this.destinations],
      tables,
      totals: totalsOf(tables, this.#state === 'done'),
      log: this.ring.lines(),
    };
  }
}
