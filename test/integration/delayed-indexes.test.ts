// Delayed secondary indexes: each table's ALTER runs once that table is copied (not after every table), and a
// resumed job does not run an ALTER its predecessor already ran.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createTables } from '../../src/clone/schema-copy.ts';
import { parseStrategy } from '../../src/clone/strategy-flags.ts';
import type { TabletRef } from '../../src/mysql/connection.ts';
import { withTablet } from '../../src/mysql/tablet-client.ts';
import { readSchema } from '../../src/mysql/schema.ts';
import { onSource, resetDestinations, rowsOnDestinations, runJob, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';

const db = 't_delayed';

function tabletRef(alias: string, port: number, dbName: string, withDatabase = true): TabletRef {
  return { alias, tablet: { keyspace: 'ks', shard: '0', type: 'rdonly', host: '127.0.0.1', port, dbName: withDatabase ? dbName : '', user: 'root' } };
}

describe('delayed secondary indexes', () => {
  let c: TestCluster;
  before(async () => {
    c = await testCluster();
    // One reader copies the larger table first: `big` (12 chunks), then `small` (6 chunks), during which `big`'s
    // last batches land and its ALTER starts.
    await onSource(
      c,
      `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db};
      CREATE TABLE big (id BIGINT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, email VARCHAR(40) NOT NULL, KEY email (email), UNIQUE KEY ks_id (keyspace_id, id));
      INSERT INTO big SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), CONCAT('u', seq, '@x') FROM seq_1_to_6000;
      CREATE TABLE small (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, v INT NOT NULL, KEY v (v));
      INSERT INTO small SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), seq % 7 FROM seq_1_to_3000;`,
    );
  });

  test('each table gets its indexes once it is copied, while the others are still copying', async () => {
    await resetDestinations(c, db);
    const topo = writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: db }],
      destinations: [
        { shard: '-80', instance: 0, dbName: db },
        { shard: '80-', instance: 1, dbName: db },
      ],
    });
    const final = await runJob(topo, {
      command: 'SplitClone',
      keyspace: 'ks',
      shard: '0',
      // One reader: the tables are read one after the other, the larger first; one connection per destination, so
      // they also land in that order (each table has a lane of its own: on two connections, small's few batches
      // could land before big's backlog).
      options: { strategy: '-delay_secondary_indexes', sourceReaderCount: 1, destinationWriterCount: 1, minTableSizeForSplit: 0, minRowsPerChunk: 500 },
    });
    assert.equal(final.state, 'done', final.error ?? '');
    // The split itself is checked byte for byte elsewhere; here, that every row arrived once.
    assert.equal(await rowsOnDestinations(c, db, 'big'), 6000);
    assert.equal(await rowsOnDestinations(c, db, 'small'), 3000);
    for (const d of c.dests.slice(0, 2)) {
      const keys = await sql(d, `SELECT DISTINCT TABLE_NAME AS t, INDEX_NAME AS i FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? ORDER BY 1, 2`, [
        db,
      ]);
      assert.deepEqual(
        keys.map((k) => `${k.t}.${k.i}`),
        ['big.email', 'big.ks_id', 'big.PRIMARY', 'small.PRIMARY', 'small.v'],
      );
    }
    // The job's own log: big's indexes were started before small (copied after it) was copied.
    const at = (re: RegExp) => final.log.findIndex((l) => re.test(l));
    const bigCopied = at(/table copied table=big$/);
    const bigIndexing = at(/adding delayed indexes table=big$/);
    const smallCopied = at(/table copied table=small$/);
    const smallIndexed = at(/delayed indexes added table=small$/);
    assert.ok(
      [bigCopied, bigIndexing, smallCopied, smallIndexed].every((i) => i >= 0),
      final.log.join('\n'),
    );
    assert.ok(bigCopied < bigIndexing && bigIndexing < smallCopied && smallCopied < smallIndexed, final.log.join('\n'));
    assert.ok(final.tables.every((t) => t.state === 'done'));
  });

  test('resuming: a table whose indexes are already there gets no second ALTER; one without them gets its ALTER', async () => {
    await resetDestinations(c, db);
    const sourceRef = tabletRef('rdonly', c.rdonly.port, db);
    const destRef = tabletRef('dest-0', c.dests[0].port, db, false);
    await withTablet(sourceRef, {}, undefined, async (source) =>
      withTablet(
        destRef,
        {},
        undefined,
        async (destClient) => {
          const dest = { client: destClient, dbName: db };
          const schema = await readSchema(source, db);
          const tables = schema.tables.filter((t) => t.kind === 'table');
          const flags = parseStrategy('-delay_secondary_indexes');
          // The interrupted job made both tables without their indexes, then indexed `small` (copied first).
          const fresh = await createTables(dest, tables, flags);
          assert.deepEqual([...fresh.keys()].sort(), ['big', 'small']);
          await sql(c.dests[0], fresh.get('small')!);
          const resumed = await createTables(dest, tables, flags, true);
          assert.deepEqual([...resumed.keys()], ['big']);
        },
        false,
      ),
    );
  });
});
