// End to end, real binlog: a SplitClone 1→3 under a write load on the source primary, then the streams carry the
// load over; once it stops and every stream stands at the source's position, every destination table equals the
// source rows of its key range, byte for byte. Then the same with the daemon SIGKILLed mid-load and restarted.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { before, describe, test } from 'node:test';
import type { StreamManager } from '../../src/stream/manager.ts';
import { resetDestinations, runJob, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { instanceAt, kill, restart, sleep, until } from '../helpers/faults.ts';
import { assertSplitExact, reached, sourcePosition, testStreams, untilStreamsAt } from '../helpers/stream-exact.ts';
import { WriteLoad } from '../helpers/write-load.ts';

const SHARDS = ['-55', '55-aa', 'aa-'];
let c: TestCluster;

async function checkpointPositions(db: string): Promise<string[]> {
  void db;
  return Promise.all(SHARDS.map(async (_s, i) => String((await sql(c.dests[i], 'SELECT pos FROM _vt.blp_checkpoint'))[0]?.pos ?? '')));
}

/** Every destination holds exactly the source rows of its key range, byte for byte. */
function assertExact(db: string): Promise<void> {
  return assertSplitExact(c.primary, c.dests, SHARDS, db);
}

/** The daemon's streams on the clone's topology (not opened yet). */
function manager(topoFile: string, retryDuration = 60_000): Promise<StreamManager> {
  return testStreams(topoFile, { retryDuration });
}

/** Waits until every stream stands at the source's position now; fails at once if one stopped in error. */
async function allReach(m: StreamManager, timeoutMs = 120_000): Promise<void> {
  await untilStreamsAt(m, await sourcePosition(c.primary), timeoutMs);
}

/** A clone of a seeded database into the three destinations; returns the topology file. */
async function cloned(db: string, load: WriteLoad, rows: number): Promise<string> {
  await resetDestinations(c, db);
  await load.seed(rows, c.rdonly);
  const topoFile = writeTopology(c, layout(db));
  const status = await runJob(topoFile, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} });
  assert.equal(status.state, 'done', status.error ?? '');
  return topoFile;
}

function layout(db: string) {
  return { keyspace: 'ks', sources: [{ shard: '0', dbName: db }], destinations: SHARDS.map((shard, instance) => ({ shard, instance, dbName: db })) };
}

