// SplitClone against real mariadbd instances: every source row lands in exactly one destination, byte for byte.
process.env.TZ = 'America/New_York'; // times in its DST gap must not move

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { parseShardName, contains } from '../../src/keyrange/keyrange.ts';
import { keyspaceIdFromText } from '../../src/keyrange/keyspace-id.ts';
import { replicationStatus } from '../../src/sandbox/index.ts';
import { onSource, readTopologyFile, resetDestinations, runJob, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { readRows } from '../helpers/rows.ts';

const TYPES_TABLE = `CREATE TABLE types (
  id INT NOT NULL PRIMARY KEY,
  keyspace_id BIGINT UNSIGNED NOT NULL,
  n_null VARCHAR(10) NULL,
  bin VARBINARY(256),
  blb BLOB,
  utf TEXT CHARACTER SET utf8mb4,
  latin VARCHAR(20) CHARACTER SET latin1,
  dec65 DECIMAL(65,30),
  dt6 DATETIME(6),
  ts TIMESTAMP(6) NULL DEFAULT NULL,
  zero_date DATE,
  zero_dt DATETIME,
  tm TIME(6),
  yr YEAR,
  js JSON,
  b64 BIT(64),
  b1 BIT(1),
  en ENUM('a','b','c'),
  st SET('x','y','z'),
  f FLOAT,
  d DOUBLE,
  ti TINYINT,
  u64 BIGINT UNSIGNED,
  i64 BIGINT,
  KEY ks (keyspace_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

function allBytes(): string {
  return Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('hex');
}

const TYPE_ROWS = [
  // keyspace id extremes, every byte value, 4-byte utf8, DST-gap times (2026-03-08 02:30 does not exist in New York)
  `(1, 0, NULL, X'${allBytes()}', X'${allBytes()}', '😀 𝄞 héllo \\' " \\\\ \\n', X'E9F1', '-12345678901234567890123456789012345.123456789012345678901234567890', '2026-03-08 02:30:00.123456', '2026-03-08 07:30:00.654321', '0000-00-00', '0000-00-00 00:00:00', '-838:59:59.000000', 2155, '{"a": [1, 2.5, "x"], "b": null}', b'1111111111111111111111111111111111111111111111111111111111111111', b'1', 'c', 'x,z', 3.40282e38, 1.7976931348623157e308, -128, 18446744073709551615, -9223372036854775808)`,
  `(2, 18446744073709551615, NULL, X'', '', '', '', '0.000000000000000000000000000001', '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01.000000', '1000-01-01', '9999-12-31 23:59:59', '838:59:59.999999', 1901, '[]', b'0', b'0', 'a', '', -1.17549e-38, 5e-324, 127, 0, 9223372036854775807)`,
  `(3, 9223372036854775807, 'x', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
  `(4, 9223372036854775808, 'y', X'00', X'00', '\\0', 'a', '-0.5', '2026-11-01 01:30:00.5', '2026-11-01 05:30:00', '2028-02-29', '2026-11-01 01:30:00', '00:00:00', 2000, '"s"', b'10000000', b'1', 'b', 'x,y,z', -0, -2.2250738585072014e-308, 0, 1, -1)`,
  `(-5, 1, 'z', X'ff', X'ff', 'Ω', 'z', '99999999999999999999999999999999999.999999999999999999999999999999', '2038-01-19 03:14:08', '2038-01-19 03:14:07.999999', '2000-01-01', '2000-01-01 00:00:00', '12:34:56.789', 1999, '{"k": "v"}', b'1', b'0', 'a', 'y', 1.5, 0.1, -1, 12345, 0)`,
];

async function seedTypes(c: TestCluster, db: string): Promise<void> {
  const more: string[] = [];
  // Spread rows over the whole uint64 range, so every destination gets many.
  for (let i = 10; i < 400; i++)
    more.push(
      `(${i}, CAST(CONV(SUBSTRING(MD5(${i}),1,16),16,10) AS UNSIGNED), 'r${i}', UNHEX(MD5(${i})), NULL, 'row ${i} ✓', 'r', '${i}.5', '2026-03-08 02:${String(i % 60).padStart(2, '0')}:00', NULL, '0000-00-00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ${i}.25, ${i}.125, NULL, ${i}, -${i})`,
    );
  await onSource(
    c,
    `SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00';
    DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db}; ${TYPES_TABLE};
    INSERT INTO types VALUES ${[...TYPE_ROWS, ...more].join(',\n')};
    CREATE TABLE small (id BIGINT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, name VARCHAR(20));
    INSERT INTO small VALUES (1, 1, 'one');
    CREATE TABLE empty (id BIGINT PRIMARY KEY AUTO_INCREMENT, keyspace_id BIGINT UNSIGNED NOT NULL) AUTO_INCREMENT=1000;
    CREATE VIEW v_types AS SELECT id, keyspace_id, utf FROM types WHERE id > 0;`,
  );
}

/** Checks the destinations hold every source row exactly once, each in the shard its keyspace id belongs to. */
async function assertSplitExact(
  c: TestCluster,
  sourceDb: string,
  table: string,
  dests: { port: number; db: string; shard: string }[],
  type: 'uint64' | 'bytes' = 'uint64',
  sources?: { db: string }[],
) {
  const source = new Map<string, string>();
  for (const s of sources ?? [{ db: sourceDb }]) for (const [k, v] of await readRows(c.primary, s.db, table)) source.set(k, v);
  const seen = new Map<string, string>();
  for (const d of dests) {
    const rows = await readRows({ port: d.port }, d.db, table);
    const range = parseShardName(d.shard);
    const ids = await sql(
      { port: d.port },
      `SELECT ${type === 'uint64' ? 'CAST(keyspace_id AS CHAR)' : 'HEX(keyspace_id)'} AS k FROM \`${d.db}\`.\`${table}\``,
    );
    for (const r of ids) {
      const raw = type === 'uint64' ? Buffer.from(String(r.k)) : Buffer.from(String(r.k), 'hex');
      assert.ok(contains(range, keyspaceIdFromText(type, raw)), `${table}: keyspace id ${r.k} is not in shard ${d.shard}`);
    }
    for (const [k, v] of rows) {
      assert.ok(!seen.has(k), `${table}: row ${k} is in two destinations`);
      seen.set(k, v);
      assert.equal(v, source.get(k), `${table}: row ${k} differs on shard ${d.shard}`);
    }
  }
  assert.equal(seen.size, source.size, `${table}: ${source.size} source rows, ${seen.size} in the destinations`);
}

/** The write method each destination's writer used, from the job's log (next to its topology file). */
function writeMethodsUsed(topoFile: string): string[] {
  return readFileSync(path.join(path.dirname(topoFile), 'job.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { writeMethod?: string })
    .flatMap((r) => (r.writeMethod ? [r.writeMethod] : []));
}

describe('SplitClone', () => {
  let c: TestCluster;
  before(async () => {
    c = await testCluster();
  });

  // Each write method must copy every value exactly; small batches (7 rows, 2 KiB) cut rows at every boundary.
  for (const writeMethod of ['bulk', 'load-data', 'insert'] as const)
    test(`1→2 copies every type byte for byte and restores the source tablet (${writeMethod})`, async () => {
      const db = `t_types_${writeMethod.replace('-', '_')}`;
      await seedTypes(c, db);
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
        options: { minTableSizeForSplit: 0, minRowsPerChunk: 50, writeQueryMaxRows: 7, writeQueryMaxSize: writeMethod === 'insert' ? 1024 : 2048, writeMethod },
      });
      assert.equal(final.state, 'done', final.error ?? '');
      const dests = [
        { port: c.dests[0].port, db, shard: '-80' },
        { port: c.dests[1].port, db, shard: '80-' },
      ];
      for (const table of ['types', 'small', 'empty']) await assertSplitExact(c, db, table, dests);
      assert.deepEqual(writeMethodsUsed(topo), [writeMethod, writeMethod]);
      const types = final.tables.find((t) => t.name === 'types')!;
      assert.equal(types.rowsCopied, 395);
      assert.ok(types.chunksTotal > 1, `types was read in ${types.chunksTotal} chunks`);
      assert.deepEqual(
        final.tables.map((t) => t.state),
        ['done', 'done', 'done', 'done'],
      );
      // the view exists and works on each destination
      for (const d of dests) assert.ok((await sql({ port: d.port }, `SELECT COUNT(*) AS n FROM ${db}.v_types`))[0].n !== undefined);
      // the source tablet is back: rdonly in the topology, replicating
      const after = await readTopologyFile(topo);
      assert.equal(after.tablets['zone1-101'].type, 'rdonly');
      assert.equal(after.tablets['zone1-101'].workerJob, undefined);
      assert.equal((await replicationStatus(c.rdonly)).running, true);
      // checkpoint and sourceShards
      const cp = await sql({ port: c.dests[0].port }, 'SELECT source_shard_uid AS uid, CAST(pos AS CHAR) AS pos FROM _vt.blp_checkpoint');
      assert.equal(cp.length, 1);
      assert.match(String(cp[0].pos), /^MariaDB\/\d+-\d+-\d+/);
      assert.deepEqual(after.keyspaces.ks.shards['-80'].sourceShards, [
        { uid: 0, keyspace: 'ks', shard: '0', keyRange: '-', tables: ['empty', 'small', 'types', 'v_types'] },
      ]);
    });

  test('strategy: delayed indexes and primary key, skipped auto increment, no checkpoint, no sourceShards', async () => {
    const db = 't_strategy';
    await onSource(
      c,
      `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db};
      CREATE TABLE t (id BIGINT NOT NULL AUTO_INCREMENT, keyspace_id BIGINT UNSIGNED NOT NULL, email VARCHAR(50), PRIMARY KEY (id), UNIQUE KEY email (email), KEY ks (keyspace_id)) AUTO_INCREMENT=500;
      INSERT INTO t (id, keyspace_id, email) SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), CONCAT('u', seq, '@x') FROM seq_1_to_300;`,
    );
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
      options: { strategy: '-delay_secondary_indexes -delay_primary_key -skip_auto_increment=t -skip_set_source_shards' },
    });
    assert.equal(final.state, 'done', final.error ?? '');
    const dests = [
      { port: c.dests[0].port, db, shard: '-80' },
      { port: c.dests[1].port, db, shard: '80-' },
    ];
    await assertSplitExact(c, db, 't', dests);
    const create = String(Object.values((await sql(c.dests[0], `SHOW CREATE TABLE ${db}.t`))[0])[1]);
    assert.match(create, /PRIMARY KEY \(`id`\)/);
    assert.match(create, /UNIQUE KEY `email`/);
    assert.ok(!/AUTO_INCREMENT/.test(create), create);
    assert.equal(Number((await sql(c.dests[0], `SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = '_vt'`))[0].n), 0);
    assert.deepEqual((await readTopologyFile(topo)).keyspaces.ks.shards['-80'].sourceShards, []);
  });

  test('a bytes sharding column, split unevenly 1→3', async () => {
    const db = 't_bytes';
    await onSource(
      c,
      `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db};
      CREATE TABLE b (id INT PRIMARY KEY, keyspace_id VARBINARY(16) NOT NULL, v VARCHAR(10));
      INSERT INTO b SELECT seq, UNHEX(SUBSTRING(MD5(seq), 1, 2 + 2 * (seq % 8))), CONCAT('v', seq) FROM seq_1_to_500;
      INSERT INTO b VALUES (1000, X'', 'empty'), (1001, X'55', 'edge55'), (1002, X'54FFFFFFFF', 'below55'), (1003, X'AA', 'edgeaa'), (1004, X'FFFFFFFFFFFFFFFFFF', 'top');`,
    );
    await resetDestinations(c, db);
    const shards = ['-55', '55-aa', 'aa-'];
    const topo = writeTopology(c, {
      keyspace: 'kb',
      shardingColumnType: 'bytes',
      sources: [{ shard: '0', dbName: db }],
      destinations: shards.map((shard, instance) => ({ shard, instance, dbName: db })),
    });
    const final = await runJob(topo, { command: 'SplitClone', keyspace: 'kb', shard: '0', options: {} });
    assert.equal(final.state, 'done', final.error ?? '');
    await assertSplitExact(
      c,
      db,
      'b',
      shards.map((shard, i) => ({ port: c.dests[i].port, db, shard })),
      'bytes',
    );
    assert.equal((await sql(c.dests[1], `SELECT v FROM ${db}.b WHERE id = 1001`))[0].v, 'edge55');
    assert.equal((await sql(c.dests[0], `SELECT v FROM ${db}.b WHERE id = 1002`))[0].v, 'below55');
  });

  test('a 2→1 merge, named by either source shard', async () => {
    const lo = 't_merge_lo';
    const hi = 't_merge_hi';
    const all = 't_merge_all';
    const make = (db: string, where: string) => `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db};
      CREATE TABLE m (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL);
      INSERT INTO m SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED) FROM seq_1_to_400 WHERE ${where};`;
    await onSource(c, make(lo, 'CONV(SUBSTRING(MD5(seq),1,2),16,10) < 128') + make(hi, 'CONV(SUBSTRING(MD5(seq),1,2),16,10) >= 128'));
    for (const named of ['80-', '-80']) {
      await resetDestinations(c, all);
      const topo = writeTopology(c, {
        keyspace: 'km',
        sources: [
          { shard: '-80', dbName: lo },
          { shard: '80-', dbName: hi },
        ],
        destinations: [{ shard: '0', instance: 2, dbName: all }],
      });
      const final = await runJob(topo, { command: 'SplitClone', keyspace: 'km', shard: named, options: {} });
      assert.equal(final.state, 'done', final.error ?? '');
      assert.deepEqual(final.sources.length, 2);
      await assertSplitExact(c, lo, 'm', [{ port: c.dests[2].port, db: all, shard: '0' }], 'uint64', [{ db: lo }, { db: hi }]);
      const after = await readTopologyFile(topo);
      assert.deepEqual(
        after.keyspaces.km.shards['0'].sourceShards.map((s) => s.shard),
        ['-80', '80-'],
      );
      assert.equal(after.tablets['zone1-101'].type, 'rdonly');
      assert.equal(after.tablets['zone1-103'].type, 'rdonly');
    }
    assert.equal((await replicationStatus(c.rdonly)).running, true);
  });
});
