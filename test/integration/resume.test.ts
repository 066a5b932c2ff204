// The worker process SIGKILLed mid-copy, then the same SplitClone run again: without --resume it refuses (naming
// what is in the way and --resume); with --resume it takes over the old source tablet, skips finished chunks,
// redoes the others and ends with exactly the content of an uninterrupted run.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { before, describe, test } from 'node:test';
import { replicationStatus } from '../../src/sandbox/index.ts';
import { onSource, readTopologyFile, resetDestinations, runJob, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { assertHalvesExact, seedSql, until } from '../helpers/faults.ts';

const ROWS = 6000;

describe('resume after the worker was killed', () => {
  let c: TestCluster;
  const db = 't_resume';
  before(async () => {
    c = await testCluster();
    await onSource(c, seedSql(db, ROWS));
  });

  test('SIGKILL mid-copy, then --resume: identical content, no duplicates, source restored', async () => {
    await resetDestinations(c, db);
    const topoFile = writeTopology(c, { keyspace: 'ks', sources: [{ shard: '0', dbName: db }], destinations: [{ shard: '-80', instance: 0, dbName: db }, { shard: '80-', instance: 1, dbName: db }] });
    const slow = ['--write-method', 'insert', '--write-query-max-rows', '20', '--max-tps', '40', '--min-table-size-for-split', '0', '--min-rows-per-chunk', '500', '--source-reader-count', '2', '--destination-writer-count', '2'];
    const child = spawn(process.execPath, ['bin/shardworker.js', '--topo', `file:${topoFile}`, '--port', '0', '--log-level', 'warn', 'run', 'SplitClone', ...slow, 'ks/0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    try {
      const copied = async () => {
        const n = await Promise.all(c.dests.slice(0, 2).map((d) => sql(d, `SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 't'`, [db]).then(async (r) => (Number(r[0].n) ? Number((await sql(d, `SELECT COUNT(*) AS n FROM \`${db}\`.t`))[0].n) : 0))));
        return n[0] + n[1];
      };
      await until('rows copied by the child', async () => (await copied()) >= 1500, 60_000);
    } finally {
      child.kill('SIGKILL');
    }
    assert.equal(await exited, 'SIGKILL');

    // Left behind: the source tablet taken, by a process that is gone.
    const taken = (await readTopologyFile(topoFile)).tablets['zone1-101'];
    assert.equal(taken.type, 'worker');
    assert.equal(typeof taken.workerJob?.pid, 'number');

    const again = await runJob(topoFile, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} });
    assert.equal(again.state, 'error');
    assert.match(again.error ?? '', /zone1-101 is already taken by worker job .*which is gone.*--resume/);

    const resumed = await runJob(topoFile, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: { resume: true, writeMethod: 'insert', minTableSizeForSplit: 0, minRowsPerChunk: 100 } });
    assert.equal(resumed.state, 'done', resumed.error ?? '');
    assert.ok(resumed.log.some((l) => /resuming an interrupted copy/.test(l)));
    const t = resumed.tables.find((x) => x.name === 't')!;
    assert.equal(t.chunksDone, t.chunksTotal);
    assert.ok(t.rowsCopied < ROWS, `the resumed job copied ${t.rowsCopied} rows: finished chunks were not skipped`);
    await assertHalvesExact(c, db);

    const after = (await readTopologyFile(topoFile)).tablets['zone1-101'];
    assert.equal(after.type, 'rdonly');
    assert.equal(after.workerJob, undefined);
    assert.equal((await replicationStatus(c.rdonly)).running, true);
    // A finished copy leaves no checkpoints behind.
    assert.equal(Number((await sql(c.dests[0], `SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = '_vt' AND TABLE_NAME LIKE 'copy%'`))[0].n), 0);
  });
});