describe('streams after a SplitClone 1→3, real binlog', () => {
  before(async () => {
    c = await testCluster();
  });

  test('a write load during and after the clone arrives exactly on every destination', async () => {
    const db = 'st_e2e';
    await resetDestinations(c, db);
    const load = new WriteLoad(c.primary, db, 7);
    await load.seed(3000, c.rdonly);
    const topoFile = writeTopology(c, layout(db));
    load.start();
    const status = await runJob(topoFile, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} });
    assert.equal(status.state, 'done', status.error ?? '');
    const clonedAt = load.transactions;

    const manager = await testStreams(topoFile);
    await manager.open();
    try {
      assert.equal(manager.snapshot().length, 3);
      await sleep(3000);
      await load.stop();
      assert.deepEqual(load.errors, []);
      assert.ok(load.transactions - clonedAt > 10, `only ${load.transactions - clonedAt} transactions after the clone`);
      const target = await sourcePosition(c.primary);
      await untilStreamsAt(manager, target);
      for (const p of await checkpointPositions(db)) assert.ok(reached(p, target), `checkpoint ${p} reaches ${target}`);
      await assertExact(db);
      const applied = manager.snapshot().reduce((n, s) => n + s.rowsApplied, 0);
      assert.ok(applied > 0);
      await until('caught up', () => manager.snapshot().every((s) => s.secondsBehind === 0), 10_000);
    } finally {
      await manager.close();
    }
  });

  test('a SIGKILLed daemon resumes every stream exactly from its checkpoint', async () => {
    const db = 'st_kill';
    await resetDestinations(c, db);
    const load = new WriteLoad(c.primary, db, 11);
    await load.seed(1000, c.rdonly);
    const topoFile = writeTopology(c, layout(db));
    const status = await runJob(topoFile, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} });
    assert.equal(status.state, 'done', status.error ?? '');
    const serve = (): ChildProcess =>
      spawn(process.execPath, ['bin/shardworker.js', '--topo', `file:${topoFile}`, '--port', '0', '--log-level', 'warn', 'serve'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    load.start(1);
    let daemon = serve();
    await sleep(4000);
    daemon.kill('SIGKILL');
    await new Promise((r) => daemon.once('exit', r));
    await sleep(1500); // the load goes on while no daemon runs
    daemon = serve();
    let stderr = '';
    daemon.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await sleep(3000);
      await load.stop();
      assert.deepEqual(load.errors, []);
      const target = await sourcePosition(c.primary);
      await until(`checkpoints at ${target}`, async () => (await checkpointPositions(db)).every((p) => reached(p, target)), 120_000);
      await assertExact(db);
    } finally {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.once('exit', r));
    }
    assert.doesNotMatch(stderr, /error/i);
  });

  test('a destination primary killed and restarted mid-load: the streams resume and stay exact', async () => {
    const db = 'st_dkill';
    const load = new WriteLoad(c.primary, db, 13);
    const topoFile = await cloned(db, load, 500);
    const m = await manager(topoFile);
    await m.open();
    const spec = await instanceAt(c.dests[1].port);
    try {
      load.start(1);
      await sleep(2000);
      await kill(spec);
      await sleep(2000);
      await restart(spec);
      await sleep(2000);
      await load.stop();
      assert.deepEqual(load.errors, []);
      await allReach(m);
      assert.ok(m.snapshot().find((s) => s.shard === '55-aa')!.retries > 0, 'the stream to the killed destination retried');
      await assertExact(db);
    } finally {
      await restart(spec);
      await m.close();
    }
  });

  test('stop keeps a stream stopped across daemons (DontStart); start resumes it exactly', async () => {
    const db = 'st_stop';
    const load = new WriteLoad(c.primary, db, 17);
    const topoFile = await cloned(db, load, 300);
    const m = await manager(topoFile);
    await m.open();
    try {
      const stopped = await m.stop('ks', '-55');
      assert.deepEqual(
        stopped.map((s) => s.state),
        ['stopped'],
      );
      assert.match(String((await sql(c.dests[0], 'SELECT flags FROM _vt.blp_checkpoint'))[0].flags), /DontStart/);
      load.start(1);
      await sleep(1500);
      await load.stop();
      await m.close();
      const again = await manager(topoFile);
      await again.open();
      try {
        await sleep(500);
        assert.deepEqual(
          again.snapshot().map((s) => s.state),
          ['stopped', 'running', 'running'],
        );
        await again.start('ks', '-55');
        assert.equal(String((await sql(c.dests[0], 'SELECT flags FROM _vt.blp_checkpoint'))[0].flags), '');
        await allReach(again);
        await assertExact(db);
      } finally {
        await again.close();
      }
    } finally {
      await m.close();
    }
  });

  test('a row changed by hand on a destination stops its stream naming the key; ALTER TABLE on the source stops every stream naming it', async () => {
    const db = 'st_diverge';
    const load = new WriteLoad(c.primary, db, 19);
    const topoFile = await cloned(db, load, 200);
    const m = await manager(topoFile);
    await m.open();
    try {
      await allReach(m);
      // A row of the first destination deleted there by hand; then the source updates it.
      const [victim] = await sql(c.dests[0], `SELECT CAST(id AS CHAR) AS id FROM ${db}.types ORDER BY id LIMIT 1`);
      await sql(c.dests[0], `DELETE FROM ${db}.types WHERE id = ${victim.id}`);
      await sql(c.primary, `UPDATE ${db}.types SET name = 'changed' WHERE id = ${victim.id}`);
      await until('the stream stops in error', () => m.snapshot()[0].state === 'error');
      assert.match(
        m.snapshot()[0].lastError ?? '',
        new RegExp(`update of types \\(id=${victim.id}\\) in source transaction 0-100-\\d+ .*found no row with that key`),
      );
      assert.ok(
        m
          .snapshot()
          .slice(1)
          .every((s) => s.state === 'running'),
      );
      await sql(c.primary, `ALTER TABLE ${db}.pairs ADD COLUMN extra INT`);
      await until('the other streams stop in error', () =>
        m
          .snapshot()
          .slice(1)
          .every((s) => s.state === 'error'),
      );
      for (const s of m.snapshot().slice(1)) assert.match(s.lastError ?? '', /DDL on a streamed table .*ALTER TABLE .*pairs ADD COLUMN extra INT/);
    } finally {
      await m.close();
    }
  });

  test('the source primary killed and restarted mid-load: the streams reconnect from their checkpoints and stay exact', async () => {
    const db = 'st_skill';
    const load = new WriteLoad(c.primary, db, 29);
    const topoFile = await cloned(db, load, 300);
    const m = await manager(topoFile);
    await m.open();
    const spec = await instanceAt(c.primary.port);
    try {
      load.start(1);
      await sleep(1500);
      await kill(spec);
      await sleep(1500);
      await restart(spec);
      await sleep(2000);
      await load.stop(); // its transactions cut by the kill failed at the client; the source's rows are the truth
      await allReach(m);
      assert.ok(
        m.snapshot().every((s) => s.retries > 0),
        'every stream retried',
      );
      await assertExact(db);
    } finally {
      await restart(spec);
      await m.close();
    }
  });
});
