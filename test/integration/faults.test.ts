// Faults during a SplitClone against real mariadbd instances: a destination primary killed and restarted, one that
// stays down, a source read killed mid-chunk. Each run ends with the destinations checked byte for byte.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { InstanceSpec } from '../../src/sandbox/index.ts';
import { replicationStatus } from '../../src/sandbox/index.ts';
import { onSource, readTopologyFile, resetDestinations, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { assertHalvesExact, controller, instanceAt, kill, restart, seedSql, sleep, until } from '../helpers/faults.ts';

const ROWS = 6000;
// Slow enough to be mid-copy for seconds: 6000 rows in batches of 20 at 60 statements per second per destination.
const SLOW = {
  writeMethod: 'insert',
  writeQueryMaxRows: 20,
  maxTps: 60,
  minTableSizeForSplit: 0,
  minRowsPerChunk: 1000,
  sourceReaderCount: 2,
  destinationWriterCount: 2,
};

describe('faults', () => {
  let c: TestCluster;
  let dest0: InstanceSpec;
  const db = 't_faults';
  before(async () => {
    c = await testCluster();
    dest0 = await instanceAt(c.dests[0].port);
    await onSource(c, seedSql(db, ROWS));
  });
  // Whatever happened, the shared sandbox must be whole for the files that run next.
  after(async () => {
    await restart(dest0);
  });

  const topology = () =>
    writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: db }],
      destinations: [
        { shard: '-80', instance: 0, dbName: db },
        { shard: '80-', instance: 1, dbName: db },
      ],
    });

  test('a destination primary killed and restarted mid-copy: the job retries and copies everything exactly once', async () => {
    await resetDestinations(c, db);
    const jobs = await controller(topology(), 60_000);
    await jobs.start({ command: 'SplitClone', keyspace: 'ks', shard: '0', options: SLOW });
    await until('rows copied', () => jobs.snapshot().totals.rowsCopied >= 600);
    await kill(dest0);
    await sleep(500);
    await restart(dest0);
    await jobs.settled();
    const final = jobs.snapshot();
    assert.equal(final.state, 'done', final.error ?? '');
    assert.ok((final.retries?.byTablet['zone1-200'] ?? 0) > 0, `retries: ${JSON.stringify(final.retries)}`);
    assert.ok(final.log.some((l) => /write failed; retrying/.test(l)));
    await assertHalvesExact(c, db);
  });

  test('a destination that stays down fails the job within the retry window, naming it; the source is restored', async () => {
    await resetDestinations(c, db);
    const topoFile = topology();
    const jobs = await controller(topoFile, 3000);
    await jobs.start({ command: 'SplitClone', keyspace: 'ks', shard: '0', options: SLOW });
    try {
      await until('rows copied', () => jobs.snapshot().totals.rowsCopied >= 300);
      const killedAt = Date.now();
      await kill(dest0);
      await jobs.settled();
      const took = Date.now() - killedAt;
      const final = jobs.snapshot();
      assert.equal(final.state, 'error');
      assert.match(final.error ?? '', /writing rows into t \(chunk \d+\): still failing after \d+ attempts over \d+s \(--retry-duration\).*zone1-200/);
      assert.ok(took < 15_000, `failed after ${took} ms`);
      const topo = await readTopologyFile(topoFile);
      assert.equal(topo.tablets['zone1-101'].type, 'rdonly');
      // Restarted by cleanup a moment ago: its IO thread may still be connecting.
      await until('replication running', async () => (await replicationStatus(c.rdonly)).running, 10_000);
    } finally {
      await restart(dest0);
    }
  });

  test('a source read killed mid-chunk resumes after the last row it read', async () => {
    await resetDestinations(c, db);
    const jobs = await controller(topology(), 60_000);
    // One reader, one big chunk: the read is open (paused by the slow writers) for the whole copy.
    await jobs.start({ command: 'SplitClone', keyspace: 'ks', shard: '0', options: { ...SLOW, sourceReaderCount: 1, minRowsPerChunk: ROWS * 10 } });
    await until('rows copied', () => jobs.snapshot().totals.rowsCopied >= 600);
    // A read of an earlier test's aborted job can linger on the server until it notices its client is gone.
    let readers: Record<string, unknown>[] = [];
    await until(
      'one chunk read in flight',
      async () => {
        readers = await sql(
          c.rdonly,
          `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO LIKE 'SELECT %FROM \`${db}\`.\`t\`%'`,
        );
        return readers.length === 1;
      },
      10_000,
    );
    await sql(c.rdonly, `KILL ${Number(readers[0].id)}`);
    await jobs.settled();
    const final = jobs.snapshot();
    assert.equal(final.state, 'done', final.error ?? '');
    assert.ok((final.retries?.byTablet['zone1-101'] ?? 0) > 0, `retries: ${JSON.stringify(final.retries)}`);
    assert.ok(final.log.some((l) => /read failed; resuming after the last row read/.test(l)));
    // Exactly once: a chunk read again from its start would have hit duplicate keys (and failed the job).
    await assertHalvesExact(c, db);
  });
});
