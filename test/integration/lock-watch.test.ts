// The lock watch: a destination table locked by someone else while a clone writes to it shows on the status page
// (the snapshot's `waits`, which /api/status and /status render) as a line naming the tablet, the table, the waiting
// statement and the lock, and the line goes once the lock is released.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { JobController } from '../../src/worker/controller.ts';
import { lockWhenCreated, onSource, resetDestinations, runJob, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';

const db = 't_lock_watch';

describe('lock watch', () => {
  let c: TestCluster;
  before(async () => {
    c = await testCluster();
    // Several chunks, so the copy of `held` is still going when the locker takes the table: 5,000 rows (one chunk)
    // were sometimes copied in full between its creation and the lock, and nothing ever waited.
    await onSource(
      c,
      `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db};
      CREATE TABLE held (id BIGINT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, v VARCHAR(40) NOT NULL);
      INSERT INTO held SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), MD5(seq) FROM seq_1_to_100000;`,
    );
  });

  test('a writer waiting on a lock held on a destination table shows on the status, then goes', async () => {
    await resetDestinations(c, db);
    const topo = writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: db }],
      destinations: [
        { shard: '-80', instance: 0, dbName: db },
        { shard: '80-', instance: 1, dbName: db },
      ],
    });
    let jobs: JobController | undefined;
    const locking = lockWhenCreated(c.dests[0], db, 'held');
    const finished = runJob(topo, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} }, (j) => {
      jobs = j;
    });
    const release = await locking;
    try {
      // The writers of -80 now wait on the table's lock: within a few seconds the status says so.
      const deadline = Date.now() + 20_000;
      let seen: string[] = [];
      let line: string | undefined;
      while (!line && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        seen = jobs?.snapshot().waits ?? [];
        line = seen.find((w) => w.includes('held'));
      }
      assert.ok(line, `no wait line within 20 s; last saw ${JSON.stringify(seen)}`);
      assert.match(line, /^zone1-200: `?t_lock_watch`?\.`?held`?: thread \d+ \(.*\) has waited \d+ s: Waiting for table (metadata )?lock/);
    } finally {
      await release();
    }
    const final = await finished;
    assert.equal(final.state, 'done', final.error ?? '');
    assert.deepEqual(final.waits, [], 'the wait is gone once the job ends');
    // The job's log names it too.
    assert.ok(
      final.log.some((l) => /waiting: zone1-200: .*held/.test(l)),
      final.log.join('\n'),
    );
  });
});
