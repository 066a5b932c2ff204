// The copy's checkpoints (_vt.copy_state: each table's chunk plan, each chunk's mark) go through a connection of
// their own on each destination: while the writers are busy, or stuck behind a lock, a mark or the next table's
// plan does not wait for them (on the writers' pool it waited for their lanes to go idle, which a busy copy never
// does).

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import pino from 'pino';
import { openTopology } from '../../src/topology/server.ts';
import { JobController } from '../../src/worker/controller.ts';
import { lockWhenCreated, onSource, resetDestinations, rowsOnDestinations, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const db = 't_marks';

describe('copy checkpoints', () => {
  let c: TestCluster;
  before(async () => {
    c = await testCluster();
    await onSource(
      c,
      `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db};
      CREATE TABLE a (id BIGINT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, v VARCHAR(40) NOT NULL);
      INSERT INTO a SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), CONCAT('a', seq) FROM seq_1_to_3000;
      CREATE TABLE b (id BIGINT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, v VARCHAR(40) NOT NULL);
      INSERT INTO b SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), CONCAT('b', seq) FROM seq_1_to_1000;
      ANALYZE TABLE a, b;`,
    );
  });

  test('the next table’s plan is recorded while the only writer of a destination waits on a locked table', async () => {
    await resetDestinations(c, db);
    const topoFile = writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: db }],
      destinations: [
        { shard: '-80', instance: 0, dbName: db },
        { shard: '80-', instance: 1, dbName: db },
      ],
    });
    const jobs = new JobController(
      { topo: await openTopology(`file:${topoFile}`), credentials: {} },
      { level: 'warn', destination: pino.destination({ dest: topoFile + '.log', sync: true }) },
    );
    await jobs.start({
      command: 'SplitClone',
      keyspace: 'ks',
      shard: '0',
      options: { writeMethod: 'bulk', minRowsPerChunk: 500, minTableSizeForSplit: 0, sourceReaderCount: 1, destinationWriterCount: 1 },
    });
    // Lock `a` (copied first, the larger) on the first destination as soon as the job has created it.
    const unlock = await lockWhenCreated(c.dests[0], db, 'a');
    let planned = false;
    try {
      // `a`'s chunks are small: all read and queued behind the lock, the reader goes on to `b`, whose plan the job
      // records on every destination before reading it.
      const deadline = Date.now() + 8000;
      while (!planned && Date.now() < deadline) {
        await sleep(100);
        const found = await sql(c.dests[0], `SELECT COUNT(*) AS n FROM _vt.copy_state WHERE table_name = 'b' AND plan IS NOT NULL`).catch(() => [{ n: 0 }]);
        planned = Number(found[0].n) > 0;
      }
      assert.equal(jobs.snapshot().state, 'copying the data', 'the job still waits on the lock');
    } finally {
      await unlock();
    }
    assert.ok(planned, 'b’s plan was not recorded on the locked destination while its writer waited');
    await jobs.settled();
    const final = jobs.snapshot();
    assert.equal(final.state, 'done', final.error ?? '');
    assert.equal(await rowsOnDestinations(c, db, 'a'), 3000);
    assert.equal(await rowsOnDestinations(c, db, 'b'), 1000);
  });
});
