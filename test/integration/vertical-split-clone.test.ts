// VerticalSplitClone and VerticalSplitDiff against real mariadbd instances: tables and a view move into a keyspace
// servedFrom the source, byte for byte; the source keeps its tables; the diff passes, then catches a change.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { replicationStatus } from '../../src/sandbox/index.ts';
import { onSource, readTopologyFile, runJob, sql, testCluster, type TestCluster } from '../helpers/cluster.ts';
import { readRows } from '../helpers/rows.ts';
import { sortedRowsHex, writeVerticalTopology } from '../helpers/vertical.ts';

const SRC = 'v_src';
const DST = 'v_dst';
const MOVED = ['customer', 'corder', 'audit'];

async function seed(c: TestCluster): Promise<void> {
  await onSource(
    c,
    `SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES', time_zone = '+00:00';
    DROP DATABASE IF EXISTS ${SRC}; CREATE DATABASE ${SRC} CHARACTER SET utf8mb4; USE ${SRC};
    CREATE TABLE customer (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(50) CHARACTER SET utf8mb4, balance DECIMAL(12,2),
      created DATETIME(6), photo VARBINARY(64), prefs JSON, flags BIT(8), KEY name (name)) ENGINE=InnoDB;
    INSERT INTO customer SELECT seq * 1000003, IF(seq % 7 = 0, NULL, CONCAT(ELT(1 + seq % 3, 'José ', '用户 ', 'smile 😀 '), seq)),
      (seq * 7907 % 200000) / 100 - 900, TIMESTAMP('2026-03-08 02:30:00') + INTERVAL seq * 7919 SECOND + INTERVAL seq MICROSECOND,
      IF(seq % 5 = 0, NULL, UNHEX(MD5(seq))), IF(seq % 4 = 0, NULL, JSON_OBJECT('n', seq, 'tags', JSON_ARRAY('a', seq))), seq % 256
      FROM seq_1_to_300;
    INSERT INTO customer VALUES (18446744073709551615, 'max', 0, '1000-01-01 00:00:00', X'00FF', '[]', b'11111111');
    CREATE TABLE corder (order_id INT NOT NULL PRIMARY KEY, customer_id BIGINT UNSIGNED NOT NULL, note TEXT, KEY c (customer_id));
    INSERT INTO corder SELECT CAST(seq AS SIGNED) - 250, (1 + seq % 300) * 1000003, IF(seq % 3 = 0, CONCAT('gift ', seq, ' 🎁'), NULL) FROM seq_1_to_700;
    CREATE TABLE audit (at DATETIME NOT NULL, what VARCHAR(20)) ENGINE=InnoDB;
    INSERT INTO audit VALUES ('2026-01-01 00:00:00', 'login'), ('2026-01-01 00:00:00', 'login'), ('2026-01-02 00:00:00', NULL), ('2026-01-03 00:00:00', 'Ä');
    CREATE TABLE product (id INT PRIMARY KEY, name VARCHAR(20));
    INSERT INTO product VALUES (1, 'stays');
    CREATE VIEW customer_orders AS SELECT c.id, c.name, o.order_id FROM customer c JOIN corder o ON o.customer_id = c.id;
    ANALYZE TABLE customer, corder, audit;`,
  );
  for (const d of c.dests) await sql(d, `DROP DATABASE IF EXISTS ${DST}; DROP DATABASE IF EXISTS _vt`);
}

