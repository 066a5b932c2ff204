// What a job needs from the daemon's streams (the StreamManager under `serve` provides it). A cutover sees them,
// stops a destination's streams where they stand and starts them again, and brings the streams in line with the
// topology; a diff holds them, runs them to the source tablet's position and releases them.

import type { StreamSnapshot } from '../stream/status.ts';

export interface StreamControl {
  snapshot(): StreamSnapshot[];
  /** Stops the destination shard's streams, leaving their checkpoint rows (and flags) as they are. */
  pause(keyspace: string, shard: string): Promise<void>;
  /** Starts them again from their rows (the undo of pause). */
  resume(keyspace: string, shard: string): Promise<void>;
  /** Starts streams new in the topology and stops those gone from it. */
  refresh(): Promise<void>;
  /**
   * Stops the destination shard's streams and keeps them stopped for `by` until release; refused (nothing changed)
   * when one runs in another daemon or stands in error. Returns them as they stopped.
   */
  hold(keyspace: string, shard: string, by: string): Promise<StreamSnapshot[]>;
  /** Runs a held stream until it stands exactly at `position`, then stops it there. */
  runUntil(keyspace: string, shard: string, sourceUid: number, position: string, opts: { signal: AbortSignal; timeoutMs: number }): Promise<void>;
  /** Ends the hold: the streams that ran before it start again. */
  release(keyspace: string, shard: string): Promise<void>;
}
