// A vertical stream, real binlog: VerticalSplitClone of two tables (one named, one by /regexp/) under a write load,
// then the stream carries the load over into the destination keyspace's own database; once at the source's
// position the moved tables equal the source's byte for byte, and the table left behind was never touched.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import pino from 'pino';
import { compareGtidLists, parseGtidList, parsePosition } from '../../src/mysql/gtid.ts';
import { openSourceBinlog } from '../../src/stream/binlog-reader.ts';
import { StreamManager } from '../../src/stream/manager.ts';
import { openTopology } from '../../src/topology/server.ts';
import { runJob, sql, testCluster, type TestCluster } from '../helpers/cluster.ts';
import { sleep, until } from '../helpers/faults.ts';
import { readRows } from '../helpers/rows.ts';
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
  await load.seed(500);
  await sql(c.primary, `CREATE TABLE ${sourceDb}.stays (id INT PRIMARY KEY, v INT)`);
  const topoFile = writeVerticalTopology(c, { sourceDb, destDb, destInstance: 2 });
  load.start(1);
  const status = await runJob(topoFile, { command: 'VerticalSplitClone', keyspace: 'dst', shard: '0', options: { tables: 'types,/^pai/' } });
  assert.equal(status.state, 'done', status.error ?? '');
  const m = new StreamManager({
    topo: await openTopology(`file:${topoFile}`),
    credentials: {},
    openBinlog: openSourceBinlog,
    retryDuration: 60_000,
    refreshMs: 0,
    log: pino({ level: 'info' }, pino.destination({ dest: path.join(path.dirname(topoFile), 'streams.log'), sync: true })),
  });
  await m.open();
  try {
    await sql(c.primary, `INSERT INTO ${sourceDb}.stays VALUES (1, 1)`);
    await sleep(2000);
    await load.stop();
    assert.deepEqual(load.errors, []);
    const target = `MariaDB/${String((await sql(c.primary, 'SELECT @@gtid_binlog_pos AS p'))[0].p)}`;
    await until(
      `the stream at ${target}: ${JSON.stringify(m.snapshot())}`,
      () => {
        const [s] = m.snapshot();
        if (s.state === 'error') throw new Error(`stream in error: ${s.lastError}`);
        return (
          s.position !== null && compareGtidLists(parseGtidList(parsePosition(s.position).value), parseGtidList(parsePosition(target).value)).kind !== 'behind'
        );
      },
      120_000,
    );
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
