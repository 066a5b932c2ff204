// The copy's row reader against a real mariadbd: rows cut out of the socket's chunks by the framer (packets split
// across chunks, a row longer than one 16 MiB packet, NULLs), a sink that holds the reading now and then, an error
// in the middle of a result, and the connection taken back by mysql2 after each result.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { openPool, TabletError, type Pool, type TabletRef } from '../../src/mysql/connection.ts';
import { scanRows, type RawRow } from '../../src/mysql/raw-rows.ts';
import { sql, testCluster, type TestCluster } from '../helpers/cluster.ts';

let c: TestCluster;
let pool: Pool;
let ref: TabletRef;
const signal = new AbortController().signal;

before(async () => {
  c = await testCluster();
  ref = { alias: 'zone1-101', tablet: { keyspace: 'ks', shard: '0', type: 'rdonly', host: '127.0.0.1', port: c.rdonly.port, dbName: '', user: 'root' } };
  pool = openPool(ref, {}, { connectionLimit: 1, withDatabase: false });
});

after(async () => {
  await pool.end();
});

/** Each row as a digest of its values (NULL distinct from every string), in order. */
function digestSink(out: string[], hold: (n: number) => boolean) {
  return (row: RawRow) => {
    const h = createHash('sha1');
    for (let i = 0; i < row.columns; i++) {
      const v = row.value(i);
      h.update(v === null ? 'N' : `V${v.length}:`);
      if (v) h.update(v);
    }
    out.push(h.digest('hex'));
    if (hold(out.length)) return new Promise<void>((resolve) => setTimeout(resolve, 1));
  };
}

test('rows of every length, split across chunks, and one of 17 MiB in two packets, read exactly while the sink holds', async () => {
  // Lengths around each length-prefix boundary, NULLs, and many rows so that packets straddle socket chunks.
  const query = `SELECT seq, IF(seq % 7 = 0, NULL, REPEAT(CHAR(65 + seq % 26), CASE seq % 5 WHEN 0 THEN 0 WHEN 1 THEN 250 WHEN 2 THEN 251 WHEN 3 THEN 65536 ELSE seq % 300 END)),
    IF(seq = 1500, REPEAT('z', 17 * 1024 * 1024), 'tail') FROM mysql.seq_1_to_3000`;
  // The reference: the same rows through mysql2's own reader.
  const reference: string[] = [];
  const conn = await pool.getConnection();
  try {
    const [rows] = await conn.query({ sql: query, rowsAsArray: true, typeCast: false });
    for (const r of rows as (Buffer | null)[][]) {
      const h = createHash('sha1');
      for (const v of r) {
        h.update(v === null ? 'N' : `V${v.length}:`);
        if (v) h.update(v);
      }
      reference.push(h.digest('hex'));
    }
  } finally {
    conn.release();
  }
  assert.equal(reference.length, 3000);
  for (const holdEvery of [0, 3, 97]) {
    const got: string[] = [];
    const count = await scanRows(pool, ref, 'reading test rows', query, digestSink(got, (n) => holdEvery > 0 && n % holdEvery === 0), { signal });
    assert.equal(count, 3000, `hold every ${holdEvery}`);
    assert.deepEqual(got, reference, `hold every ${holdEvery}`);
  }
  // The connection went back to mysql2 and serves ordinary queries.
  const again = await pool.getConnection();
  try {
    const [rows] = await again.query('SELECT 41 + 1 AS n');
    assert.deepEqual(rows, [{ n: 42 }]);
  } finally {
    again.release();
  }
});

test('an error in the middle of a result fails the scan with the server message, and the pool serves the next', async () => {
  const got: string[] = [];
  // A scalar subquery that returns two rows errs at row 2500, after the server has sent the rows before it.
  const query = `SELECT seq, IF(seq = 2500, (SELECT seq FROM mysql.seq_1_to_2), seq) FROM mysql.seq_1_to_5000`;
  await assert.rejects(scanRows(pool, ref, 'reading test rows', query, digestSink(got, (n) => n % 50 === 0), { signal }), (err: unknown) => {
    assert.ok(err instanceof TabletError, String(err));
    assert.match(err.message, /Subquery returns more than 1 row/);
    return true;
  });
  assert.ok(got.length >= 1 && got.length < 2500, `${got.length} rows before the error`);
  const count = await scanRows(pool, ref, 'reading test rows', 'SELECT seq FROM mysql.seq_1_to_10', digestSink([], () => false), { signal });
  assert.equal(count, 10);
});
