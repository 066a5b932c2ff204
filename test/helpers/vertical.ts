// Topologies with a vertical split: keyspace `src` (one serving shard `0` on the sandbox's source primary and
// rdonly, optionally split horizontally too) and keyspace `dst` servedFrom it, its shard `0` on a destination.

import type { Tablet, Topology } from '../../src/topology/types.ts';
import { sql, tempFile, type TestCluster } from './cluster.ts';

export interface VerticalLayout {
  /** Database of keyspace `src` (and of its horizontal destinations, if any). */
  sourceDb: string;
  /** Database of keyspace `dst`, on dests[destInstance]. */
  destDb: string;
  destInstance: number;
  /** Destination shards of a horizontal split of `src`, each on dests[instance]. */
  splitInto?: { shard: string; instance: number }[];
}

export function verticalTopology(c: TestCluster, layout: VerticalLayout): Topology {
  const base = { host: '127.0.0.1', user: 'root' };
  const tablets: Record<string, Tablet> = {
    'zone1-100': { ...base, keyspace: 'src', shard: '0', type: 'primary', port: c.primary.port, dbName: layout.sourceDb },
    'zone1-101': { ...base, keyspace: 'src', shard: '0', type: 'rdonly', port: c.rdonly.port, dbName: layout.sourceDb },
    'zone1-900': { ...base, keyspace: 'dst', shard: '0', type: 'primary', port: c.dests[layout.destInstance].port, dbName: layout.destDb },
  };
  const srcShards: Topology['keyspaces'][string]['shards'] = { '0': { servedTypes: ['primary', 'replica', 'rdonly'], sourceShards: [] } };
  for (const [i, d] of (layout.splitInto ?? []).entries()) {
    srcShards[d.shard] = { servedTypes: [], sourceShards: [] };
    tablets[`zone1-${200 + 100 * i}`] = { ...base, keyspace: 'src', shard: d.shard, type: 'primary', port: c.dests[d.instance].port, dbName: layout.sourceDb };
  }
  return {
    keyspaces: {
      src: { shardingColumnName: 'keyspace_id', shardingColumnType: 'uint64', shards: srcShards },
      dst: { servedFrom: { keyspace: 'src' }, shards: { '0': { servedTypes: [], sourceShards: [] } } },
    },
    tablets,
  };
}

export function writeVerticalTopology(c: TestCluster, layout: VerticalLayout): string {
  return tempFile('topology.json', JSON.stringify(verticalTopology(c, layout), null, 2));
}

/** Every row of a table as hex, sorted: for tables without a primary key, whose rows may repeat. */
export async function sortedRowsHex(at: { port: number }, db: string, table: string): Promise<string[]> {
  const cols = await sql(at, 'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', [
    db,
    table,
  ]);
  const all = cols.map((r) => `IFNULL(HEX(\`${String(r.c)}\`), 'NULL')`).join(',');
  const rows = await sql(at, `SELECT CONCAT_WS('|', ${all}) AS r FROM \`${db}\`.\`${table}\` ORDER BY r`);
  return rows.map((r) => String(r.r));
}
