// End to end, real binlog and real streams: a SplitClone 1→3 whose streams keep the destinations current, then
// MigrateServedTypes rdonly, replica and primary while a routed write load runs (each write goes where the
// topology says, retried when refused as a proxy would), and back with --reverse primary, replica, rdonly. Every
// acknowledged write must end up on the side that serves, byte for byte, and the other side must follow it.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { contains, parseShardName } from '../../src/keyrange/keyrange.ts';
import { uint64KeyspaceId } from '../../src/keyrange/keyspace-id.ts';
import type { JobController } from '../../src/worker/controller.ts';
import type { StatusSnapshot } from '../../src/worker/status.ts';
import { readTopologyFile, resetDestinations, runJob, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { sleep, until } from '../helpers/faults.ts';
import { connect } from '../../src/sandbox/index.ts';
import { createAppUser, RoutedLoad } from '../helpers/routed-load.ts';
import { readRows } from '../helpers/rows.ts';
import { migrateOn, positionOf, readOnly, runOn, streamsCaughtUp, testDaemon, type TestDaemon } from '../helpers/cutover.ts';

const SHARDS = ['-55', '55-aa', 'aa-'];
const KSID_COLUMN = 1;

let c: TestCluster;

function layout(db: string) {
  return { keyspace: 'ks', sources: [{ shard: '0', dbName: db }], destinations: SHARDS.map((shard, instance) => ({ shard, instance, dbName: db })) };
}

function migrate(jobs: JobController, servedType: string, options: Record<string, unknown> = {}): Promise<StatusSnapshot> {
  return migrateOn(jobs, 'ks', '0', servedType, options);
}

function served(topo: Awaited<ReturnType<typeof readTopologyFile>>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(topo.keyspaces.ks.shards).map(([name, s]) => [name, s.servedTypes]));
}

/** Every acknowledged write is on `side` (the union of its tables), and nothing else is; byte for byte. */
async function assertHolds(load: RoutedLoad, ports: number[], db: string, what: string, others: RoutedLoad[] = []): Promise<number> {
  const expected = await load.expectedRows({ port: ports[0] }, `${db}_expected`, others);
  const got = new Map<string, string>();
  for (const port of ports) for (const [k, v] of await readRows({ port }, db, 'acct')) got.set(k, v);
  const missing = [...expected.keys()].filter((k) => !got.has(k)).slice(0, 5);
  const extra = [...got.keys()].filter((k) => !expected.has(k)).slice(0, 5);
  const differ = [...expected.keys()].filter((k) => got.has(k) && got.get(k) !== expected.get(k)).slice(0, 3);
  assert.deepEqual({ missing, extra, differ: differ.map((k) => [k, expected.get(k), got.get(k)]) }, { missing: [], extra: [], differ: [] }, what);
  assert.equal(got.size, expected.size, what);
  return expected.size;
}

/** Each destination holds exactly the rows of the source in its key range, byte for byte. */
async function assertDestinationsEqualSource(db: string): Promise<void> {
  const source = await readRows(c.primary, db, 'acct');
  let total = 0;
  for (const [i, shard] of SHARDS.entries()) {
    const range = parseShardName(shard);
    const expected = new Map([...source].filter(([, v]) => contains(range, uint64KeyspaceId(BigInt(v.split('|')[KSID_COLUMN])))));
    const got = await readRows(c.dests[i], db, 'acct');
    total += got.size;
    assert.deepEqual([...got].sort(), [...expected].sort(), `acct on ${shard} equals the source's rows of its range`);
  }
  assert.equal(total, source.size);
}

/** A SplitClone 1→3 done under a routed load (still running), its streams caught up in a daemon of this process. */
async function cloned(db: string, seed: number): Promise<{ topoFile: string; load: RoutedLoad; d: TestDaemon }> {
  await resetDestinations(c, db);
  // A cutover leaves the side that gave up the primary read-only: the shared instances start writable.
  for (const at of [c.primary, ...c.dests]) await sql(at, 'SET GLOBAL read_only = 0');
  await sql(c.primary, 'DROP DATABASE IF EXISTS `_vt`');
  const topoFile = writeTopology(c, layout(db));
  const load = new RoutedLoad(topoFile, 'ks', db, seed);
  await load.seed(2000);
  load.start(200);
  const clone = await runJob(topoFile, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} });
  assert.equal(clone.state, 'done', clone.error ?? '');
  const d = await testDaemon(topoFile);
  await until('streams caught up', () => d.streams.snapshot().length === 3 && d.streams.snapshot().every((s) => s.secondsBehind === 0), 60_000);
  return { topoFile, load, d };
}

