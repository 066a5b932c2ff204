// SplitDiff against real mariadbd instances: passes on a clean clone, catches each kind of difference naming the
// table and the key, reads the source at the position the destination was cloned from (or says why it cannot),
// and --verify inside a clone stays exact while the source primary takes writes.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { primaryPosition, replicationStatus, waitForCatchUp } from '../../src/sandbox/index.ts';
import type { StatusSnapshot, TableStatus } from '../../src/worker/status.ts';
import { onSource, readTopologyFile, resetDestinations, runJob, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';

const DB = 'd_split';
const ksid = (expr: string) => `CAST(CONV(SUBSTRING(MD5(${expr}), 1, 16), 16, 10) AS UNSIGNED)`;
/** The seed's item rows `from..to`, by formula: how a test puts back a row it took away. */
const itemRows = (db: string, from: number, to: number) =>
  `SELECT seq, ${ksid('seq')}, CONCAT('item ', seq, IF(seq % 5 = 0, ' ✓', '')), seq * 1.25, UNHEX(MD5(seq)) FROM ${db}.seq_${from}_to_${to}`;
/** Whether item `id` lives on shard -80 (its keyspace id, the first 8 bytes of MD5(id), is below 0x80…). */
const onLowShard = (id: number) => parseInt(createHash('md5').update(String(id)).digest('hex')[0], 16) < 8;

const SHARDS = [
  { shard: '-80', instance: 0 },
  { shard: '80-', instance: 1 },
];
const CHUNKED = { minTableSizeForSplit: 0, minRowsPerChunk: 40 };

async function seed(c: TestCluster, db: string, items: number): Promise<void> {
  await onSource(
    c,
    `SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES';
    DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db} CHARACTER SET utf8mb4; USE ${db};
    CREATE TABLE item (id BIGINT NOT NULL PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, name VARCHAR(40) CHARACTER SET utf8mb4,
      price DECIMAL(10,2), data VARBINARY(32), KEY ks (keyspace_id));
    INSERT INTO item ${itemRows(db, 1, items)};
    CREATE TABLE tag (name VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, n INT);
    INSERT INTO tag SELECT CONCAT(ELT(1 + seq % 4, 'a', 'B', 'Ä', 'é'), seq), ${ksid('seq + 1000')}, seq FROM seq_1_to_200;
    CREATE TABLE nopk (keyspace_id BIGINT UNSIGNED NOT NULL, v VARCHAR(10));
    INSERT INTO nopk SELECT ${ksid('seq % 50')}, CONCAT('v', seq % 50) FROM seq_1_to_150;
    CREATE TABLE empty (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL);
    CREATE VIEW cheap AS SELECT id, name FROM item WHERE price < 10;
    ANALYZE TABLE item, tag, nopk;`,
  );
  await resetDestinations(c, db);
}

/** Waits until both replication threads of the rdonly run (the source tablet must be healthy to be picked). */
async function replicating(c: TestCluster): Promise<void> {
  for (let i = 0; i < 100 && !(await replicationStatus(c.rdonly)).running; i++) await new Promise((r) => setTimeout(r, 100));
}

const tables = (s: StatusSnapshot) => new Map<string, TableStatus>(s.tables.map((t) => [t.name, t]));

function assertClean(s: StatusSnapshot): void {
  assert.equal(s.state, 'done', s.error ?? '');
  for (const t of s.tables) {
    assert.equal(t.state, 'done', t.name);
    if (t.kind === 'table') assert.match(t.diff?.summary ?? '', /rows? checked, no differences$/, t.name);
  }
}

describe('SplitDiff', () => {
  let c: TestCluster;
  let topo: string;
  const diff = (shard: string, options: Record<string, unknown> = {}) =>
    runJob(topo, { command: 'SplitDiff', keyspace: 'ks', shard, options: { ...CHUNKED, ...options } });
  const low = () => c.dests[0];
  const high = () => c.dests[1];
  let idLo = 0;
  let idHi = 0;

  before(async () => {
    c = await testCluster();
    await seed(c, DB, 600);
    topo = writeTopology(c, { keyspace: 'ks', sources: [{ shard: '0', dbName: DB }], destinations: SHARDS.map((s) => ({ ...s, dbName: DB })) });
    idLo = [...Array(50).keys()].find((i) => i > 0 && onLowShard(i))!;
    idHi = [...Array(50).keys()].find((i) => i > 0 && !onLowShard(i))!;
  });

  test('passes on a clean clone, on each destination shard', async () => {
    const clone = await runJob(topo, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: CHUNKED });
    assert.equal(clone.state, 'done', clone.error ?? '');
    const processed = new Map<string, number>();
    for (const shard of ['-80', '80-']) {
      const s = await diff(shard);
      assertClean(s);
      assert.deepEqual(s.destinations, [shard === '-80' ? 'zone1-200' : 'zone1-300']);
      for (const t of s.tables) if (t.diff) processed.set(t.name, (processed.get(t.name) ?? 0) + t.diff.processed);
      const byName = tables(s);
      assert.ok(byName.get('item')!.chunksTotal > 1, 'item is diffed in chunks');
      // Only the rows of the shard's range are read from the source (the server filters by keyspace id).
      assert.equal(byName.get('item')!.rowsCopied, byName.get('item')!.diff!.processed, 'the source rows of the shard are read, no others');
      assert.ok(byName.get('item')!.rowsCopied < 600);
      assert.equal(byName.get('tag')!.diff!.comparedBy, 'primary key');
      assert.equal(byName.get('nopk')!.diff!.comparedBy, 'full row');
      assert.match(byName.get('nopk')!.note ?? '', /no primary key: compared as sorted full rows/);
      assert.equal(byName.get('empty')!.diff!.summary, '0 rows checked, no differences');
      assert.equal(byName.get('cheap')!.kind, 'view');
    }
    // the two destinations' shares add up to the source
    assert.deepEqual(Object.fromEntries(processed), { item: 600, tag: 200, nopk: 150, empty: 0 });
    assert.equal((await readTopologyFile(topo)).tablets['zone1-101'].type, 'rdonly');
    assert.equal((await replicationStatus(c.rdonly)).running, true);
  });

  test('fails on changed values (integer, string and no primary key), naming table and key', async () => {
    const tag = String((await sql(low(), `SELECT name FROM ${DB}.tag WHERE n % 4 = 2 ORDER BY n LIMIT 1`))[0].name); // Ä…
    const v = `v${[...Array(50).keys()].find(onLowShard)}`;
    await sql(
      low(),
      `UPDATE ${DB}.item SET price = price + 1 WHERE id = ${idLo}; UPDATE ${DB}.tag SET n = -n WHERE name = ?;
      UPDATE ${DB}.nopk SET v = 'changed' WHERE v = '${v}' LIMIT 1`,
      [tag],
    );
    try {
      const s = await diff('-80');
      assert.equal(s.state, 'error');
      assert.match(s.error ?? '', /differences found in 3 of 4 tables/);
      assert.match(s.error ?? '', new RegExp(`item: \\d+ rows checked: \\d+ matching, 1 mismatched \\(id=${idLo} \\[price\\]\\)`));
      assert.ok((s.error ?? '').includes(`1 mismatched (name=${JSON.stringify(tag)} [n])`), s.error ?? '');
      assert.match(
        s.error ?? '',
        new RegExp(
          `nopk: \\d+ rows checked: \\d+ matching, 1 extra on source \\(keyspace_id=\\d+, v="${v}"\\), 1 extra on destination \\(keyspace_id=\\d+, v="changed"\\)`,
        ),
      );
      const byName = tables(s);
      assert.deepEqual(byName.get('item')!.diff!.examples.mismatched, [{ key: `id=${idLo}`, columns: ['price'] }]);
      assert.equal(byName.get('item')!.state, 'error');
      assert.equal(byName.get('empty')!.state, 'done');
      assert.equal((await replicationStatus(c.rdonly)).running, true);
    } finally {
      await sql(
        low(),
        `UPDATE ${DB}.item SET price = price - 1 WHERE id = ${idLo}; UPDATE ${DB}.tag SET n = -n WHERE name = ?;
        UPDATE ${DB}.nopk SET v = '${v}' WHERE v = 'changed'`,
        [tag],
      );
    }
  });

  test('fails on a missing row', async () => {
    await sql(low(), `DELETE FROM ${DB}.item WHERE id = ${idLo}`);
    try {
      const s = await diff('-80');
      assert.equal(s.state, 'error');
      assert.match(s.error ?? '', new RegExp(`item: \\d+ rows checked: \\d+ matching, 1 extra on source \\(id=${idLo}\\)`));
      assert.deepEqual(tables(s).get('item')!.diff!.examples.extraOnSource, [{ key: `id=${idLo}` }]);
    } finally {
      await sql(low(), `INSERT INTO ${DB}.item ${itemRows(DB, idLo, idLo)}`);
    }
  });

  test('fails on an extra row', async () => {
    await sql(low(), `INSERT INTO ${DB}.item VALUES (1000000, 1, 'extra', 0, NULL)`);
    try {
      const s = await diff('-80');
      assert.equal(s.state, 'error');
      assert.match(s.error ?? '', /item: \d+ rows checked: \d+ matching, 1 extra on destination \(id=1000000\)/);
      assert.equal(tables(s).get('item')!.diff!.extraOnDestination, 1);
    } finally {
      await sql(low(), `DELETE FROM ${DB}.item WHERE id = 1000000`);
    }
  });

  test('fails on a row in the wrong shard, on both shards', async () => {
    await sql(low(), `INSERT INTO ${DB}.item ${itemRows(DB, idHi, idHi)}`);
    await sql(high(), `DELETE FROM ${DB}.item WHERE id = ${idHi}`);
    try {
      const wrong = await diff('-80');
      assert.equal(wrong.state, 'error');
      assert.match(wrong.error ?? '', new RegExp(`item: .*1 extra on destination \\(id=${idHi}\\)`));
      const missing = await diff('80-');
      assert.equal(missing.state, 'error');
      assert.match(missing.error ?? '', new RegExp(`item: .*1 extra on source \\(id=${idHi}\\)`));
    } finally {
      await sql(low(), `DELETE FROM ${DB}.item WHERE id = ${idHi}`);
      await sql(high(), `INSERT INTO ${DB}.item ${itemRows(DB, idHi, idHi)}`);
    }
    assertClean(await diff('-80'));
    assertClean(await diff('80-'));
  });

  test('a source replica behind the clone position is stopped exactly at it', async () => {
    const id = 7;
    const dest = onLowShard(id) ? '-80' : '80-';
    await sql(c.rdonly, 'STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 4; START SLAVE');
    try {
      await replicating(c);
      // The destinations take the first change and are said to be cloned from right after it; the second change
      // comes later, so a replica that ran past the position would show it.
      await sql(c.primary, `UPDATE ${DB}.item SET name = 'second' WHERE id = ${id}`);
      for (const d of [low(), high()]) await sql(d, `UPDATE ${DB}.item SET name = 'second' WHERE id = ${id}`);
      const position = `MariaDB/${await primaryPosition(c.primary)}`;
      for (const d of [low(), high()]) await sql(d, 'UPDATE _vt.blp_checkpoint SET pos = ?', [position]);
      await sql(c.primary, `UPDATE ${DB}.item SET name = 'third' WHERE id = ${id}`);
      const started = Date.now();
      const s = await diff(dest);
      assertClean(s);
      assert.ok(Date.now() - started > 1000, 'the diff waited for the delayed replica');
      assert.ok(
        s.log.some((l) => l.includes('bringing the source tablet to the position')),
        s.log.join('\n'),
      );
    } finally {
      await sql(c.rdonly, 'STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE');
      await replicating(c);
      await waitForCatchUp(c.primary, c.rdonly);
    }
    assert.equal((await sql(c.rdonly, `SELECT name FROM ${DB}.item WHERE id = ${id}`))[0].name, 'third');
  });

  test('a source replica past the clone position: the diff fails saying so, and changes nothing', async () => {
    const s = await diff('-80');
    assert.equal(s.state, 'error');
    assert.match(s.error ?? '', /zone1-101 .* has replicated past MariaDB\/\S+ \(it is at MariaDB\/\S+, ahead in domain 0\), and replication cannot go back/);
    assert.equal((await readTopologyFile(topo)).tablets['zone1-101'].type, 'rdonly');
    assert.equal((await replicationStatus(c.rdonly)).running, true);
  });

  test('a destination without _vt.blp_checkpoint: the diff says the position is unknown', async () => {
    for (const d of [low(), high()]) await sql(d, 'DROP DATABASE IF EXISTS _vt');
    const s = await diff('80-');
    assert.equal(s.state, 'error');
    assert.match(s.error ?? '', /has no _vt.blp_checkpoint, so the position it was cloned from is unknown/);
  });

  test('a 2→1 merge: the rows of both sources merged in key order', async () => {
    const lo = 'd_merge_lo';
    const hi = 'd_merge_hi';
    const all = 'd_merge_all';
    const make = (db: string, where: string) => `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db};
      CREATE TABLE m (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, v VARCHAR(10));
      INSERT INTO m SELECT seq, ${ksid('seq')}, CONCAT('v', seq) FROM seq_1_to_400 WHERE ${where};`;
    await onSource(c, make(lo, 'CONV(SUBSTRING(MD5(seq),1,2),16,10) < 128') + make(hi, 'CONV(SUBSTRING(MD5(seq),1,2),16,10) >= 128'));
    await resetDestinations(c, all);
    const merge = writeTopology(c, {
      keyspace: 'km',
      sources: [
        { shard: '-80', dbName: lo },
        { shard: '80-', dbName: hi },
      ],
      destinations: [{ shard: '0', instance: 2, dbName: all }],
    });
    const clone = await runJob(merge, { command: 'SplitClone', keyspace: 'km', shard: '-80', options: {} });
    assert.equal(clone.state, 'done', clone.error ?? '');
    const s = await runJob(merge, { command: 'SplitDiff', keyspace: 'km', shard: '0', options: CHUNKED });
    assertClean(s);
    assert.equal(s.sources.length, 2);
    assert.equal(tables(s).get('m')!.diff!.summary, '400 rows checked, no differences');
    await sql(c.dests[2], `UPDATE ${all}.m SET v = 'x' WHERE id = 3`);
    const bad = await runJob(merge, { command: 'SplitDiff', keyspace: 'km', shard: '0', options: {} });
    assert.equal(bad.state, 'error');
    assert.match(bad.error ?? '', /m: 400 rows checked: 399 matching, 1 mismatched \(id=3 \[v\]\)/);
    const after = await readTopologyFile(merge);
    assert.equal(after.tablets['zone1-101'].type, 'rdonly');
    assert.equal(after.tablets['zone1-103'].type, 'rdonly');
  });
});

