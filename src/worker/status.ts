// The one status snapshot: taken at an instant, rendered as HTML (/status) and JSON (/api/status) alike.

import type { LockOwner } from '../topology/coordination.ts';
import type { ControlStatus } from './live-control.ts';

export const WORKER_STATES = {
  notStarted: 'not started',
  initializing: 'initializing',
  findingTargets: 'finding target instances',
  copying: 'copying the data',
  /** A diff job's work, and a clone's with --verify once its copy is done. */
  diffing: 'diffing the data',
  /** MigrateServedTypes's work. */
  migrating: 'migrating served types',
  cleaningUp: 'cleaning up',
  done: 'done',
  error: 'error',
  canceled: 'canceled',
} as const;
export type WorkerState = (typeof WORKER_STATES)[keyof typeof WORKER_STATES];

export const ENDED_STATES: ReadonlySet<WorkerState> = new Set(['done', 'error', 'canceled']);

export const COMMANDS = ['SplitClone', 'VerticalSplitClone', 'SplitDiff', 'VerticalSplitDiff', 'MigrateServedTypes'] as const;
export type CommandName = (typeof COMMANDS)[number];

export const TABLE_STATES = ['waiting', 'creating', 'copying', 'altering', 'diffing', 'done', 'error'] as const;
export type TableState = (typeof TABLE_STATES)[number];

export interface JobRequest {
  command: CommandName;
  keyspace: string;
  shard: string;
  /** Command options in camelCase, as given (unset ones take their defaults). */
  options: Record<string, unknown>;
}

export interface TableStatus {
  name: string;
  kind: 'table' | 'view';
  state: TableState;
  rowsEstimated: number;
  rowsCopied: number;
  chunksTotal: number;
  chunksDone: number;
  rowsPerSecond: number;
  /** null until 1% is copied and the rate is non-zero; 0 when done. */
  etaSeconds: number | null;
  /** Something about how the table is handled, for people (a table without a primary key, for one). */
  note?: string;
  /** What a diff (SplitDiff, VerticalSplitDiff, or a clone's --verify) found in the table, once it started. */
  diff?: TableDiffStatus;
}

export interface DiffExampleStatus {
  /** The row's key: `id=5`, `a=1, b="x"`; every column for a table without a primary key. */
  key: string;
  /** For a mismatch: the columns that differ. */
  columns?: string[];
  /** The destination tablet, when the diff covers several (a clone's --verify). */
  destination?: string;
}

export interface TableDiffStatus {
  /** Rows are matched by primary key, or by the whole row for a table without one. */
  comparedBy: 'primary key' | 'full row';
  processed: number;
  matching: number;
  mismatched: number;
  /** On the source (its share for the destination), missing from the destination. */
  extraOnSource: number;
  /** On the destination, not on the source (or not the destination's share). */
  extraOnDestination: number;
  /** The first 10 of each kind. */
  examples: { mismatched: DiffExampleStatus[]; extraOnSource: DiffExampleStatus[]; extraOnDestination: DiffExampleStatus[] };
  /** Whether every chunk of the table has been diffed (the counts are final). */
  finished: boolean;
  /** One line: `N rows checked, no differences`, or the counts with the first keys of each kind. */
  summary: string;
}

export interface Totals {
  rowsEstimated: number;
  rowsCopied: number;
  rowsPerSecond: number;
  etaSeconds: number | null;
}

/** Transient failures retried (connection lost, failover, deadlock …): in all, and per tablet alias. */
export interface RetryCounts {
  total: number;
  byTablet: Record<string, number>;
}

/** The shard locks a job holds (DESIGN.md "Many daemons"), and the daemon that holds them. */
export interface JobLocks {
  names: string[];
  holder: LockOwner;
}

export interface StatusSnapshot {
  state: WorkerState;
  job: JobRequest | null;
  startedAt: string | null;
  endedAt: string | null;
  error: string | null;
  sources: string[];
  destinations: string[];
  tables: TableStatus[];
  totals: Totals;
  log: string[];
  /** Absent before a job has started. */
  retries?: RetryCounts;
  /** Absent before a job has started. */
  locks?: JobLocks;
  /** A MigrateServedTypes job's steps, write pause and positions. */
  cutover?: CutoverStatus;
  /**
   * What holds the job's writes up now, one line each (src/clone/lock-watch.ts): a statement waiting 2 s or more on
   * a lock on a destination, a redo log over 80% full. Absent or empty when nothing does.
   */
  waits?: string[];
  /** A copy's or diff's pause, throttle, --max-tps and destination replicas' lag (absent for a cutover). */
  control?: ControlStatus;
  /** A clone with --snapshot consistent, once its snapshot is open: how old it is (it holds back the source's purge). */
  snapshot?: SnapshotStatus;
}

/** The consistent snapshots a clone reads from (one per source tablet), held open until the job's cleanup. */
export interface SnapshotStatus {
  /** When the first was opened. */
  openedAt: string;
  /** When they were let go (cleanup); null while held. */
  closedAt: string | null;
  /** From openedAt to now, or to closedAt. */
  ageSeconds: number;
  /** The first source tablet's snapshot position (where its streams start). */
  position: string;
  tablets: { tablet: string; position: string; openedAt: string; commitsHeldMs: number }[];
}

export const CUTOVER_STEP_STATES = ['waiting', 'running', 'done', 'failed', 'undone', 'skipped'] as const;
export type CutoverStepState = (typeof CUTOVER_STEP_STATES)[number];

export interface CutoverStep {
  name: string;
  state: CutoverStepState;
  /** What it did or found (positions, the stream that was behind, the error). */
  detail: string | null;
  /** How long it took, once it ended. */
  ms: number | null;
}

export interface CutoverStatus {
  servedType: 'rdonly' | 'replica' | 'primary';
  reverse: boolean;
  /** Shards serving moves from, and to (`keyspace/shard`). */
  from: string[];
  to: string[];
  /** A vertical split's moved tables (the only ones whose writes stop); empty for a horizontal split (every table). */
  tables: string[];
  steps: CutoverStep[];
  /** From writes stopped (step 1) to writes allowed (step 5); null until both happened. */
  writePauseMs: number | null;
  /** Binlog positions by primary tablet alias: `from` where its writes stopped, `to` where the reverse streams start. */
  positions: { from: Record<string, string>; to: Record<string, string> };
}

/** The status of a process with no job. */
export function idleSnapshot(): StatusSnapshot {
  return {
    state: 'not started',
    job: null,
    startedAt: null,
    endedAt: null,
    error: null,
    sources: [],
    destinations: [],
    tables: [],
    totals: { rowsEstimated: 0, rowsCopied: 0, rowsPerSecond: 0, etaSeconds: null },
    log: [],
  };
}