describe('VerticalSplitClone', () => {
  let c: TestCluster;
  let topo: string;
  before(async () => {
    c = await testCluster();
    await seed(c);
    topo = writeVerticalTopology(c, { sourceDb: SRC, destDb: DST, destInstance: 0 });
  });

  test('moves two tables, a table without a primary key and a view into the new keyspace, byte for byte', async () => {
    const final = await runJob(topo, {
      command: 'VerticalSplitClone',
      keyspace: 'dst',
      shard: '0',
      options: { tables: ['customer', '/^cor.er$/', 'audit', 'customer_orders'], minTableSizeForSplit: 0, minRowsPerChunk: 40, writeQueryMaxRows: 13 },
    });
    assert.equal(final.state, 'done', final.error ?? '');
    assert.deepEqual(final.sources, ['zone1-101']);
    assert.deepEqual(final.destinations, ['zone1-900']);
    for (const table of ['customer', 'corder']) {
      const source = await readRows(c.primary, SRC, table);
      assert.deepEqual(await readRows(c.dests[0], DST, table), source, table);
      assert.ok(source.size > 300);
    }
    assert.deepEqual(await sortedRowsHex(c.dests[0], DST, 'audit'), await sortedRowsHex(c.primary, SRC, 'audit'));
    const byName = new Map(final.tables.map((t) => [t.name, t]));
    assert.ok(byName.get('customer')!.chunksTotal > 1, 'customer was read in chunks');
    assert.equal(byName.get('audit')!.chunksTotal, 1);
    assert.match(byName.get('audit')!.note ?? '', /no primary key: copied whole/);
    assert.equal(byName.get('customer_orders')!.kind, 'view');
    assert.ok(!byName.has('product'));
    // the view is recreated and reads the moved tables
    const viaView = await sql(c.dests[0], `SELECT COUNT(*) AS n FROM ${DST}.customer_orders`);
    assert.equal(Number(viaView[0].n), 700);
    // the tables not asked for stay behind, and the source keeps everything
    assert.equal(
      Number((await sql(c.dests[0], `SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${DST}' AND TABLE_NAME = 'product'`))[0].n),
      0,
    );
    for (const table of [...MOVED, 'product']) assert.ok(Number((await sql(c.primary, `SELECT COUNT(*) AS n FROM ${SRC}.${table}`))[0].n) > 0, table);
    // sourceShards records the tables; the source tablet is back and replicating
    const after = await readTopologyFile(topo);
    assert.deepEqual(after.keyspaces.dst.shards['0'].sourceShards, [
      { uid: 0, keyspace: 'src', shard: '0', keyRange: '-', tables: ['customer', '/^cor.er$/', 'audit', 'customer_orders'] },
    ]);
    assert.equal(after.tablets['zone1-101'].type, 'rdonly');
    assert.equal((await replicationStatus(c.rdonly)).running, true);
    assert.match(String((await sql(c.dests[0], 'SELECT CAST(pos AS CHAR) AS p FROM _vt.blp_checkpoint'))[0].p), /^MariaDB\/0-\d+-\d+$/);
  });

  test('VerticalSplitDiff passes on the clean clone', async () => {
    const final = await runJob(topo, {
      command: 'VerticalSplitDiff',
      keyspace: 'dst',
      shard: '0',
      options: { tables: [...MOVED, 'customer_orders'], minTableSizeForSplit: 0, minRowsPerChunk: 40 },
    });
    assert.equal(final.state, 'done', final.error ?? '');
    const byName = new Map(final.tables.map((t) => [t.name, t]));
    assert.equal(byName.get('customer')!.diff!.summary, '301 rows checked, no differences');
    assert.equal(byName.get('corder')!.diff!.summary, '700 rows checked, no differences');
    assert.equal(byName.get('audit')!.diff!.comparedBy, 'full row');
    assert.equal(byName.get('audit')!.diff!.matching, 4);
    assert.match(byName.get('audit')!.note ?? '', /compared as sorted full rows/);
    assert.equal(byName.get('customer_orders')!.diff, undefined);
    for (const t of final.tables) assert.equal(t.state, 'done', t.name);
    assert.equal((await readTopologyFile(topo)).tablets['zone1-101'].type, 'rdonly');
    assert.equal((await replicationStatus(c.rdonly)).running, true);
  });

  test('VerticalSplitDiff fails on a changed value, a missing row and an extra row, naming table and key', async () => {
    const d = c.dests[0];
    await sql(d, `UPDATE ${DST}.customer SET balance = balance + 1 WHERE id = 5000015`);
    await sql(d, `DELETE FROM ${DST}.corder WHERE order_id = -249`);
    await sql(d, `INSERT INTO ${DST}.audit VALUES ('2030-01-01 00:00:00', 'extra')`);
    try {
      const final = await runJob(topo, { command: 'VerticalSplitDiff', keyspace: 'dst', shard: '0', options: { tables: MOVED } });
      assert.equal(final.state, 'error');
      assert.match(final.error ?? '', /differences found in 3 of 3 tables/);
      assert.match(final.error ?? '', /customer: 301 rows checked: 300 matching, 1 mismatched \(id=5000015 \[balance\]\)/);
      assert.match(final.error ?? '', /corder: 700 rows checked: 699 matching, 1 extra on source \(order_id=-249\)/);
      assert.match(final.error ?? '', /audit: 5 rows checked: 4 matching, 1 extra on destination \(at="2030-01-01 00:00:00", what="extra"\)/);
      const diff = new Map(final.tables.map((t) => [t.name, t.diff!]));
      assert.deepEqual(diff.get('customer')!.examples.mismatched, [{ key: 'id=5000015', columns: ['balance'] }]);
      assert.equal(diff.get('corder')!.extraOnSource, 1);
      assert.equal(diff.get('audit')!.extraOnDestination, 1);
      // The view over the three tables comes with them (its definition compared, no rows).
      assert.deepEqual(
        final.tables.map((t) => `${t.name} ${t.state}`),
        ['audit error', 'corder error', 'customer error', 'customer_orders done'],
      );
      assert.equal((await replicationStatus(c.rdonly)).running, true);
    } finally {
      await sql(d, `UPDATE ${DST}.customer SET balance = balance - 1 WHERE id = 5000015`);
      // order -249 is seq 1 of the seed's formula
      await sql(
        d,
        `INSERT INTO ${DST}.corder SELECT CAST(seq AS SIGNED) - 250, (1 + seq % 300) * 1000003, IF(seq % 3 = 0, CONCAT('gift ', seq, ' 🎁'), NULL) FROM ${DST}.seq_1_to_1`,
      );
      await sql(d, `DELETE FROM ${DST}.audit WHERE what = 'extra'`);
    }
    const again = await runJob(topo, { command: 'VerticalSplitDiff', keyspace: 'dst', shard: '0', options: { tables: MOVED } });
    assert.equal(again.state, 'done', again.error ?? '');
  });

  test('with verify, diffs the moved tables before the source replica restarts', async () => {
    for (const d of c.dests) await sql(d, 'DROP DATABASE IF EXISTS v_verify');
    const verify = writeVerticalTopology(c, { sourceDb: SRC, destDb: 'v_verify', destInstance: 1 });
    const final = await runJob(verify, {
      command: 'VerticalSplitClone',
      keyspace: 'dst',
      shard: '0',
      options: { tables: ['customer', 'corder', 'audit', 'customer_orders'], verify: true, strategy: '' },
    });
    assert.equal(final.state, 'done', final.error ?? '');
    const byName = new Map(final.tables.map((t) => [t.name, t]));
    assert.equal(byName.get('customer')!.diff!.summary, '301 rows checked, no differences');
    assert.equal(byName.get('audit')!.diff!.summary, '4 rows checked, no differences');
    assert.match(byName.get('audit')!.note ?? '', /^no primary key: copied whole, in one chunk, compared as sorted full rows$/);
    assert.equal(byName.get('customer_orders')!.diff, undefined);
    assert.equal((await replicationStatus(c.rdonly)).running, true);
  });

  test('a table name that matches nothing is an error naming it; nothing is changed', async () => {
    for (const d of c.dests) await sql(d, `DROP DATABASE IF EXISTS v_none`);
    const none = writeVerticalTopology(c, { sourceDb: SRC, destDb: 'v_none', destInstance: 1 });
    const final = await runJob(none, { command: 'VerticalSplitClone', keyspace: 'dst', shard: '0', options: { tables: ['customer', 'custmer'] } });
    assert.equal(final.state, 'error');
    assert.match(final.error ?? '', /table custmer matches no table of the source/);
    assert.equal(Number((await sql(c.dests[1], `SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'v_none'`))[0].n), 0);
    assert.equal((await readTopologyFile(none)).tablets['zone1-101'].type, 'rdonly');
    assert.equal((await replicationStatus(c.rdonly)).running, true);
  });

  test('a destination keyspace that is not servedFrom another is refused', async () => {
    const final = await runJob(topo, { command: 'VerticalSplitClone', keyspace: 'src', shard: '0', options: { tables: ['customer'] } });
    assert.equal(final.state, 'error');
    assert.match(final.error ?? '', /keyspace src is not servedFrom another keyspace/);
  });
});
