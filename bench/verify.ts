// Checks a contender's result before its time counts: every destination holds exactly its shard's rows
// (count and checksum per table) and the same indexes as the source.

import { withConnection, type Endpoint } from '../src/sandbox/index.ts';
import type { BenchCluster } from './cluster.ts';
import { checksum, type Dataset, type Expected } from './dataset.ts';

/** Table → its index names (sorted, comma-separated), for every table of `db`: one query, however many tables. */
async function indexNames(at: Endpoint, db: string): Promise<Map<string, string>> {
  return withConnection(at, async (conn) => {
    const [rows] = await conn.query(
      'SELECT TABLE_NAME AS t, GROUP_CONCAT(DISTINCT INDEX_NAME ORDER BY INDEX_NAME) AS i FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? GROUP BY TABLE_NAME',
      [db],
    );
    return new Map((rows as { t: string; i: string }[]).map((r) => [r.t, r.i]));
  });
}

/** Throws naming the first destination table that differs. */
export async function verifyDestinations(c: BenchCluster, d: Dataset, expected: Expected): Promise<void> {
  const want = await indexNames(c.rdonly, d.db);
  await Promise.all(
    c.dests.map(async (dest) => {
      const have = await indexNames(dest.endpoint, d.db);
      // One connection a destination for every table (the small-tables shape has thousands).
      await withConnection(dest.endpoint, async (conn) => {
        for (const t of d.tables) {
          const got = await checksum(conn, d.db, t);
          const exp = expected[dest.shard][t.name];
          if (got.rows !== exp.rows || got.sum !== exp.sum) {
            throw new Error(`shard ${dest.shard} ${d.db}.${t.name}: ${got.rows} rows (checksum ${got.sum}), expected ${exp.rows} (checksum ${exp.sum})`);
          }
          if (have.get(t.name) !== want.get(t.name))
            throw new Error(`shard ${dest.shard} ${d.db}.${t.name}: indexes ${have.get(t.name)}, source has ${want.get(t.name)}`);
        }
      });
    }),
  );
}

/** Empties the destinations (the bench database and the worker's _vt) before a contender runs. */
export async function resetDestinations(c: BenchCluster, db: string): Promise<void> {
  await Promise.all(
    c.dests.map((dest) =>
      withConnection(dest.endpoint, async (conn) => {
        await conn.query(`DROP DATABASE IF EXISTS \`${db}\``);
        await conn.query('DROP DATABASE IF EXISTS `_vt`');
      }),
    ),
  );
}
