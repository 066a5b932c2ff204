// Whether streams are done and exact after a split 1→N under a write load (test/helpers/write-load.ts): a stream
// position reaching the source's, and every destination table equal to the source rows of its key range, byte for
// byte.

import assert from 'node:assert/strict';
import path from 'node:path';
import pino from 'pino';
import { contains, parseShardName } from '../../src/keyrange/keyrange.ts';
import { uint64KeyspaceId } from '../../src/keyrange/keyspace-id.ts';
import { compareGtidLists, parseGtidList, parsePosition } from '../../src/mysql/gtid.ts';
import type { Endpoint } from '../../src/sandbox/index.ts';
import { openSourceBinlog } from '../../src/stream/binlog-reader.ts';
import { StreamManager } from '../../src/stream/manager.ts';
import { openTopology, type TopologyServer } from '../../src/topology/server.ts';
import { sql } from './cluster.ts';
import { until } from './faults.ts';
import { readRows } from './rows.ts';

/** Where the sharding column sits in each WriteLoad table's row text (readRows joins the values with |). */
const KSID_COLUMN: Record<string, number> = { types: 1, pairs: 2 };

export async function sourcePosition(primary: Endpoint): Promise<string> {
  return `MariaDB/${String((await sql(primary, 'SELECT @@gtid_binlog_pos AS p'))[0].p)}`;
}

/** Has `position` (a stream's) reached `target` (the source's)? */
export function reached(position: string | null | undefined, target: string): boolean {
  if (!position) return false;
  return compareGtidLists(parseGtidList(parsePosition(position).value), parseGtidList(parsePosition(target).value)).kind !== 'behind';
}

/**
 * The streams of a daemon, as `serve` runs them, for a test: on `topoFile`'s topology (or `topo`, shared with a job
 * controller), logging to `log` beside the topology file. Not opened yet.
 */
export async function testStreams(topoFile: string, opts: { topo?: TopologyServer; log?: string; retryDuration?: number } = {}): Promise<StreamManager> {
  return new StreamManager({
    topo: opts.topo ?? (await openTopology(`file:${topoFile}`)),
    credentials: {},
    openBinlog: openSourceBinlog,
    retryDuration: opts.retryDuration ?? 60_000,
    refreshMs: 0,
    log: pino({ level: 'info' }, pino.destination({ dest: path.join(path.dirname(topoFile), opts.log ?? 'streams.log'), sync: true })),
  });
}

/** Waits until `count` streams (all of them when not given) stand at `target`; fails at once if one is in error. */
export async function untilStreamsAt(m: StreamManager, target: string, timeoutMs = 120_000, count?: number): Promise<void> {
  await until(
    `streams at ${target}: ${JSON.stringify(m.snapshot().map((s) => [s.state, s.position, s.lastError]))}`,
    () => {
      const snaps = m.snapshot();
      if (snaps.some((s) => s.state === 'error')) throw new Error(`stream in error: ${snaps.map((s) => s.lastError).join('; ')}`);
      return (count === undefined || snaps.length === count) && snaps.every((s) => reached(s.position, target));
    },
    timeoutMs,
  );
}

/** Every destination (shards[i] on dests[i]) holds exactly the source rows of its key range, byte for byte. */
export async function assertSplitExact(source: Endpoint, dests: readonly Endpoint[], shards: readonly string[], db: string): Promise<void> {
  for (const table of Object.keys(KSID_COLUMN)) {
    const want = await readRows(source, db, table);
    assert.ok(want.size > 0, `${table} has rows`);
    let total = 0;
    for (const [i, shard] of shards.entries()) {
      const range = parseShardName(shard);
      const expected = new Map([...want].filter(([, v]) => contains(range, uint64KeyspaceId(BigInt(v.split('|')[KSID_COLUMN[table]])))));
      const got = await readRows(dests[i], db, table);
      total += got.size;
      const missing = [...expected.keys()].filter((k) => !got.has(k)).slice(0, 5);
      const extra = [...got.keys()].filter((k) => !expected.has(k)).slice(0, 5);
      const differ = [...expected.keys()].filter((k) => got.has(k) && got.get(k) !== expected.get(k)).slice(0, 3);
      assert.deepEqual(
        { missing, extra, differ: differ.map((k) => [k, expected.get(k), got.get(k)]) },
        { missing: [], extra: [], differ: [] },
        `${table} on ${shard}`,
      );
    }
    assert.equal(total, want.size, `${table}: every source row on exactly one destination`);
  }
}
