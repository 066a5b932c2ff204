// What a stream shows (DESIGN.md "Filtered replication", Watching): one snapshot per stream, for /status,
// /api/status (`"streams": [...]`), the metrics and `shardworker stream status`.

// `elsewhere`: another daemon holds the stream's lock and runs it (DESIGN.md "Many daemons"); this one only shows it.
export const STREAM_STATES = ['running', 'stopped', 'error', 'elsewhere'] as const;
export type StreamState = (typeof STREAM_STATES)[number];

export interface StreamSnapshot {
  /** The destination shard (what `stream start|stop` names). */
  keyspace: string;
  shard: string;
  /** The source shard, `keyspace/shard`, and its uid in the checkpoint table. */
  source: string;
  sourceUid: number;
  /** Tablet aliases in use (null before the first connection). */
  sourceTablet: string | null;
  destinationTablet: string | null;
  state: StreamState;
  /** The position committed on the destination with the rows. */
  position: string | null;
  /** Now minus the source commit time of the last applied transaction; 0 when caught up. Null before it knows. */
  secondsBehind: number | null;
  transactionsApplied: number;
  rowsApplied: number;
  /** Rows applied per second over the last 30 s. */
  rowsPerSecond: number;
  retries: number;
  /** Times the stream stopped in error since the daemon started. */
  errors: number;
  lastError: string | null;
  /** The job holding the stream stopped (a diff: `SplitDiff <job id>`), absent when none. */
  heldBy?: string;
  /** The daemon holding the stream's lock (it runs the stream); null while nobody does. */
  owner: StreamOwner | null;
}

/** Who runs a stream: the holder of its lock. */
export interface StreamOwner {
  host: string;
  pid: number;
  /** When it took the stream (ISO time). */
  since: string;
  /** Whether that is this daemon. */
  here: boolean;
}
