// What a cutover needs from the daemon's streams (the StreamManager under `serve` provides it): see them, stop a
// destination's streams where they stand and start them again, and bring the streams in line with the topology.

import type { StreamSnapshot } from '../stream/status.ts';

export interface StreamControl {
  snapshot(): StreamSnapshot[];
  /** Stops the destination shard's streams, leaving their checkpoint rows (and flags) as they are. */
  pause(keyspace: string, shard: string): Promise<void>;
  /** Starts them again from their rows (the undo of pause). */
  resume(keyspace: string, shard: string): Promise<void>;
  /** Starts streams new in the topology and stops those gone from it. */
  refresh(): Promise<void>;
}
