// Whether streams are done and exact after a split 1→N under a write load (test/helpers/write-load.ts): a stream
// position reaching the source's, and every destination table equal to the source rows of its key range, byte for
// byte.

import assert from 'node:assert/strict';
import { contains, parseShardName } from '../../src/keyrange/keyrange.ts';
import { uint64KeyspaceId } from '../../src/keyrange/keyspace-id.ts';
import { compareGtidLists, parseGtidList, parsePosition } from '../../src/mysql/gtid.ts';
import type { Endpoint } from '../../src/sandbox/index.ts';
import { sql } from './cluster.ts';
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
