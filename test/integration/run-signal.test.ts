// `shardworker run` interrupted: SIGINT cancels the job, cleanup runs, the process exits non-zero.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { before, test } from 'node:test';
import { replicationStatus } from '../../src/sandbox/index.ts';
import { onSource, readTopologyFile, resetDestinations, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';

const DB = 't_signal';
const BIN = new URL('../../bin/shardworker.js', import.meta.url).pathname;
let c: TestCluster;

before(async () => {
  c = await testCluster();
  await onSource(
    c,
    `DROP DATABASE IF EXISTS ${DB}; CREATE DATABASE ${DB}; USE ${DB};
    CREATE TABLE t (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL);
    INSERT INTO t SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED) FROM seq_1_to_3000;`,
  );
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} during run: canceled, source restored, exit 1`, async () => {
    await resetDestinations(c, DB);
    const topo = writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: DB }],
      destinations: [
        { shard: '-80', instance: 0, dbName: DB },
        { shard: '80-', instance: 1, dbName: DB },
      ],
    });
    const proc = spawn(process.execPath, [
      BIN,
      '--topo',
      `file:${topo}`,
      '--port',
      '0',
      '--log-level',
      'warn',
      'run',
      'SplitClone',
      '--write-method',
      'insert',
      '--write-query-max-rows',
      '10',
      '--max-tps',
      '10',
      '--destination-writer-count',
      '1',
      'ks/0',
    ]);
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (/ks\/0: copying the data/.test(out) && /t\s+copying\s+[1-9]/.test(out)) {
          clearInterval(timer);
          resolve();
        }
        if (proc.exitCode !== null) reject(new Error(`exited early: ${out} ${err}`));
      }, 100);
    });
    proc.kill(signal);
    assert.equal(await exited, 1);
    assert.match(out, /ks\/0: canceled/);
    assert.match(err, /SplitClone canceled \(interrupted\)/);
    assert.equal((await readTopologyFile(topo)).tablets['zone1-101'].type, 'rdonly');
    assert.equal((await replicationStatus(c.rdonly)).running, true);
  });
}
