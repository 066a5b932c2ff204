// Streams for the HTTP tests: snapshots as the stream manager gives them, and a StreamControl that records calls.

import type { StreamControl } from '../../src/http/streams.ts';
import type { StreamSnapshot } from '../../src/stream/status.ts';

export function streamSnapshot(over: Partial<StreamSnapshot> = {}): StreamSnapshot {
  return {
    keyspace: 'commerce',
    shard: '-80',
    source: 'commerce/0',
    sourceUid: 0,
    sourceTablet: 'zone1-100',
    destinationTablet: 'zone1-200',
    state: 'running',
    position: 'MariaDB/0-100-57',
    secondsBehind: 3,
    transactionsApplied: 1234,
    rowsApplied: 5678,
    rowsPerSecond: 210,
    retries: 1,
    errors: 0,
    lastError: null,
    owner: { host: 'db-worker-1', pid: 4242, since: '2026-01-02T03:04:05.000Z', here: true },
    ...over,
  };
}

/** A StreamControl the tests drive: records calls, refuses an unknown destination as the manager does. */
export class FakeStreams implements StreamControl {
  streams: StreamSnapshot[] = [
    streamSnapshot(),
    streamSnapshot({
      shard: '80-',
      destinationTablet: 'zone1-300',
      state: 'error',
      secondsBehind: 40,
      lastError: 'the destination diverged: insert of t (id=5) <b>',
    }),
  ];
  calls: string[] = [];
  snapshot(): StreamSnapshot[] {
    return structuredClone(this.streams);
  }
  async #act(action: 'stop' | 'start', keyspace: string, shard: string): Promise<StreamSnapshot[]> {
    this.calls.push(`${action} ${keyspace}/${shard}`);
    const found = this.streams.filter((s) => s.keyspace === keyspace && s.shard === shard);
    if (found.length === 0)
      throw Object.assign(new Error(`no stream feeds ${keyspace}/${shard}: its shard lists no sourceShards in the topology`), { name: 'UnknownStreamError' });
    for (const s of found) s.state = action === 'stop' ? 'stopped' : 'running';
    return structuredClone(found);
  }
  stop(keyspace: string, shard: string) {
    return this.#act('stop', keyspace, shard);
  }
  start(keyspace: string, shard: string) {
    return this.#act('start', keyspace, shard);
  }
}
