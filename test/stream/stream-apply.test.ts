// The stream's apply loop against real mariadbd destinations, fed a synthetic binlog: grouping, the position
// committed with the rows, divergence and DDL stops naming what stopped them, rows moving across key ranges,
// exact values, and resuming from the checkpoint.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import pino from 'pino';
import type { BinlogValue } from '../../src/mysql/wire/binlog/events.ts';
import { openTopology } from '../../src/topology/server.ts';
import { Stream, type StreamDeps } from '../../src/stream/stream.ts';
import { sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { until } from '../helpers/faults.ts';
import { binlogTable, del, insert, SyntheticBinlog, update } from '../helpers/synthetic-binlog.ts';

const SRC_DB = 'st_src';
const DB = 'st_apply';
const TABLE = `CREATE TABLE t (
  id BIGINT NOT NULL PRIMARY KEY,
  keyspace_id BIGINT UNSIGNED NOT NULL,
  name VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci,
  bin VARBINARY(64),
  latin VARCHAR(10) CHARACTER SET latin1,
  dec65 DECIMAL(65,30),
  dt6 DATETIME(6),
  ts TIMESTAMP(6) NULL DEFAULT NULL,
  zd DATE,
  js JSON,
  b64 BIT(64),
  f FLOAT,
  d DOUBLE,
  u64 BIGINT UNSIGNED,
  en ENUM('a','b','c'),
  st SET('x','y','z')
) ENGINE=InnoDB`;
const COLUMNS = ['id', 'keyspace_id', 'name', 'bin', 'latin', 'dec65', 'dt6', 'ts', 'zd', 'js', 'b64', 'f', 'd', 'u64', 'en', 'st'];
const t = binlogTable(SRC_DB, 't', COLUMNS);
const other = binlogTable(SRC_DB, 'other', ['id']);

const LOW = 0x10n << 56n; // in -80
const HIGH = 0x90n << 56n; // in 80-

/** A row of `t` with the given key and keyspace id and simple values elsewhere. */
function row(id: number, ksid: bigint, name = `r${id}`): BinlogValue[] {
  return [BigInt(id), ksid, Buffer.from(name), null, null, null, null, null, null, null, null, null, null, null, null, null];
}

let c: TestCluster;
let topoFile: string;
const streams: Stream[] = [];

async function resetDestination(i: number, pos: string): Promise<void> {
  await sql(
    c.dests[i],
    `DROP DATABASE IF EXISTS ${DB}; DROP DATABASE IF EXISTS _vt; CREATE DATABASE ${DB}; USE ${DB}; ${TABLE};
    CREATE DATABASE _vt; CREATE TABLE _vt.blp_checkpoint (source_shard_uid INT UNSIGNED NOT NULL PRIMARY KEY, pos VARBINARY(64000), max_tps BIGINT NOT NULL,
      max_replication_lag BIGINT NOT NULL, time_updated BIGINT UNSIGNED NOT NULL, transaction_timestamp BIGINT UNSIGNED NOT NULL, flags VARBINARY(250));
    INSERT INTO _vt.blp_checkpoint VALUES (0, '${pos}', 9223372036854775807, 9223372036854775807, 0, 0, '')`,
  );
}

async function startStream(binlog: SyntheticBinlog, shard: string, extra: Partial<StreamDeps> = {}): Promise<Stream> {
  const topo = await openTopology(`file:${topoFile}`);
  const deps: StreamDeps = { topo, credentials: {}, openBinlog: binlog.open, log: pino({ level: 'silent' }), retryDuration: 20_000, ...extra };
  const s = new Stream({ keyspace: 'ks', shard, source: { uid: 0, keyspace: 'ks', shard: '0', keyRange: '-', tables: [] } }, deps);
  streams.push(s);
  s.start();
  return s;
}

async function reaches(s: Stream, position: string): Promise<void> {
  await until(
    `stream ${s.name} at ${position} (it is at ${s.snapshot().position}, ${s.state}: ${s.snapshot().lastError})`,
    () => {
      if (s.state === 'error') throw new Error(`stream in error: ${s.snapshot().lastError}`);
      return s.snapshot().position === position;
    },
    30_000,
  );
}

async function checkpointPos(i: number): Promise<string> {
  return String((await sql(c.dests[i], 'SELECT pos FROM _vt.blp_checkpoint WHERE source_shard_uid = 0'))[0].pos);
}

async function ids(i: number): Promise<number[]> {
  return (await sql(c.dests[i], `SELECT id FROM ${DB}.t ORDER BY id`)).map((r) => Number(r.id));
}

async function commits(i: number): Promise<number> {
  return Number((await sql(c.dests[i], "SHOW GLOBAL STATUS LIKE 'Com_commit'"))[0].Value);
}

describe('stream apply loop (synthetic binlog, real destinations)', () => {
  before(async () => {
    c = await testCluster();
    topoFile = writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: SRC_DB }],
      destinations: [
        { shard: '-80', instance: 0, dbName: DB },
        { shard: '80-', instance: 1, dbName: DB },
      ],
    });
  });
  beforeEach(async () => {
    for (const s of streams.splice(0)) await s.stop();
  });
  after(async () => {
    for (const s of streams.splice(0)) await s.stop();
  });

  test('rows of the range only, the position committed with them, many source transactions in few commits', async () => {
    const binlog = new SyntheticBinlog();
    await resetDestination(0, binlog.position);
    // Queued before the stream starts: it is behind, so it groups.
    for (let i = 1; i <= 200; i++) binlog.transaction(insert(t, row(i, i % 2 ? LOW : HIGH)), insert(other, [BigInt(i)]));
    const target = binlog.position;
    const before = await commits(0);
    const s = await startStream(binlog, '-80');
    await reaches(s, target);
    const made = (await commits(0)) - before;
    assert.ok(made < 50, `200 source transactions took ${made} destination commits`);
    assert.deepEqual(
      await ids(0),
      Array.from({ length: 100 }, (_, k) => 2 * k + 1),
    );
    assert.equal(await checkpointPos(0), target);
    const snap = s.snapshot();
    assert.equal(snap.rowsApplied, 100);
    assert.equal(snap.transactionsApplied, 100);
    assert.equal(snap.state, 'running');
    // Caught up: a new transaction commits at once, and seconds behind is 0.
    const next = binlog.transaction(insert(t, row(1001, LOW)));
    await reaches(s, next);
    assert.equal(await checkpointPos(0), next);
    await until('caught up', () => s.snapshot().secondsBehind === 0);
  });

  test('values are written exactly (decimal, temporal, zero dates, bit, json, binary, latin1, float and unsigned extremes)', async () => {
    const binlog = new SyntheticBinlog();
    await resetDestination(0, binlog.position);
    const values: BinlogValue[] = [
      7n,
      LOW,
      Buffer.from('héllo 😀 \' " \\', 'utf8'),
      Buffer.from([0, 1, 0xff, 0x27, 0x5c]),
      Buffer.from([0xe9, 0xf1]),
      '-12345678901234567890123456789012345.123456789012345678901234567890',
      '2026-03-08 02:30:00.123456',
      '2026-03-08 07:30:00.654321',
      '0000-00-00',
      Buffer.from('{"a": [1, 2.5]}'),
      Buffer.from('ffffffffffffffff', 'hex'),
      Math.fround(3.4028234663852886e38),
      5e-324,
      18446744073709551615n,
      3n,
      5n,
    ];
    binlog.transaction(insert(t, values, row(8, LOW), row(9, LOW)));
    // The same values again, by updates that share one joined UPDATE.
    const pos = binlog.transaction(update(t, [row(8, LOW), [8n, ...values.slice(1)]], [row(9, LOW), [9n, ...values.slice(1)]]));
    const s = await startStream(binlog, '-80');
    await reaches(s, pos);
    const rows = await sql(
      c.dests[0],
      `SELECT HEX(name) n, HEX(bin) b, HEX(latin) l, CAST(dec65 AS CHAR) dec65, CAST(dt6 AS CHAR) dt6, CAST(ts AS CHAR) ts, CAST(zd AS CHAR) zd,
      CAST(js AS CHAR) js, HEX(b64) b64, CAST(f AS DOUBLE) f, d, CAST(u64 AS CHAR) u64, en, st FROM ${DB}.t ORDER BY id`,
    );
    assert.equal(rows.length, 3);
    for (const got of rows)
      assert.deepEqual(
        { ...got, f: Number(got.f), d: Number(got.d) },
        {
          n: Buffer.from('héllo 😀 \' " \\').toString('hex').toUpperCase(),
          b: '0001FF275C',
          l: 'E9F1',
          dec65: '-12345678901234567890123456789012345.123456789012345678901234567890',
          dt6: '2026-03-08 02:30:00.123456',
          ts: '2026-03-08 07:30:00.654321',
          zd: '0000-00-00',
          js: '{"a": [1, 2.5]}',
          b64: 'FFFFFFFFFFFFFFFF',
          f: Math.fround(3.4028234663852886e38),
          d: 5e-324,
          u64: '18446744073709551615',
          en: 'c',
          st: 'x,z',
        },
      );
  });

  test('an update moving a row across key ranges: a delete on one side, an insert on the other', async () => {
    const binlog = new SyntheticBinlog();
    await resetDestination(0, binlog.position);
    await resetDestination(1, binlog.position);
    binlog.transaction(insert(t, row(1, LOW), row(2, HIGH)));
    binlog.transaction(update(t, [row(1, LOW), row(1, HIGH, 'moved')], [row(2, HIGH), row(2, LOW, 'came')]));
    const pos = binlog.transaction(update(t, [row(1, HIGH, 'moved'), row(1, HIGH, 'again')]), del(t, row(2, LOW, 'came')), insert(t, row(3, LOW)));
    const low = await startStream(binlog, '-80');
    const high = await startStream(binlog, '80-');
    await reaches(low, pos);
    await reaches(high, pos);
    assert.deepEqual(await sql(c.dests[0], `SELECT CAST(id AS CHAR) id, name FROM ${DB}.t ORDER BY id`), [{ id: '3', name: 'r3' }]);
    assert.deepEqual(await sql(c.dests[1], `SELECT CAST(id AS CHAR) id, name FROM ${DB}.t ORDER BY id`), [{ id: '1', name: 'again' }]);
  });

  test('a duplicate key stops the stream in error naming table, key and position; what came before is committed', async () => {
    const binlog = new SyntheticBinlog();
    await resetDestination(0, binlog.position);
    await sql(c.dests[0], `INSERT INTO ${DB}.t (id, keyspace_id) VALUES (5, 1)`);
    const good = binlog.transaction(insert(t, row(4, LOW)));
    binlog.transaction(insert(t, row(5, LOW)));
    binlog.transaction(insert(t, row(6, LOW)));
    const s = await startStream(binlog, '-80');
    await until('error', () => s.state === 'error');
    const err = s.snapshot().lastError ?? '';
    assert.match(err, /insert of t \(id=5\)/);
    assert.match(err, /0-100-2/);
    assert.match(err, /Duplicate entry/);
    assert.equal(await checkpointPos(0), good);
    assert.deepEqual(await ids(0), [4, 5]);
  });

  test('an update or delete of a missing row stops the stream naming the key', async () => {
    const binlog = new SyntheticBinlog();
    await resetDestination(0, binlog.position);
    const good = binlog.transaction(insert(t, row(1, LOW)));
    binlog.transaction(update(t, [row(2, LOW), row(2, LOW, 'x')]));
    const s = await startStream(binlog, '-80');
    await until('error', () => s.state === 'error');
    assert.match(s.snapshot().lastError ?? '', /update of t \(id=2\) in source transaction 0-100-2 .*found no row with that key/);
    assert.equal(await checkpointPos(0), good);

    const binlog2 = new SyntheticBinlog('0-100', 50);
    await resetDestination(0, binlog2.position);
    binlog2.transaction(insert(t, row(8, LOW), row(10, LOW)));
    binlog2.transaction(del(t, row(8, LOW), row(9, LOW), row(10, LOW)));
    const s2 = await startStream(binlog2, '-80');
    await until('error', () => s2.state === 'error');
    assert.match(s2.snapshot().lastError ?? '', /delete of t \(id=9\) in source transaction 0-100-52/);
    assert.deepEqual(await ids(0), [8, 10]);
  });

  test('DDL on a streamed table stops the stream naming the statement; on another table it passes', async () => {
    const binlog = new SyntheticBinlog();
    await resetDestination(0, binlog.position);
    binlog.transaction(insert(t, row(1, LOW)));
    const passed = binlog.ddl(SRC_DB, 'CREATE TABLE unrelated (id INT)');
    binlog.ddl(SRC_DB, 'ALTER TABLE `t` ADD COLUMN extra INT');
    const s = await startStream(binlog, '-80');
    await until('error', () => s.state === 'error');
    assert.match(s.snapshot().lastError ?? '', /ALTER TABLE `t` ADD COLUMN extra INT/);
    assert.equal(await checkpointPos(0), passed);
  });

  test('--on-ddl exec applies the statement and goes on with the new shape', async () => {
    const binlog = new SyntheticBinlog();
    await resetDestination(0, binlog.position);
    binlog.transaction(insert(t, row(1, LOW)));
    binlog.ddl(SRC_DB, 'ALTER TABLE t ADD COLUMN extra INT');
    const t2 = binlogTable(SRC_DB, 't', [...COLUMNS, 'extra']);
    const pos = binlog.transaction(insert(t2, [...row(2, LOW), 42n]));
    const s = await startStream(binlog, '-80', { onDdl: 'exec' });
    await reaches(s, pos);
    assert.deepEqual(await sql(c.dests[0], `SELECT CAST(id AS CHAR) id, extra FROM ${DB}.t ORDER BY id`), [
      { id: '1', extra: null },
      { id: '2', extra: 42 },
    ]);
  });

  test('a stopped stream resumes exactly from its checkpoint; a source that refuses is retried', async () => {
    const binlog = new SyntheticBinlog();
    await resetDestination(0, binlog.position);
    for (let i = 1; i <= 50; i++) binlog.transaction(insert(t, row(i, LOW)));
    const s = await startStream(binlog, '-80');
    await reaches(s, binlog.position);
    await s.stop();
    assert.equal(s.state, 'stopped');
    for (let i = 51; i <= 100; i++) binlog.transaction(insert(t, row(i, LOW)), update(t, [row(i - 50, LOW), row(i - 50, LOW, 'u')]));
    binlog.failOpens = 2;
    s.start();
    await reaches(s, binlog.position);
    assert.equal(binlog.opens.at(-1), 'MariaDB/0-100-50');
    assert.ok(s.snapshot().retries >= 2);
    assert.equal((await ids(0)).length, 100);
    assert.equal(Number((await sql(c.dests[0], `SELECT COUNT(*) n FROM ${DB}.t WHERE name = 'u'`))[0].n), 50);
  });

  test('a destination that refuses the checkpoint position (DontStart) leaves the stream stopped', async () => {
    const binlog = new SyntheticBinlog();
    await resetDestination(0, binlog.position);
    await sql(c.dests[0], "UPDATE _vt.blp_checkpoint SET flags = 'DontStart'");
    binlog.transaction(insert(t, row(1, LOW)));
    const s = await startStream(binlog, '-80');
    await until('stopped', () => s.state === 'stopped');
    assert.deepEqual(await ids(0), []);
  });

  test('a checkpoint row moved by another writer (a daemon that took the stream over) rolls the group back; the stream resumes from the row', async () => {
    const binlog = new SyntheticBinlog();
    await resetDestination(0, binlog.position);
    binlog.transaction(insert(t, row(1, LOW)));
    const s = await startStream(binlog, '-80');
    await reaches(s, binlog.position);
    // Another owner commits the next source transaction first, rows and position together.
    const moved = binlog.position.replace(/\d+$/, (n) => String(Number(n) + 1));
    await sql(c.dests[0], `INSERT INTO ${DB}.t (id, keyspace_id, name) VALUES (2, ${LOW}, 'r2'); UPDATE _vt.blp_checkpoint SET pos = '${moved}'`);
    const opens = binlog.opens.length;
    assert.equal(binlog.transaction(insert(t, row(2, LOW))), moved);
    binlog.transaction(insert(t, row(3, LOW)));
    await reaches(s, binlog.position);
    assert.ok(s.snapshot().retries >= 1, 'the stale commit was retried');
    assert.equal(binlog.opens.at(-1), moved, 'the new session resumed from the moved row');
    assert.ok(binlog.opens.length > opens);
    assert.deepEqual(await ids(0), [1, 2, 3]);
    assert.equal(await checkpointPos(0), binlog.position);
  });
});
