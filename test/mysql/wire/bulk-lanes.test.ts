// Bulk batches sent back to back on one connection, against a real mariadbd: each is its own statement with its
// own reply, in order. A batch the server refuses fails alone while the ones behind it land; a connection that dies
// fails every batch on it as a lost connection (which the writer retries as batches that may have landed).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BulkBatcher } from '../../../src/clone/bulk-batcher.ts';
import type { BulkBatch } from '../../../src/clone/batch.ts';
import { BulkLanes } from '../../../src/mysql/wire/bulk-execute.ts';
import { openPool, TabletError, type Pool, type TabletRef } from '../../../src/mysql/connection.ts';
import { RawRow } from '../../../src/mysql/wire/raw-rows.ts';
import { classifyError } from '../../../src/mysql/retry.ts';
import { sql, testCluster, type TestCluster } from '../../helpers/cluster.ts';
import { rowPacket } from '../../helpers/packets.ts';

const DB = 't_bulk_lanes';
let c: TestCluster;
let pool: Pool;
let ref: TabletRef;

before(async () => {
  c = await testCluster();
  const dest = c.dests[2];
  await sql(dest, `DROP DATABASE IF EXISTS ${DB}`);
  await sql(dest, `CREATE DATABASE ${DB}`);
  await sql(dest, `CREATE TABLE ${DB}.t (id BIGINT PRIMARY KEY, body VARBINARY(4000))`);
  ref = { alias: 'zone1-400', tablet: { keyspace: 'ks', shard: '80-', type: 'primary', host: '127.0.0.1', port: dest.port, dbName: DB, user: 'root' } };
  pool = openPool(ref, {}, { connectionLimit: 2 });
});

after(async () => {
  await pool.end();
});

/** A bulk batch of rows `ids`, each with a body of `size` bytes. */
function batch(ids: number[], size = 100): BulkBatch {
  const b = new BulkBatcher(
    DB,
    't',
    [
      { name: 'id', dataType: 'bigint', encoding: 'number' },
      { name: 'body', dataType: 'varbinary', encoding: 'bytes' },
    ],
    { maxRows: 1, maxSize: 1 << 24 },
  );
  const row = new RawRow(2);
  for (const id of ids) {
    const p = rowPacket([String(id), Buffer.alloc(size, id & 0xff)]);
    row.parse(p, 0, p.length);
    assert.equal(b.add(row), null);
  }
  return b.take() as BulkBatch;
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

async function ids(): Promise<number[]> {
  return (await sql(c.dests[2], `SELECT id FROM ${DB}.t ORDER BY id`)).map((r) => Number(r.id));
}

test('a refused batch fails alone; the batches sent behind it on the same connection land', async () => {
  await sql(c.dests[2], `TRUNCATE ${DB}.t`);
  const lanes = new BulkLanes(pool, 1);
  const batches = [batch(range(1, 500)), batch([...range(501, 499), 1]), batch(range(1001, 500)), batch(range(1501, 500))];
  const results = await Promise.allSettled(batches.map((b, i) => lanes.insert(ref, `batch ${i}`, b.sql, b.packet, b.rows)));
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
  );
  const err = (results[1] as PromiseRejectedResult).reason;
  assert.ok(err instanceof TabletError);
  assert.match(String(err.message), /Duplicate entry '1'/);
  assert.deepEqual(await ids(), [...range(1, 500), ...range(1001, 1000)]);
  // The connection is still good for what comes next.
  const more = batch(range(3001, 10));
  await lanes.insert(ref, 'after', more.sql, more.packet, more.rows);
  assert.equal((await ids()).length, 1510);
});

