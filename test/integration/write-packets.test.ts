// How a batch travels under the destination's max_allowed_packet. LOAD DATA: as one protocol packet written from
// its own buffer when the destination takes packets that large, else in pieces. Bulk: always one packet, so its
// batches are cut at half of max_allowed_packet. Every way copies byte for byte.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { onSource, resetDestinations, runJob, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { assertHalvesExact, seedSql } from '../helpers/faults.ts';

const db = 't_packets';

describe('write batches and max_allowed_packet', () => {
  let c: TestCluster;
  before(async () => {
    c = await testCluster();
    // About 1 KiB a row: 1 MiB batches of about a thousand rows.
    await onSource(c, seedSql(db, 3000));
  });

  const clone = async (writeMethod: string) => {
    await resetDestinations(c, db);
    const topo = writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: db }],
      destinations: [
        { shard: '-80', instance: 0, dbName: db },
        { shard: '80-', instance: 1, dbName: db },
      ],
    });
    return runJob(topo, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: { minTableSizeForSplit: 0, minRowsPerChunk: 1000, writeMethod } });
  };

  test('auto writes with bulk on MariaDB destinations', async () => {
    const final = await clone('auto');
    assert.equal(final.state, 'done', final.error ?? '');
    await assertHalvesExact(c, db);
    assert.deepEqual(
      final.log.filter((l) => l.includes('rows are written with')).map((l) => /with the (\S+) method/.exec(l)?.[1]),
      ['bulk', 'bulk'],
    );
  });

  for (const writeMethod of ['load-data', 'bulk']) {
    test(`1 MiB batches go whole to destinations that take 64 MiB packets (${writeMethod})`, async () => {
      const final = await clone(writeMethod);
      assert.equal(final.state, 'done', final.error ?? '');
      await assertHalvesExact(c, db);
    });

    test(`destinations whose max_allowed_packet is 64 KiB get the same rows (${writeMethod === 'bulk' ? 'in 32 KiB batches' : 'in pieces'})`, async () => {
      const dests = c.dests.slice(0, 2);
      const before = await Promise.all(dests.map(async (d) => Number((await sql(d, 'SELECT @@GLOBAL.max_allowed_packet AS m'))[0].m)));
      try {
        // New connections take the global value; the job opens its own.
        for (const d of dests) await sql(d, 'SET GLOBAL max_allowed_packet = 65536');
        const final = await clone(writeMethod);
        assert.equal(final.state, 'done', final.error ?? '');
        await assertHalvesExact(c, db);
      } finally {
        for (const [i, d] of dests.entries()) await sql(d, `SET GLOBAL max_allowed_packet = ${before[i]}`);
      }
    });
  }
});
