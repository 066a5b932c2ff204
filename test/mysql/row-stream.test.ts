// The diff's row stream against a real mariadbd: a read whose connection is killed mid-result fails naming the
// tablet, instead of waiting for rows that will never come.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openPool, TabletError, type Pool, type TabletRef } from '../../src/mysql/connection.ts';
import { streamRows } from '../../src/mysql/row-stream.ts';
import { rdonlyRef, sql, testCluster, type TestCluster } from '../helpers/cluster.ts';

let c: TestCluster;
let pool: Pool;
let ref: TabletRef;

before(async () => {
  c = await testCluster();
  ref = rdonlyRef(c);
  pool = openPool(ref, {}, { connectionLimit: 2, withDatabase: false });
});

after(async () => {
  await pool.end();
});

test('a stream whose connection is killed mid-result fails naming the tablet', async () => {
  const marker = `stream_kill_${process.pid}`;
  // Many rows, read slowly: the result is still being sent when the KILL lands.
  const rows = streamRows(pool, ref, 'reading the test rows', `SELECT seq, '${marker}' FROM mysql.seq_1_to_5000000`, { signal: new AbortController().signal, highWaterMark: 10 });
  const first = await rows.next();
  assert.equal(first.done, false);
  const found = await sql(c.rdonly, `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID()`, [`%${marker}%`]);
  assert.equal(found.length, 1);
  await sql(c.rdonly, `KILL ${Number(found[0].id)}`);
  const drained = (async () => {
    for (;;) if ((await rows.next()).done) return 'ended';
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the stream still waits 10 s after its connection was killed')), 10_000)));
  try {
    await assert.rejects(Promise.race([drained, timeout]), (err: unknown) => {
      assert.ok(err instanceof TabletError, String(err));
      assert.match(err.message, /zone1-101/);
      return true;
    });
  } finally {
    clearTimeout(timer);
  }
});
