// Checks a contender's result before its time counts: every destination holds exactly its shard's rows
// (count and checksum per table) and the same indexes as the source.

import { withConnection, type Endpoint } from '../src/sandbox/index.ts';
import type { BenchCluster } from './cluster.ts';
import { checksum, type Dataset, type Expected } from './dataset.ts';

async function indexNames(at: Endpoint, db: string, table: string): Promise<string> {
  return withConnection(at, async (conn) => {
    const [rows] = await conn.query('SELECT DISTINCT INDEX_NAME AS i FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME', [db, table]);
    return (rows as { i: string }[]).map((r) => r.i).join(',');
  });
}

/** Throws naming the first destination table that differs. */
export async function verifyDestinations(c: BenchCluster, d: Dataset, expected: Expected): Promise<void> {
  for (const t of d.tables) {
    const want = await indexNames(c.rdonly, d.db, t.name);
    await Promise.all(c.dests.map(async (dest) => {
      const got = await withConnection(dest.endpoint, (conn) => checksum(conn, d.db, t));
      const exp = expected[dest.shard][t.name];
      if (got.rows !== exp.rows || got.sum !== exp.sum) {
        throw new Error(`shard ${dest.shard} ${d.db}.${t.name}: ${got.rows} rows (checksum ${got.sum}), expected ${exp.rows} (checksum ${exp.sum})`);
      }
      const have = await indexNames(dest.endpoint, d.db, t.name);
      if (have !== want) throw new Error(`shard ${dest.shard} ${d.db}.${t.name}: indexes ${have}, source has ${want}`);
    }));
  }
}

/** Empties the destinations (the bench database and the worker's _vt) before a contender runs. */
export async function resetDestinations(c: BenchCluster, db: string): Promise<void> {
  await Promise.all(c.dests.map((dest) => withConnection(dest.endpoint, async (conn) => {
    await conn.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await conn.query('DROP DATABASE IF EXISTS `_vt`');
  })));
}
