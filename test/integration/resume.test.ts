// The worker process SIGKILLed mid-copy, then the same SplitClone run again: without --resume it refuses (naming
// what is in the way and --resume); with --resume it takes over the old source tablet, skips finished chunks,
// redoes the others and ends with exactly the content of an uninterrupted run.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { before, describe, test } from 'node:test';
import { replicationStatus } from '../../src/sandbox/index.ts';
import { onSource, readTopologyFile, resetDestinations, runJob, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { assertHalvesExact, controller, seedSql, until } from '../helpers/faults.ts';
import { readRows } from '../helpers/rows.ts';
import type { Topology } from '../../src/topology/types.ts';

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
    const topoFile = writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: db }],
      destinations: [
        { shard: '-80', instance: 0, dbName: db },
        { shard: '80-', instance: 1, dbName: db },
      ],
    });
    const slow = [
      '--write-method',
      'insert',
      '--write-query-max-rows',
      '20',
      '--max-tps',
      '40',
      '--min-table-size-for-split',
      '0',
      '--min-rows-per-chunk',
      '500',
      '--source-reader-count',
      '2',
      '--destination-writer-count',
      '2',
    ];
    const child = spawn(
      process.execPath,
      ['bin/shardworker.js', '--topo', `file:${topoFile}`, '--port', '0', '--log-level', 'warn', 'run', 'SplitClone', ...slow, 'ks/0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    try {
      const copied = async () => {
        const n = await Promise.all(
          c.dests
            .slice(0, 2)
            .map((d) =>
              sql(d, `SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 't'`, [db]).then(async (r) =>
                Number(r[0].n) ? Number((await sql(d, `SELECT COUNT(*) AS n FROM \`${db}\`.t`))[0].n) : 0,
              ),
            ),
        );
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

    const resumed = await runJob(topoFile, {
      command: 'SplitClone',
      keyspace: 'ks',
      shard: '0',
      options: { resume: true, writeMethod: 'insert', minTableSizeForSplit: 0, minRowsPerChunk: 100 },
    });
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
    assert.equal(
      Number((await sql(c.dests[0], `SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = '_vt' AND TABLE_NAME LIKE 'copy%'`))[0].n),
      0,
    );
  });

  test("--resume of a 2→1 merge: an unfinished chunk of one source is redone without touching the other source's rows", async () => {
    const lo = 't_rmerge_lo';
    const hi = 't_rmerge_hi';
    const all = 't_rmerge_all';
    const make = (name: string, where: string) => `DROP DATABASE IF EXISTS ${name}; CREATE DATABASE ${name}; USE ${name};
      CREATE TABLE m (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, v VARBINARY(32));
      INSERT INTO m SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), UNHEX(MD5(seq)) FROM seq_1_to_3000 WHERE ${where};
      ANALYZE TABLE m;`;
    await onSource(c, make(lo, 'CONV(SUBSTRING(MD5(seq),1,2),16,10) < 128') + make(hi, 'CONV(SUBSTRING(MD5(seq),1,2),16,10) >= 128'));
    await resetDestinations(c, all);
    const topoFile = writeTopology(c, {
      keyspace: 'km',
      sources: [
        { shard: '-80', dbName: lo },
        { shard: '80-', dbName: hi },
      ],
      destinations: [{ shard: '0', instance: 2, dbName: all }],
    });
    const options = { minTableSizeForSplit: 0, minRowsPerChunk: 300, sourceReaderCount: 1 };
    // The first run stops for good when the second source is about to read its chunk 1, once every chunk of the
    // first source is marked done: the same keys hold the first source's finished rows and the second's unfinished ones.
    const first = await controller(topoFile, 60_000, async (tablet, doing) => {
      if (tablet !== 'zone1-103' || doing !== 'reading m (chunk 1)') return;
      await until('the first source copied', async () => {
        const plan = await sql(c.dests[2], 'SELECT plan FROM `_vt`.`copy_state` WHERE source_index = 0 AND chunk = -1');
        const done = await sql(c.dests[2], 'SELECT COUNT(*) AS n FROM `_vt`.`copy_state` WHERE source_index = 0 AND chunk >= 0');
        return plan.length > 0 && (JSON.parse(String(plan[0].plan)) as { chunks: unknown[] }).chunks.length === Number(done[0].n);
      });
      throw new Error('interrupted by the test');
    });
    await first.start({ command: 'SplitClone', keyspace: 'km', shard: '-80', options });
    await first.settled();
    assert.match(first.snapshot().error ?? '', /interrupted by the test/);
    // As a worker process that died would have left it: both source tablets held for its job, replication stopped.
    await holdForDeadJob(c, topoFile, ['zone1-101', 'zone1-103'], c.dests[2]);

    const resumed = await runJob(topoFile, { command: 'SplitClone', keyspace: 'km', shard: '-80', options: { ...options, resume: true } });
    assert.equal(resumed.state, 'done', resumed.error ?? '');
    assert.ok(resumed.log.some((l) => /resuming an interrupted copy/.test(l)));
    const want = new Map([...(await readRows(c.primary, lo, 'm')), ...(await readRows(c.primary, hi, 'm'))]);
    const got = await readRows(c.dests[2], all, 'm');
    assert.equal(got.size, want.size);
    for (const [k, v] of want) assert.equal(got.get(k), v, `row ${k}`);
    const after = await readTopologyFile(topoFile);
    assert.equal(after.tablets['zone1-101'].type, 'rdonly');
    assert.equal(after.tablets['zone1-103'].type, 'rdonly');
    assert.equal((await replicationStatus(c.rdonly)).running, true);
  });

  test("--resume of a job whose delayed ALTERs had already run: no second ALTER, done, the schema the source's", async () => {
    const db2 = 't_resume_alter';
    await onSource(
      c,
      `DROP DATABASE IF EXISTS ${db2}; CREATE DATABASE ${db2}; USE ${db2};
      CREATE TABLE t (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, v INT NOT NULL, KEY v (v));
      INSERT INTO t SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), seq % 7 FROM seq_1_to_1000;`,
    );
    await resetDestinations(c, db2);
    const topoFile = writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: db2 }],
      destinations: [
        { shard: '-80', instance: 0, dbName: db2 },
        { shard: '80-', instance: 1, dbName: db2 },
      ],
    });
    const options = { strategy: '-populate_blp_checkpoint -delay_secondary_indexes', minTableSizeForSplit: 0, minRowsPerChunk: 300 };
    // The first run stops for good after its ALTERs, as it is about to write the checkpoint.
    const first = await controller(topoFile, 60_000, async (_tablet, doing) => {
      if (doing === 'writing _vt.blp_checkpoint') throw new Error('interrupted by the test');
    });
    await first.start({ command: 'SplitClone', keyspace: 'ks', shard: '0', options });
    await first.settled();
    assert.match(first.snapshot().error ?? '', /interrupted by the test/);
    assert.ok(first.snapshot().log.some((l) => /delayed indexes added table=t/.test(l)));
    await holdForDeadJob(c, topoFile, ['zone1-101'], c.dests[0]);

    const resumed = await runJob(topoFile, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: { ...options, resume: true } });
    assert.equal(resumed.state, 'done', resumed.error ?? '');
    assert.ok(!resumed.log.some((l) => /adding delayed indexes/.test(l)), resumed.log.join('\n'));
    await assertHalvesExact(c, db2);
    for (const d of c.dests.slice(0, 2)) {
      const keys = await sql(d, 'SELECT DISTINCT INDEX_NAME AS i FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? ORDER BY 1', [db2]);
      assert.deepEqual(
        keys.map((k) => k.i),
        ['PRIMARY', 'v'],
      );
    }
    assert.equal((await replicationStatus(c.rdonly)).running, true);
  });
});

/** What a worker process that died mid-copy leaves: its source tablets held for its job (read off `dest`), replication stopped. */
async function holdForDeadJob(c: TestCluster, topoFile: string, aliases: string[], dest: { port: number }): Promise<void> {
  const jobId = String((await sql(dest, 'SELECT job_id FROM `_vt`.`copy_job`'))[0].job_id);
  const t = JSON.parse(readFileSync(topoFile, 'utf8')) as Topology;
  const pid = spawnSync('true').pid;
  for (const alias of aliases)
    t.tablets[alias] = {
      ...t.tablets[alias],
      type: 'worker',
      workerJob: { jobId, previousType: 'rdonly', since: new Date().toISOString(), pid, hostname: os.hostname() },
    };
  writeFileSync(topoFile, JSON.stringify(t, null, 2));
  await sql(c.rdonly, 'STOP SLAVE');
}
