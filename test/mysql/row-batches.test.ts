// The diff's batched reads against a real mariadbd: a read whose connection is killed mid-result fails naming the
// tablet, instead of waiting for rows that will never come; a read ahead of a slow consumer stops at its bound.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openPool, TabletError, type Pool, type TabletRef } from '../../src/mysql/connection.ts';
import { scanBatches } from '../../src/mysql/row-batches.ts';
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

test('a batched read whose connection is killed mid-result fails naming the tablet', async () => {
  const marker = `stream_kill_${process.pid}`;
  // Many rows, read slowly: the result is still being sent when the KILL lands.
  const rows = scanBatches(pool, ref, 'reading the test rows', `SELECT seq, '${marker}' FROM mysql.seq_1_to_5000000`, {
    signal: new AbortController().signal,
    ahead: 1,
  });
  const first = await rows.next();
  assert.equal(first.done, false);
  const found = await sql(c.rdonly, `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID()`, [`%${marker}%`]);
  assert.equal(found.length, 1);
  await sql(c.rdonly, `KILL ${Number(found[0].id)}`);
  const drained = (async () => {
    for (;;) if ((await rows.next()).done) return 'ended';
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error('the read still waits 10 s after its connection was killed')), 10_000)),
  );
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

test('batches hold every row exactly as sent, NULLs and long values included, and the read pauses ahead of the consumer', async () => {
  const signal = new AbortController().signal;
  let read = 0;
  const batches = scanBatches(
    pool,
    ref,
    'reading the test rows',
    "SELECT seq, IF(seq % 3 = 0, NULL, REPEAT('x', seq % 300)), CAST(seq AS CHAR) FROM mysql.seq_1_to_100000",
    {
      signal,
      tagOf: (row) => (row.value(0)!.toString() === '7' ? -1 : 1),
      onRead: (n) => (read += n),
      ahead: 1,
    },
  );
  const first = await batches.next();
  assert.equal(first.done, false);
  await new Promise((r) => setTimeout(r, 200));
  // One batch handed on, one waiting and one being filled at most: the rest waits in the socket.
  assert.ok(read <= 3 * first.value!.capacity, `${read} rows read ahead`);
  let rows = 0;
  for (let b = first.value; b; b = (await batches.next()).value) {
    for (let r = 0; r < b.count; r++) {
      const seq = Number(b.value(r, 0)!.toString());
      assert.equal(seq, ++rows + (rows >= 7 ? 1 : 0), 'in order, row 7 dropped');
      assert.equal(b.tag[r], 1);
      assert.deepEqual(b.value(r, 1), seq % 3 === 0 ? null : Buffer.from('x'.repeat(seq % 300)));
      assert.equal(b.value(r, 2)!.toString(), String(seq));
    }
  }
  assert.equal(rows, 99_999);
  assert.equal(read, 100_000);
});
