// The running job's status: one owner for state, timings, targets, per-table progress and log lines.
// Everything else reads it through snapshot(), taken at one instant.

import type { CopyProgress } from '../pipeline/contracts.ts';
import type { DiffProgress } from '../diff/table-differ.ts';
import { describeTally, differences, emptyTally, type DiffTally } from '../diff/tally.ts';
import type { LiveControl } from './live-control.ts';
import { LogRing } from './log.ts';
import { RateMeter, TableProgress, totalsOf } from './progress.ts';
import {
  ENDED_STATES,
  type CutoverStatus,
  type JobLocks,
  type JobRequest,
  type RetryCounts,
  type SnapshotStatus,
  type StatusSnapshot,
  type TableDiffStatus,
  type TableState,
  type WorkerState,
} from './status.ts';

/**
 * not started → initializing → finding target instances → copying the data → cleaning up → done | error | canceled.
 * A diff job diffs instead of copying (diffing the data); a clone with --verify diffs after it copied; a
 * MigrateServedTypes job moves serving instead (migrating served types).
 * Any running phase may fail or be canceled, and then goes straight to cleaning up: cleanup always runs.
 */
const TRANSITIONS: Record<WorkerState, readonly WorkerState[]> = {
  'not started': ['initializing'],
  initializing: ['finding target instances', 'cleaning up'],
  'finding target instances': ['copying the data', 'diffing the data', 'migrating served types', 'cleaning up'],
  'copying the data': ['diffing the data', 'cleaning up'],
  'diffing the data': ['cleaning up'],
  'migrating served types': ['cleaning up'],
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
  /** A MigrateServedTypes job's steps (its job updates it in place; snapshots copy it). */
  cutover: CutoverStatus | null = null;
  /** A copy's or diff's live control (pause, throttle, tune); null for a cutover. */
  control: LiveControl | null = null;
  /** In the order tables were first reported. */
  readonly #tables = new Map<string, TableProgress>();
  readonly #now: () => number;
  /** Rows of every table, for the job's own rate (see totalsOf). */
  #rows = 0;
  readonly #rate = new RateMeter();
  readonly #retries: RetryCounts = { total: 0, byTablet: {} };
  #locks: JobLocks | undefined;
  /** The lock watch's current lines (empty when nothing waits). */
  #waits: string[] = [];
  /** --snapshot consistent: each source tablet's snapshot, and when they were let go. */
  readonly #snapshots: { tablet: string; position: string; openedAt: Date; commitsHeldMs: number }[] = [];
  #snapshotsClosedAt: Date | null = null;

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
      rowsWritten: (table, rows) => this.#addRows(table, rows),
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

  /**
   * Adds `topic: what` to the table's note (the copy and the diff each may have something to say); a topic already
   * there gets the new `what` after its own: `no primary key: copied whole, compared as sorted full rows`.
   */
  addTableNote(name: string, topic: string, what: string): void {
    const t = this.table(name);
    if (t.note === null) t.note = `${topic}: ${what}`;
    else if (t.note.startsWith(`${topic}: `)) t.note = `${t.note}, ${what}`;
    else t.note = `${t.note}; ${topic}: ${what}`;
  }

  /** Shows a table's diff as started, with nothing counted yet. */
  beginDiff(name: string, comparedBy: TableDiffStatus['comparedBy']): void {
    this.table(name).diff = diffStatus(emptyTally(), comparedBy, false);
  }

  /**
   * The diff's view of this status. A diff job's progress is its reading (`countRows`); a clone's --verify leaves
   * the copy's figures as they are and shows only the diff's counts.
   */
  diffProgress(countRows: boolean): DiffProgress {
    const diffed = (table: string, tally: DiffTally, finished: boolean) => {
      const t = this.table(table);
      t.diff = diffStatus(tally, t.diff?.comparedBy ?? 'primary key', finished);
      return t;
    };
    return {
      chunksPlanned: (table, count) => {
        if (countRows) this.table(table).chunksTotal += count;
      },
      tableStarted: (table) => {
        const t = this.table(table);
        if (t.diff?.finished) return;
        // A copied table's count is exact now: its bar stays full while it is diffed.
        if (t.state === 'done' && t.kind === 'table') t.rowsEstimated = t.rowsCopied;
        t.state = 'diffing';
      },
      rowsRead: (table, rows) => {
        if (countRows) this.#addRows(table, rows);
      },
      chunkDiffed: (table, tally) => {
        const t = diffed(table, tally, false);
        if (countRows) t.chunksDone++;
      },
      tableDone: (table, tally) => {
        const t = diffed(table, tally, true);
        t.state = differences(tally) ? 'error' : 'done';
      },
    };
  }

  /** Counts one retried failure on a tablet. */
  recordRetry(tablet: string): void {
    this.#retries.total++;
    this.#retries.byTablet[tablet] = (this.#retries.byTablet[tablet] ?? 0) + 1;
  }

  #addRows(table: string, rows: number): void {
    const now = this.#now();
    this.table(table).addRows(rows, now);
    this.#rows += rows;
    this.#rate.record(now, this.#rows);
  }

  /** The shard locks the job holds for its whole life (set once, before it starts). */
  setLocks(locks: JobLocks): void {
    this.#locks = structuredClone(locks);
  }

  /** What holds the writes up now (the lock watch's lines; empty once nothing does). */
  setWaits(lines: string[]): void {
    this.#waits = [...lines];
  }

  /** A consistent snapshot opened on a source tablet. */
  snapshotOpened(tablet: string, position: string, openedAt: Date, commitsHeldMs: number): void {
    this.#snapshots.push({ tablet, position, openedAt, commitsHeldMs });
  }

  /** The snapshots let go (their transactions ended). */
  snapshotsClosed(): void {
    this.#snapshotsClosedAt ??= new Date(this.#now());
  }

  #snapshotStatus(now: number): SnapshotStatus | undefined {
    const first = this.#snapshots[0];
    if (!first) return undefined;
    const openedAt = Math.min(...this.#snapshots.map((s) => s.openedAt.getTime()));
    const until = this.#snapshotsClosedAt?.getTime() ?? now;
    return {
      openedAt: new Date(openedAt).toISOString(),
      closedAt: this.#snapshotsClosedAt?.toISOString() ?? null,
      ageSeconds: Math.max(0, Math.round((until - openedAt) / 100) / 10),
      position: first.position,
      tablets: this.#snapshots.map((s) => ({
        tablet: s.tablet,
        position: s.position,
        openedAt: s.openedAt.toISOString(),
        commitsHeldMs: Math.round(s.commitsHeldMs * 10) / 10,
      })),
    };
  }

  snapshot(): StatusSnapshot {
    const now = this.#now();
    const snapshot = this.#snapshotStatus(now);
    const tables = [...this.#tables.values()].map((t) => t.snapshot(now));
    this.#rate.record(now, this.#rows);
    return {
      state: this.#state,
      job: this.request,
      startedAt: this.#startedAt?.toISOString() ?? null,
      endedAt: this.#endedAt?.toISOString() ?? null,
      error: this.#error,
      sources: [...this.sources],
      destinations: [...this.destinations],
      tables,
      totals: totalsOf(tables, this.#state === 'done', this.#rate.rate(now)),
      log: this.ring.lines(),
      retries: structuredClone(this.#retries),
      ...(this.#locks ? { locks: structuredClone(this.#locks) } : {}),
      ...(this.cutover ? { cutover: structuredClone(this.cutover) } : {}),
      waits: [...this.#waits],
      ...(snapshot ? { snapshot } : {}),
      ...(this.control ? { control: this.control.snapshot() } : {}),
    };
  }
}

function diffStatus(tally: DiffTally, comparedBy: TableDiffStatus['comparedBy'], finished: boolean): TableDiffStatus {
  const { processed, matching, mismatched, extraOnSource, extraOnDestination, examples } = tally;
  return {
    comparedBy,
    processed,
    matching,
    mismatched,
    extraOnSource,
    extraOnDestination,
    examples: structuredClone(examples),
    finished,
    summary: describeTally(tally),
  };
}