test('a connection killed with batches in flight fails each of them as a lost connection', async () => {
  await sql(c.dests[2], `TRUNCATE ${DB}.t`);
  // Hold the table so the batches wait on the server, all sent, while the connection is killed.
  const locker = openPool(ref, {}, { connectionLimit: 1 });
  const lock = await locker.getConnection();
  try {
    await lock.query(`LOCK TABLES ${DB}.t WRITE`);
    const lanes = new BulkLanes(pool, 1);
    const batches = [batch(range(1, 100)), batch(range(101, 100)), batch(range(201, 100))];
    const settled = Promise.allSettled(batches.map((b, i) => lanes.insert(ref, `batch ${i}`, b.sql, b.packet, b.rows)));
    let victim: number | undefined;
    for (let i = 0; i < 100 && victim === undefined; i++) {
      const found = await sql(
        c.dests[2],
        `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND STATE LIKE '%lock%' AND ID <> CONNECTION_ID()`,
        [DB],
      );
      victim = found[0] ? Number(found[0].id) : undefined;
      if (victim === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(victim !== undefined, 'the first batch waits on the lock');
    await sql(c.dests[2], `KILL ${victim}`);
    const results = await settled;
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      const reason = (r as PromiseRejectedResult).reason;
      assert.equal(classifyError(reason), 'connection', String(reason));
    }
  } finally {
    await lock.query('UNLOCK TABLES');
    lock.release();
    await locker.end();
  }
  assert.deepEqual(await ids(), []);
  // A new connection takes over.
  const lanes = new BulkLanes(pool, 1);
  const again = batch(range(1, 100));
  await lanes.insert(ref, 'again', again.sql, again.packet, again.rows);
  assert.equal((await ids()).length, 100);
});

test('a connection that moves over more tables than it keeps statements for closes the unused ones and prepares again', async () => {
  const tables = range(0, 12).map((i) => `m${i}`);
  for (const t of tables) await sql(c.dests[2], `CREATE OR REPLACE TABLE ${DB}.${t} (id BIGINT PRIMARY KEY, body VARBINARY(4000))`);
  const lanes = new BulkLanes(pool, 1);
  const columns = [
    { name: 'id', dataType: 'bigint', encoding: 'number' as const },
    { name: 'body', dataType: 'varbinary', encoding: 'bytes' as const },
  ];
  const into = (t: string, id: number) => {
    const b = new BulkBatcher(DB, t, columns, { maxRows: 1, maxSize: 1 << 20 });
    const row = new RawRow(2);
    const p = rowPacket([String(id), 'x']);
    row.parse(p, 0, p.length);
    b.add(row);
    return b.take() as BulkBatch;
  };
  // Twice over every table, the second round after the first tables' statements were closed.
  for (const round of [1, 2]) {
    await Promise.all(
      tables.map((t) => {
        const b = into(t, round);
        return lanes.insert(ref, `into ${t}`, b.sql, b.packet, b.rows);
      }),
    );
  }
  for (const t of tables) assert.equal(Number((await sql(c.dests[2], `SELECT COUNT(*) AS n FROM ${DB}.${t}`))[0].n), 2);
  const open = await sql(c.dests[2], "SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'");
  assert.ok(Number(open[0].Value) <= 12, `prepared statements left open: ${open[0].Value}`);
});

test('a batch that raises a warning fails, naming it, and the connection goes on', async () => {
  // A value with more decimals than its column is rounded with a Note, even in strict mode: the copy never sends
  // one (source and destination have the same types), so this stands for whatever a warning may be.
  await sql(c.dests[2], `CREATE OR REPLACE TABLE ${DB}.w (id BIGINT PRIMARY KEY, d DECIMAL(5,2))`);
  const columns = [
    { name: 'id', dataType: 'bigint', encoding: 'number' as const },
    { name: 'd', dataType: 'decimal', encoding: 'number' as const },
  ];
  const lanes = new BulkLanes(pool, 1);
  const into = (values: [string, string][]) => {
    const b = new BulkBatcher(DB, 'w', columns, { maxRows: 1, maxSize: 1 << 20 });
    const row = new RawRow(2);
    for (const v of values) {
      const p = rowPacket(v);
      row.parse(p, 0, p.length);
      b.add(row);
    }
    return b.take() as BulkBatch;
  };
  const bad = into([
    ['1', '1.25'],
    ['2', '1.234'],
  ]);
  await assert.rejects(lanes.insert(ref, 'warned', bad.sql, bad.packet, bad.rows), /1 warning\(s\) inserting 2 rows.*Note 1265/);
  const good = into([['3', '3.5']]);
  await lanes.insert(ref, 'after', good.sql, good.packet, good.rows);
  assert.deepEqual(
    (await sql(c.dests[2], `SELECT id FROM ${DB}.w ORDER BY id`)).map((r) => Number(r.id)),
    [1, 2, 3],
  );
});