describe('--verify', () => {
  let c: TestCluster;
  before(async () => {
    c = await testCluster();
  });

  test('SplitClone with writes landing on the source primary during the copy still reports no differences', async () => {
    const db = 'd_verify';
    await seed(c, db, 4000);
    const topo = writeTopology(c, { keyspace: 'ks', sources: [{ shard: '0', dbName: db }], destinations: SHARDS.map((s) => ({ ...s, dbName: db })) });
    let writing = true;
    let writes = 0;
    const writer = (async () => {
      for (let n = 1; writing; n++) {
        await sql(
          c.primary,
          `INSERT INTO ${db}.item VALUES (${100000 + n}, ${n * 7919}, 'new', 1, NULL); UPDATE ${db}.item SET name = CONCAT(name, '+') WHERE id = ${1 + (n % 4000)}`,
        );
        writes++;
      }
    })();
    let final: StatusSnapshot;
    try {
      final = await runJob(topo, {
        command: 'SplitClone',
        keyspace: 'ks',
        shard: '0',
        options: { verify: true, sourceReaderCount: 1, minTableSizeForSplit: 0, minRowsPerChunk: 50 },
      });
    } finally {
      writing = false;
      await writer;
    }
    assert.equal(final.state, 'done', final.error ?? '');
    assert.ok(writes > 5, `only ${writes} writes landed during the job`);
    const byName = tables(final);
    for (const name of ['item', 'tag', 'nopk', 'empty']) {
      const t = byName.get(name)!;
      assert.equal(t.state, 'done', name);
      assert.equal(t.diff!.finished, true, name);
      assert.match(t.diff!.summary, /checked, no differences$/, name);
    }
    // the diff checked exactly the snapshot that was copied, while the primary moved on past it
    const item = byName.get('item')!;
    assert.ok(item.rowsCopied >= 4000);
    assert.equal(item.diff!.processed, item.rowsCopied);
    assert.equal(item.diff!.matching, item.rowsCopied);
    const primaryRows = Number((await sql(c.primary, `SELECT COUNT(*) AS n FROM ${db}.item`))[0].n);
    assert.ok(primaryRows > item.rowsCopied, `the primary has ${primaryRows} rows, the snapshot ${item.rowsCopied}`);
    assert.ok(
      final.log.some((l) => l.includes('diffing')),
      'the log says when the diff starts',
    );
    assert.equal((await readTopologyFile(topo)).tablets['zone1-101'].type, 'rdonly');
    assert.equal((await replicationStatus(c.rdonly)).running, true);
  });
});
