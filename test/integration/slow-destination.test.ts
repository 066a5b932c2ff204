// Backpressure: a destination that stops taking rows (a table lock held from another session) stops the readers,
// and the worker's memory stays within its queue bounds instead of buffering the rest of the table.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { DEFAULT_MAX_QUEUED_BYTES, queuedBatchBytes } from '../../src/clone/writer.ts';
import { JobController } from '../../src/worker/controller.ts';
import { openTopology } from '../../src/topology/server.ts';
import pino from 'pino';
import { lockWhenCreated, onSource, resetDestinations, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';

const ROWS = 200_000; // about 1 KiB each: 200 MiB, half of it for the locked destination
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function checksum(port: number, db: string): Promise<string> {
  const rows = await sql({ port }, `SELECT COUNT(*) AS n, CAST(SUM(CRC32(CONCAT_WS('|', id, keyspace_id, HEX(body)))) AS CHAR) AS s FROM \`${db}\`.big`);
  return `${rows[0].n}/${rows[0].s}`;
}

describe('a slow destination', () => {
  let c: TestCluster;
  const db = 't_slow';
  before(async () => {
    c = await testCluster();
    await onSource(
      c,
      `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db};
      CREATE TABLE big (id BIGINT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, body VARBINARY(2048) NOT NULL);
      INSERT INTO big SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), REPEAT(UNHEX(MD5(seq)), 64) FROM seq_1_to_${ROWS};
      ANALYZE TABLE big;`,
    );
  });

  for (const writeMethod of ['bulk', 'load-data', 'insert'] as const) {
    test(`holds memory within the queue bounds while a destination is locked (${writeMethod})`, async (t) => {
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
      global.gc?.();
      const rssBefore = process.memoryUsage().rss;
      queuedBatchBytes.resetPeak();
      await jobs.start({
        command: 'SplitClone',
        keyspace: 'ks',
        shard: '0',
        options: { writeMethod, minRowsPerChunk: 5000, sourceReaderCount: 4, destinationWriterCount: 4 },
      });

      // Lock the first destination's table as soon as the job has created it, before many rows are in.
      const unlock = await lockWhenCreated(c.dests[0], db, 'big');
      let rssPeak = 0;
      const copiedWhileLocked: number[] = [];
      try {
        const lockedAt = Date.now();
        while (Date.now() - lockedAt < 4000) {
          rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
          copiedWhileLocked.push(jobs.snapshot().totals.rowsCopied);
          await sleep(100);
        }
      } finally {
        await unlock();
      }
      await jobs.settled();
      const final = jobs.snapshot();
      assert.equal(final.state, 'done', final.error ?? '');

      // The copy stalled: the readers waited for the locked destination instead of reading on.
      const last = copiedWhileLocked.slice(-10);
      assert.ok(last[last.length - 1] - last[0] < ROWS / 10, `rows kept flowing while a destination was locked: ${last.join(', ')}`);
      assert.ok(copiedWhileLocked[copiedWhileLocked.length - 1] < ROWS, 'the copy finished before the lock could slow it');
      // Queued batches stayed within both writers' byte bounds (plus the one batch each may take past it).
      const bound = 2 * (DEFAULT_MAX_QUEUED_BYTES + 2 * MiB);
      assert.ok(
        queuedBatchBytes.peak <= bound,
        `queued batches peaked at ${(queuedBatchBytes.peak / MiB).toFixed(1)} MiB, bound ${(bound / MiB).toFixed(1)} MiB`,
      );
      assert.equal(queuedBatchBytes.current, 0);
      // And the process did not buffer the locked destination’s 100 MiB.
      const grew = (rssPeak - rssBefore) / MiB;
      t.diagnostic(
        `queued batches peaked at ${(queuedBatchBytes.peak / MiB).toFixed(1)} MiB (bound ${(bound / MiB).toFixed(1)}); RSS grew ${grew.toFixed(0)} MiB while locked`,
      );
      assert.ok(grew < 60, `RSS grew by ${grew.toFixed(0)} MiB while the destination was locked`);

      // Nothing was lost on the way.
      for (const [i, range] of [
        [0, 'keyspace_id < 9223372036854775808'],
        [1, 'keyspace_id >= 9223372036854775808'],
      ] as const) {
        const want = (
          await sql(
            c.primary,
            `SELECT COUNT(*) AS n, CAST(SUM(CRC32(CONCAT_WS('|', id, keyspace_id, HEX(body)))) AS CHAR) AS s FROM \`${db}\`.big WHERE ${range}`,
          )
        )[0];
        assert.equal(await checksum(c.dests[i].port, db), `${want.n}/${want.s}`);
      }
    });
  }
});
