// The one status snapshot: taken at an instant, rendered as HTML (/status) and JSON (/api/status) alike.

export const WORKER_STATES = {
  notStarted: 'not started',
  initializing: 'initializing',
  findingTargets: 'finding target instances',
  copying: 'copying the data',
  cleaningUp: 'cleaning up',
  done: 'done',
  error: 'error',
  canceled: 'canceled',
} as const;
export type WorkerState = (typeof WORKER_STATES)[keyof typeof WORKER_STATES];

export const ENDED_STATES: ReadonlySet<WorkerState> = new Set(['done', 'error', 'canceled']);

export const COMMANDS = ['SplitClone', 'VerticalSplitClone', 'SplitDiff', 'VerticalSplitDiff'] as const;
export type CommandName = (typeof COMMANDS)[number];

export const TABLE_STATES = ['waiting', 'creating', 'copying', 'altering', 'done', 'error'] as const;
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
}

export interface Totals {
  rowsEstimated: number;
  rowsCopied: number;
  rowsPerSecond: number;
  etaSeconds: number | null;
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
}