/** A source row's values, as an INSERT takes them back. */
async function sourceRow(db: string, id: number): Promise<unknown[]> {
  const [row] = await sql(
    c.primary,
    `SELECT id, CAST(keyspace_id AS CHAR) AS keyspace_id, v, HEX(bin) AS bin, CAST(amount AS CHAR) AS amount, CAST(at AS CHAR) AS at, CONCAT(js) AS js, n FROM \`${db}\`.acct WHERE id = ?`,
    [id],
  );
  return [row.id, row.keyspace_id, row.v, row.bin, row.amount, row.at, row.js, row.n];
}

describe('MigrateServedTypes on real streams, under a routed write load', () => {
  before(async () => {
    c = await testCluster();
    await createAppUser([c.primary, ...c.dests]);
  });

  after(async () => {
    // The instances are shared with later test files: every one takes writes again.
    for (const at of [c.primary, ...c.dests]) await sql(at, 'SET GLOBAL read_only = 0');
  });

  test('rdonly, replica, primary while writes go on; then back with --reverse; nothing acknowledged is lost', async () => {
    const db = 'cut_e2e';
    const { topoFile, load, d } = await cloned(db, 3);
    try {
      // Out of order: primary before replica is refused, and nothing changes.
      const early = await migrate(d.jobs, 'primary');
      assert.equal(early.state, 'error');
      assert.match(early.error ?? '', /rdonly is not migrated yet .*migrate rdonly and replica first/);
      assert.equal(await readOnly(c.primary.port), false);

      for (const type of ['rdonly', 'replica']) {
        const s = await migrate(d.jobs, type);
        assert.equal(s.state, 'done', s.error ?? '');
        assert.equal(s.cutover?.steps[0].state, 'done');
      }
      assert.deepEqual(served(await readTopologyFile(topoFile)), {
        '0': ['primary'],
        '-55': ['replica', 'rdonly'],
        '55-aa': ['replica', 'rdonly'],
        'aa-': ['replica', 'rdonly'],
      });

      // Forward primary, the load still writing.
      await sleep(500);
      const beforeFlip = load.acknowledged;
      const primary = await migrate(d.jobs, 'primary');
      assert.equal(primary.state, 'done', primary.error ?? '');
      const cut = primary.cutover!;
      assert.deepEqual(
        cut.steps.map((s) => s.state),
        ['done', 'done', 'done', 'done', 'done', 'done'],
      );
      assert.ok(cut.writePauseMs !== null && cut.writePauseMs > 0);
      assert.ok(Object.keys(cut.positions.from).length === 1 && Object.keys(cut.positions.to).length === 3);
      console.log(
        `# forward primary: write pause ${cut.writePauseMs} ms (steps ${cut.steps.map((s) => `${s.name} ${s.ms} ms`).join(', ')}); longest client write so far ${Math.round(load.longestWriteMs)} ms; refusals ${JSON.stringify([...load.refusals])}`,
      );
      const topo = await readTopologyFile(topoFile);
      assert.deepEqual(served(topo), {
        '0': [],
        '-55': ['primary', 'replica', 'rdonly'],
        '55-aa': ['primary', 'replica', 'rdonly'],
        'aa-': ['primary', 'replica', 'rdonly'],
      });
      assert.deepEqual(
        topo.keyspaces.ks.shards['0'].sourceShards.map((s) => [s.uid, s.shard]),
        [
          [0, '-55'],
          [1, '55-aa'],
          [2, 'aa-'],
        ],
      );
      for (const shard of SHARDS) assert.deepEqual(topo.keyspaces.ks.shards[shard].sourceShards, []);
      assert.equal(await readOnly(c.primary.port), true, 'the source stays read-only');
      for (const dst of c.dests) assert.equal(await readOnly(dst.port), false);

      // The load now writes to the destinations; the reverse streams carry it to the source.
      await until('writes land on the destinations', () => c.dests.every((dst) => (load.byPort.get(dst.port) ?? 0) > 5), 30_000);
      assert.ok(load.acknowledged > beforeFlip);
      const reverse = d.streams.snapshot();
      assert.deepEqual(
        reverse.map((s) => [s.keyspace, s.shard, s.source, s.state]),
        [
          ['ks', '0', 'ks/-55', 'running'],
          ['ks', '0', 'ks/55-aa', 'running'],
          ['ks', '0', 'ks/aa-', 'running'],
        ],
      );
      // A pause in the load: every acknowledged write so far is on the destinations, and the source has followed.
      await load.stop();
      await assertHolds(
        load,
        c.dests.map((dst) => dst.port),
        db,
        'every acknowledged write is on the destinations',
      );
      await streamsCaughtUp(d.streams, topoFile);
      await assertDestinationsEqualSource(db);
      load.start(200);
      await sleep(1000);

      // Back: --reverse primary (the rollback on the reverse streams), then replica and rdonly.
      const back = await migrate(d.jobs, 'primary', { reverse: true });
      assert.equal(back.state, 'done', back.error ?? '');
      console.log(`# reverse primary: write pause ${back.cutover!.writePauseMs} ms; longest client write ${Math.round(load.longestWriteMs)} ms`);
      assert.equal(await readOnly(c.primary.port), false);
      for (const dst of c.dests) assert.equal(await readOnly(dst.port), true, 'the destinations are read-only again');
      for (const type of ['replica', 'rdonly']) {
        const s = await migrate(d.jobs, type, { reverse: true });
        assert.equal(s.state, 'done', s.error ?? '');
      }
      const home = await readTopologyFile(topoFile);
      assert.deepEqual(served(home), { '0': ['primary', 'replica', 'rdonly'], '-55': [], '55-aa': [], 'aa-': [] });
      assert.deepEqual(home.keyspaces.ks.shards['0'].sourceShards, []);
      for (const shard of SHARDS)
        assert.deepEqual(
          home.keyspaces.ks.shards[shard].sourceShards.map((s) => s.shard),
          ['0'],
        );

      // The destinations follow the source again.
      await sleep(1500);
      await load.stop();
      assert.ok((load.byPort.get(c.primary.port) ?? 0) > 0);
      await streamsCaughtUp(d.streams, topoFile);
      const rows = await assertHolds(load, [c.primary.port], db, 'every acknowledged write of both phases is on the source');
      await assertDestinationsEqualSource(db);
      console.log(`# ${load.acknowledged} writes acknowledged, ${rows} rows; by port ${JSON.stringify([...load.byPort])}`);
    } finally {
      await load.stop().catch(() => {});
      await d.close();
    }
  });

  test('a stream held back makes primary fail at the wait and change nothing; a stream in error is refused; then the pause at 500 writes/s', async () => {
    const db = 'cut_held';
    const { topoFile, load, d } = await cloned(db, 5);
    let unlock: (() => Promise<void>) | null = null;
    const extra: RoutedLoad[] = [];
    try {
      assert.equal((await migrate(d.jobs, 'rdonly')).state, 'done');
      // Mid-cutover (the destinations serve rdonly, so servedTypes no longer tell them from the source), a SplitDiff of
      // a destination still finds its split, through sourceShards, and proves it equal. (The load pauses: the diff
      // stops the rdonly at the destination's checkpoint, which a replica ahead of a running stream is already past.)
      await load.stop();
      await streamsCaughtUp(d.streams, topoFile);
      const diff = await runOn(d.jobs, { command: 'SplitDiff', keyspace: 'ks', shard: '55-aa', options: {} });
      load.start(200);
      assert.equal(diff.state, 'done', diff.error ?? '');
      const acct = diff.tables.find((t) => t.name === 'acct')!.diff!;
      assert.ok(acct.processed > 0 && acct.matching === acct.processed, acct.summary);
      console.log(`# SplitDiff ks/55-aa after rdonly moved: ${acct.summary}`);
      assert.equal((await migrate(d.jobs, 'replica')).state, 'done');
      const topoBefore = await readTopologyFile(topoFile);
      const rowsBefore = await sql(c.primary, 'SELECT source_shard_uid AS uid, HEX(pos) AS pos, flags FROM _vt.blp_checkpoint ORDER BY 1').catch(() => []);

      // A destination table locked: its stream cannot apply, so it falls behind the stopped source.
      const locker = await connect(c.dests[1]);
      await locker.query(`LOCK TABLES \`${db}\`.acct WRITE`);
      unlock = async () => {
        await locker.query('UNLOCK TABLES').catch(() => {});
        await locker.end().catch(() => {});
      };
      await until('the load reaches the locked shard', async () => (await positionOf(c.primary.port)) !== d.streams.snapshot()[1].position, 10_000);
      await sleep(300);
      const held = await migrate(d.jobs, 'primary', { waitTimeout: '2s' });
      assert.equal(held.state, 'error');
      assert.match(
        held.error ?? '',
        /streams reach their positions failed: the streams did not reach the sources' positions within --wait-timeout 2s: ks\/0 -> ks\/55-aa is behind by \d+ transaction\(s\) in domain \d+ \(at MariaDB\/[-0-9,]+, needs MariaDB\/[-0-9,]+; (\d+|\?) s behind\)/,
      );
      assert.match(held.error ?? '', /undone: .*allow writes on zone1-100 again.*; the topology is unchanged/);
      assert.deepEqual(
        held.cutover!.steps.map((s) => s.state),
        ['undone', 'failed', 'waiting', 'waiting', 'waiting', 'waiting'],
      );
      assert.equal(await readOnly(c.primary.port), false, 'the source takes writes again');
      for (const dst of c.dests) assert.equal(await readOnly(dst.port), false);
      assert.deepEqual(await readTopologyFile(topoFile), topoBefore, 'the topology is unchanged');
      assert.deepEqual(
        await sql(c.primary, 'SELECT source_shard_uid AS uid, HEX(pos) AS pos, flags FROM _vt.blp_checkpoint ORDER BY 1'),
        rowsBefore,
        'no reverse stream recorded',
      );
      const acked = load.byPort.get(c.primary.port) ?? 0;
      await until('the source takes the load again', () => (load.byPort.get(c.primary.port) ?? 0) > acked + 5, 10_000);
      await unlock();
      unlock = null;
      assert.deepEqual(
        d.streams.snapshot().map((s) => s.state),
        ['running', 'running', 'running'],
        'the streams run on',
      );
      await until('streams caught up', () => d.streams.snapshot().every((s) => s.secondsBehind === 0), 60_000);

      // A stream in error: a row deleted by hand on a destination, then deleted on the source too.
      await load.stop();
      await streamsCaughtUp(d.streams, topoFile);
      const victim = Number((await sql(c.dests[0], `SELECT id FROM \`${db}\`.acct ORDER BY id LIMIT 1`))[0].id);
      const saved = await sourceRow(db, victim);
      await sql(c.dests[0], `SET SESSION sql_log_bin = 0; DELETE FROM \`${db}\`.acct WHERE id = ${victim}`);
      await sql(c.primary, `DELETE FROM \`${db}\`.acct WHERE id = ${victim}`);
      load.expected.delete(victim);
      await until('the stream stops in error', () => d.streams.snapshot()[0].state === 'error', 20_000);
      const refused = await migrate(d.jobs, 'primary');
      assert.equal(refused.state, 'error');
      assert.match(refused.error ?? '', /refused: stream ks\/0 -> ks\/-55 is in error: /);
      assert.equal(await readOnly(c.primary.port), false);
      // Repaired by hand (the row put back as it was), the stream goes on.
      await sql(c.dests[0], `SET SESSION sql_log_bin = 0; INSERT INTO \`${db}\`.acct VALUES (?, ?, ?, UNHEX(?), ?, ?, ?, ?)`, saved);
      await d.streams.resume('ks', '-55');
      await until('streams caught up again', () => d.streams.snapshot().every((s) => s.state === 'running' && s.secondsBehind === 0), 30_000);

      // The pause under a steady ~500 writes/s: eight writers of about 63/s each.
      const writers = [load, ...Array.from({ length: 7 }, (_v, i) => new RoutedLoad(topoFile, 'ks', db, 10 + i, (i + 1) * 1_000_000))];
      extra.push(...writers.slice(1));
      for (const w of writers) w.start(63);
      await sleep(3000);
      const count = () => writers.reduce((n, w) => n + w.acknowledged, 0);
      const ackedBefore = count();
      const startedAt = performance.now();
      const cut = await migrate(d.jobs, 'primary');
      assert.equal(cut.state, 'done', cut.error ?? '');
      await sleep(2000);
      const rate = (count() - ackedBefore) / ((performance.now() - startedAt) / 1000);
      console.log(
        `# at ${Math.round(rate)} writes/s acknowledged: write pause ${cut.cutover!.writePauseMs} ms (${cut.cutover!.steps.map((s) => `${s.name} ${s.ms} ms`).join(', ')}); longest client write of the writers started for it ${Math.round(Math.max(...writers.slice(1).map((w) => w.longestWriteMs)))} ms`,
      );
      for (const w of writers) await w.stop();
      await streamsCaughtUp(d.streams, topoFile);
      await assertHolds(
        load,
        c.dests.map((dst) => dst.port),
        db,
        'every acknowledged write is on the destinations',
        writers.slice(1),
      );
      await assertDestinationsEqualSource(db);
    } finally {
      await unlock?.();
      await load.stop().catch(() => {});
      for (const w of extra) await w.stop().catch(() => {});
      await d.close();
    }
  });
});
