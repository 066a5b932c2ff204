// A vertical stream, real binlog: VerticalSplitClone of two tables (one named, one by /regexp/) under a write load,
// then the stream carries the load over into the destination keyspace's own database; once at the source's
// position the moved tables equal the source's byte for byte, and the table left behind was never touched.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { runJob, sql, testCluster, type TestCluster } from '../helpers/cluster.ts';
import { sleep } from '../helpers/faults.ts';
import { readRows } from '../helpers/rows.ts';
import { sourcePosition, testStreams, untilStreamsAt } from '../helpers/stream-exact.ts';
import { writeVerticalTopology } from '../helpers/vertical.ts';
import { WriteLoad } from '../helpers/write-load.ts';

let c: TestCluster;
before(async () => {
  c = await testCluster();
});

test('a vertical stream carries the moved tables only, exactly', async () => {
  const sourceDb = 'st_vsrc';
  const destDb = 'st_vdst';
  await sql(c.dests[2], `DROP DATABASE IF EXISTS ${destDb}; DROP DATABASE IF EXISTS _vt`);
  const load = new WriteLoad(c.primary, sourceDb, 23);
  await load.seed(500, c.rdonly);
  await sql(c.primary, `CREATE TABLE ${sourceDb}.stays (id INT PRIMARY KEY, v INT)`);
  const topoFile = writeVerticalTopology(c, { sourceDb, destDb, destInstance: 2 });
  load.start(1);
  const status = await runJob(topoFile, { command: 'VerticalSplitClone', keyspace: 'dst', shard: '0', options: { tables: 'types,/^pai/' } });
  assert.equal(status.state, 'done', status.error ?? '');
  const m = await testStreams(topoFile);
  await m.open();
  try {
    await sql(c.primary, `INSERT INTO ${sourceDb}.stays VALUES (1, 1)`);
    await sleep(2000);
    await load.stop();
    assert.deepEqual(load.errors, []);
    await untilStreamsAt(m, await sourcePosition(c.primary));
    for (const table of ['types', 'pairs']) {
      const want = await readRows(c.primary, sourceDb, table);
      const got = await readRows(c.dests[2], destDb, table);
      assert.equal(got.size, want.size, table);
      assert.deepEqual([...got].sort(), [...want].sort(), table);
    }
    assert.ok(m.snapshot()[0].rowsApplied > 0);
    assert.equal(
      (await sql(c.dests[2], `SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${destDb}' AND TABLE_NAME = 'stays'`))[0].n,
      '0',
    );
  } finally {
    await m.close();
  }
});
