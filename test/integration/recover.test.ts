// When giving the source tablet back fails, and when its worker died without giving it back: a cleanup that cannot
// reach the source replica (killed mid-copy) reports what it did and did not undo; `shardworker recover` gives back a
// tablet whose owning process is gone, and leaves one whose owner lives; a new clone names the dead owner.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import type { InstanceSpec } from '../../src/sandbox/index.ts';
import { replicationStatus, startReplication, waitForCatchUp } from '../../src/sandbox/index.ts';
import type { Topology } from '../../src/topology/types.ts';
import { onSource, readTopologyFile, resetDestinations, runJob, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { controller, instanceAt, kill, restart, until } from '../helpers/faults.ts';

const DB = 't_recover';
const BIN = new URL('../../bin/shardworker.js', import.meta.url).pathname;
// Slow (about 200 rows/s), and 16 MB in rows of 16 KB: far more than the socket buffers between the paused read and
// the replica hold, so the replica killed early fails the read within a second or two, not at the end of the table.
const SLOW = { writeMethod: 'insert', writeQueryMaxRows: 10, maxTps: 10, destinationWriterCount: 1 };

/** Runs the CLI to its end: exit code and output. */
function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const proc = spawn(process.execPath, [BIN, ...args]);
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => proc.on('close', (code) => resolve({ code, out, err })));
}

/** A pid that ran on this host and is gone: `true`'s, after it exited. */
function deadPid(): number {
  const r = spawnSync('true');
  assert.ok(r.pid > 0);
  return r.pid;
}

describe('recover', () => {
  let c: TestCluster;
  let rdonly: InstanceSpec;

  /** The rdonly instance up and replicating again, whatever a test left it in. */
  async function replicaWhole(): Promise<void> {
    await restart(rdonly);
    await startReplication(c.primary, c.rdonly);
    await waitForCatchUp(c.primary, c.rdonly, 30_000);
  }

  before(async () => {
    c = await testCluster();
    rdonly = await instanceAt(c.rdonly.port);
    await onSource(
      c,
      `DROP DATABASE IF EXISTS ${DB}; CREATE DATABASE ${DB}; USE ${DB};
      CREATE TABLE t (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, body VARBINARY(16000));
      INSERT INTO t SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), UNHEX(REPEAT(MD5(seq), 1000)) FROM seq_1_to_1000;`,
    );
  });
  // The shared sandbox must be whole for the files that run next.
  after(async () => {
    await replicaWhole();
  });

  const topology = () =>
    writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: DB }],
      destinations: [
        { shard: '-80', instance: 0, dbName: DB },
        { shard: '80-', instance: 1, dbName: DB },
      ],
    });

  /** A topology whose zone1-101 is held by a worker job of `pid` on this host. */
  function heldTopology(pid: number, jobId: string): string {
    const file = topology();
    const t = JSON.parse(readFileSync(file, 'utf8')) as Topology;
    t.tablets['zone1-101'] = {
      ...t.tablets['zone1-101'],
      type: 'worker',
      workerJob: { jobId, previousType: 'rdonly', since: new Date().toISOString(), pid, hostname: os.hostname() },
    };
    writeFileSync(file, JSON.stringify(t, null, 2));
    return file;
  }

  test('the source replica killed mid-copy: the copy fails, cleanup says what it could not undo and what it did', async () => {
    await resetDestinations(c, DB);
    const topoFile = topology();
    const jobs = await controller(topoFile, 2000);
    await jobs.start({ command: 'SplitClone', keyspace: 'ks', shard: '0', options: SLOW });
    try {
      await until('rows copied', () => jobs.snapshot().totals.rowsCopied >= 20);
      await kill(rdonly);
      await jobs.settled();
      const final = jobs.snapshot();
      assert.equal(final.state, 'error');
      const error = final.error ?? '';
      // The copy's own failure first, naming the tablet it could not read from…
      assert.match(
        error,
        /^reading t \(chunk \d+\): still failing after \d+ attempts over \d+s \(--retry-duration\): reading t \(chunk \d+\) on zone1-101 [^;]*ECONNREFUSED[^;]*; then /,
      );
      // …then what cleanup left: replication not restarted (and why), the type restored.
      assert.match(
        error,
        /; then cleanup failed: not undone: restart replication on zone1-101 \(starting replication on zone1-101 \(127\.0\.0\.1:\d+\/t_recover\): connect ECONNREFUSED [^)]*\); undone: restore zone1-101 to rdonly$/,
      );
      assert.equal((await readTopologyFile(topoFile)).tablets['zone1-101'].type, 'rdonly');
    } finally {
      await replicaWhole();
    }
    assert.equal((await replicationStatus(c.rdonly)).running, true);
  });

  test('recover gives back a tablet whose worker is gone: replication restarted, type restored', async () => {
    const pid = deadPid();
    const topoFile = heldTopology(pid, 'dead-job');
    await sql(c.rdonly, 'STOP SLAVE');
    try {
      const r = await cli(['--topo', `file:${topoFile}`, 'recover']);
      assert.equal(r.code, 0, r.out + r.err);
      assert.equal(r.out.trim(), `zone1-101: replication restarted, type restored to rdonly (was held by job dead-job, pid ${pid} gone)`);
      const t = await readTopologyFile(topoFile);
      assert.equal(t.tablets['zone1-101'].type, 'rdonly');
      assert.equal(t.tablets['zone1-101'].workerJob, undefined);
      await until('replication running', async () => (await replicationStatus(c.rdonly)).running, 10_000);
    } finally {
      await replicaWhole();
    }
  });

  test('recover leaves a tablet whose worker still runs', async () => {
    const topoFile = heldTopology(process.pid, 'live-job');
    await sql(c.rdonly, 'STOP SLAVE');
    try {
      const r = await cli(['--topo', `file:${topoFile}`, 'recover', 'ks/0']);
      assert.equal(r.code, 0, r.out + r.err);
      assert.equal(r.out.trim(), 'zone1-101: left as it is: held by job live-job, whose process is not known to be gone');
      const t = await readTopologyFile(topoFile);
      assert.equal(t.tablets['zone1-101'].type, 'worker');
      assert.equal(t.tablets['zone1-101'].workerJob?.jobId, 'live-job');
      assert.equal((await replicationStatus(c.rdonly)).running, false);
    } finally {
      await replicaWhole();
    }
  });

  test('a new clone on a tablet a dead worker holds names it and suggests --resume or recover', async () => {
    const pid = deadPid();
    const topoFile = heldTopology(pid, 'dead-job');
    const final = await runJob(topoFile, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} });
    assert.equal(final.state, 'error');
    assert.equal(
      final.error,
      `no healthy rdonly tablet in ks/0: zone1-101 is already taken by worker job dead-job (pid ${pid} on ${os.hostname()}, which is gone): `
        + 'finish that copy with --resume, or give the tablet back with `shardworker recover`',
    );
    // Nothing was changed: the tablet is still held as it was.
    assert.equal((await readTopologyFile(topoFile)).tablets['zone1-101'].workerJob?.jobId, 'dead-job');
  });
});
