// A stream's destination faults, retried by the tablet client where they happen: connections killed under it, and a
// checkpoint row that moved under it (a new session resumes from the row). Each time the result is exact and the
// retry is counted in the stream's snapshot.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import pino from 'pino';
import { openTopology } from '../../src/topology/server.ts';
import { Stream } from '../../src/stream/stream.ts';
import { connect } from '../../src/sandbox/index.ts';
import { sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { until } from '../helpers/faults.ts';
import { binlogTable, insert, SyntheticBinlog } from '../helpers/synthetic-binlog.ts';

const SRC_DB = 'stfault_src';
const DB = 'stfault';
const t = binlogTable(SRC_DB, 't', ['id', 'keyspace_id', 'name']);
const LOW = 0x10n << 56n; // in -80

let c: TestCluster;
let topoFile: string;
const streams: Stream[] = [];

async function resetDestination(pos: string): Promise<void> {
  await sql(
    c.dests[0],
    `DROP DATABASE IF EXISTS ${DB}; DROP DATABASE IF EXISTS _vt; CREATE DATABASE ${DB}; USE ${DB};
    CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, name VARCHAR(40));
    CREATE DATABASE _vt; CREATE TABLE _vt.blp_checkpoint (source_shard_uid INT UNSIGNED NOT NULL PRIMARY KEY, pos VARBINARY(64000), max_tps BIGINT NOT NULL,
      max_replication_lag BIGINT NOT NULL, time_updated BIGINT UNSIGNED NOT NULL, transaction_timestamp BIGINT UNSIGNED NOT NULL, flags VARBINARY(250));
    INSERT INTO _vt.blp_checkpoint VALUES (0, '${pos}', 9223372036854775807, 9223372036854775807, 0, 0, '')`,
  );
}

async function startStream(binlog: SyntheticBinlog): Promise<Stream> {
  const topo = await openTopology(`file:${topoFile}`);
  const s = new Stream(
    { keyspace: 'ks', shard: '-80', source: { uid: 0, keyspace: 'ks', shard: '0', keyRange: '-', tables: [] } },
    { topo, credentials: {}, openBinlog: binlog.open, log: pino({ level: 'silent' }), retryDuration: 20_000 },
  );
  streams.push(s);
  s.start();
  return s;
}

async function reaches(s: Stream, position: string): Promise<void> {
  await until(`stream at ${position}`, () => {
    if (s.state === 'error') throw new Error(`stream in error: ${s.snapshot().lastError}`);
    return s.snapshot().position === position;
  });
}

async function ids(): Promise<number[]> {
  return (await sql(c.dests[0], `SELECT id FROM ${DB}.t ORDER BY id`)).map((r) => Number(r.id));
}

const add = (binlog: SyntheticBinlog, from: number, to: number) => {
  for (let i = from; i <= to; i++) binlog.transaction(insert(t, [BigInt(i), LOW, Buffer.from(`r${i}`)]));
  return binlog.position;
};

describe('stream destination faults', () => {
  before(async () => {
    c = await testCluster();
    topoFile = writeTopology(c, { keyspace: 'ks', sources: [{ shard: '0', dbName: SRC_DB }], destinations: [{ shard: '-80', instance: 0, dbName: DB }] });
  });
  beforeEach(async () => {
    for (const s of streams.splice(0)) await s.stop();
  });
  after(async () => {
    for (const s of streams.splice(0)) await s.stop();
    await sql(c.dests[0], `DROP DATABASE IF EXISTS ${DB}; DROP DATABASE IF EXISTS _vt`);
  });

  test('its destination connections killed: the apply is retried where it failed, exactly, and counted', async () => {
    const binlog = new SyntheticBinlog();
    await resetDestination(binlog.position);
    const s = await startStream(binlog);
    await reaches(s, add(binlog, 1, 20));
    // The checkpoint row held by another transaction: the stream's next apply waits on it, then its connection dies.
    const locker = await connect(c.dests[0]);
    try {
      await locker.query('START TRANSACTION');
      await locker.query('SELECT pos FROM _vt.blp_checkpoint WHERE source_shard_uid = 0 FOR UPDATE');
      binlog.transaction(insert(t, [21n, LOW, Buffer.from('r21')]));
      let waiting: Record<string, unknown>[] = [];
      await until('the stream waits on the checkpoint row', async () => {
        waiting = await sql(
          c.dests[0],
          "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT pos FROM `_vt`%FOR UPDATE' AND ID <> CONNECTION_ID()",
        );
        return waiting.length > 0;
      });
      for (const { id } of waiting) await sql(c.dests[0], `KILL CONNECTION ${Number(id)}`);
    } finally {
      await locker.query('ROLLBACK').catch(() => {});
      await locker.end();
    }
    await reaches(s, add(binlog, 22, 40));
    assert.deepEqual(
      await ids(),
      Array.from({ length: 40 }, (_, k) => k + 1),
    );
    assert.equal(s.state, 'running');
    assert.ok(s.snapshot().retries >= 1, `retries ${s.snapshot().retries}`);
    assert.equal(s.snapshot().errors, 0);
    // Retried by the tablet client at the statement that failed, not by a new session.
    assert.match(s.snapshot().lastError ?? '', /locking the stream checkpoint/);
  });

  test('a checkpoint row moved under the stream: nothing is applied onto it; a new session resumes from the row', async () => {
    const binlog = new SyntheticBinlog();
    await resetDestination(binlog.position);
    const s = await startStream(binlog);
    const half = add(binlog, 1, 10);
    await reaches(s, add(binlog, 11, 20));
    // As after a failover to a primary that lacks the last commits: rows and position back at `half`.
    await sql(c.dests[0], `DELETE FROM ${DB}.t WHERE id > 10; UPDATE _vt.blp_checkpoint SET pos = '${half}' WHERE source_shard_uid = 0`);
    const end = add(binlog, 21, 30);
    await reaches(s, end);
    assert.deepEqual(
      await ids(),
      Array.from({ length: 30 }, (_, k) => k + 1),
    );
    assert.ok(s.snapshot().retries >= 1, `retries ${s.snapshot().retries}`);
    assert.match(s.snapshot().lastError ?? '', /is at .*, not at .* where the stream left it/);
  });
});
