// End to end, real binlog and real streams: a VerticalSplitClone moves table `acct` from keyspace `src` to keyspace
// `dst` (servedFrom src) while a routed load writes it (each write goes where the topology says: to src until dst
// serves primary) and a second load writes table `stay`, which stays in src. Then MigrateServedTypes dst/0 rdonly,
// replica, primary, and back with --reverse primary, replica, rdonly. Every acknowledged write must end up on the
// side that serves, byte for byte, the other side must follow it, and the source must write `stay` on throughout:
// a vertical cutover stops writes to the moved tables alone.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import { connect } from '../../src/sandbox/index.ts';
import { readTopologyFile, runJob, sql, testCluster, type TestCluster } from '../helpers/cluster.ts';
import { migrateOn, readOnly, streamsCaughtUp, testDaemon } from '../helpers/cutover.ts';
import { sleep, until } from '../helpers/faults.ts';
import { APP_USER, createAppUser, RoutedLoad } from '../helpers/routed-load.ts';
import { readRows } from '../helpers/rows.ts';
import { writeVerticalTopology } from '../helpers/vertical.ts';

const SRC_DB = 'vcut_src';
const DST_DB = 'vcut_dst';
const ALL = ['primary', 'replica', 'rdonly'];

let c: TestCluster;

/** An application write (as the load's user), returning the server's refusal or null. */
async function appWrite(port: number, db: string, statement: string): Promise<string | null> {
  const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: APP_USER, password: '', database: db });
  try {
    await conn.query(statement);
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await conn.end();
  }
}

/** Every acknowledged write of `load` is in `table` on `at`, and nothing else; byte for byte. */
async function assertHolds(load: RoutedLoad, at: { port: number }, db: string, table: string, what: string): Promise<number> {
  const expected = await load.expectedRows(at, `${db}_expected`);
  const got = await readRows(at, db, table);
  const missing = [...expected.keys()].filter((k) => !got.has(k)).slice(0, 5);
  const extra = [...got.keys()].filter((k) => !expected.has(k)).slice(0, 5);
  const differ = [...expected.keys()].filter((k) => got.has(k) && got.get(k) !== expected.get(k)).slice(0, 3);
  assert.deepEqual({ missing, extra, differ: differ.map((k) => [k, expected.get(k), got.get(k)]) }, { missing: [], extra: [], differ: [] }, what);
  assert.equal(got.size, expected.size, what);
  return expected.size;
}

/** The moved table is the same on both sides, byte for byte. */
async function assertSidesEqual(what: string): Promise<void> {
  const source = await readRows(c.primary, SRC_DB, 'acct');
  const dest = await readRows(c.dests[0], DST_DB, 'acct');
  assert.deepEqual([...dest].sort(), [...source].sort(), what);
}

describe('MigrateServedTypes of a vertical split, under routed write loads', () => {
  before(async () => {
    c = await testCluster();
    await createAppUser([c.primary, ...c.dests]);
  });

  after(async () => {
    for (const at of [c.primary, ...c.dests]) await sql(at, 'SET GLOBAL read_only = 0');
    // The deny triggers go with the databases.
    await sql(c.primary, `DROP DATABASE IF EXISTS \`${SRC_DB}\``);
    await sql(c.dests[0], `DROP DATABASE IF EXISTS \`${DST_DB}\``);
  });

  test('rdonly, replica, primary of dst/0 while writes go on; a held stream fails primary and changes nothing; back with --reverse', async () => {
    for (const at of [c.primary, ...c.dests]) await sql(at, 'SET GLOBAL read_only = 0');
    await sql(c.primary, 'DROP DATABASE IF EXISTS `_vt`');
    await sql(c.dests[0], `DROP DATABASE IF EXISTS \`${DST_DB}\`; DROP DATABASE IF EXISTS \`_vt\``);
    const topoFile = writeVerticalTopology(c, { sourceDb: SRC_DB, destDb: DST_DB, destInstance: 0 });
    const moved = new RoutedLoad(topoFile, 'dst', SRC_DB, 7);
    const stay = new RoutedLoad(topoFile, 'src', SRC_DB, 8, 0, 'stay');
    await moved.seed(1500);
    await stay.seed(300, { keepDatabase: true });
    moved.start(150);
    stay.start(100);
    const clone = await runJob(topoFile, { command: 'VerticalSplitClone', keyspace: 'dst', shard: '0', options: { tables: ['acct'] } });
    assert.equal(clone.state, 'done', clone.error ?? '');
    const d = await testDaemon(topoFile);
    let unlock: (() => Promise<void>) | null = null;
    try {
      await until('the stream caught up', () => d.streams.snapshot().length === 1 && d.streams.snapshot()[0].secondsBehind === 0, 60_000);

      // Refusals before anything changes: named by the source; primary before rdonly and replica.
      const bySource = await migrateOn(d.jobs, 'src', '0', 'rdonly');
      assert.equal(bySource.error, 'src/0 is the source of a vertical split: MigrateServedTypes names a vertical split by its destination (dst/0)');
      const early = await migrateOn(d.jobs, 'dst', '0', 'primary');
      assert.match(early.error ?? '', /refused: rdonly is not migrated yet \(dst\/0 do not serve rdonly\); migrate rdonly and replica first/);

      for (const type of ['rdonly', 'replica']) {
        const s = await migrateOn(d.jobs, 'dst', '0', type);
        assert.equal(s.state, 'done', s.error ?? '');
      }
      const mid = await readTopologyFile(topoFile);
      assert.deepEqual([mid.keyspaces.src.shards['0'].servedTypes, mid.keyspaces.dst.shards['0'].servedTypes], [ALL, ['replica', 'rdonly']]);

      // A destination table locked: the stream cannot apply, so primary fails at the wait and undoes step 1.
      const locker = await connect(c.dests[0]);
      await locker.query(`LOCK TABLES \`${DST_DB}\`.acct WRITE`);
      unlock = async () => {
        await locker.query('UNLOCK TABLES').catch(() => {});
        await locker.end().catch(() => {});
      };
      await sleep(500);
      const topoBefore = await readTopologyFile(topoFile);
      const held = await migrateOn(d.jobs, 'dst', '0', 'primary', { waitTimeout: '2s' });
      assert.equal(held.state, 'error');
      assert.match(
        held.error ?? '',
        /streams reach their positions failed: the streams did not reach the sources' positions within --wait-timeout 2s: src\/0 -> dst\/0 is behind by \d+ transaction\(s\) in domain \d+/,
      );
      assert.match(held.error ?? '', /undone: allow writes to acct on zone1-100 again; the topology is unchanged/);
      assert.deepEqual(await readTopologyFile(topoFile), topoBefore, 'the topology is unchanged');
      assert.equal(
        Number((await sql(c.primary, 'SELECT COUNT(*) AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?', [SRC_DB]))[0].n),
        0,
        'no deny trigger is left',
      );
      const acked = moved.byPort.get(c.primary.port) ?? 0;
      await until('the source takes writes to acct again', () => (moved.byPort.get(c.primary.port) ?? 0) > acked + 5, 10_000);
      await unlock();
      unlock = null;
      await until('the stream caught up again', () => d.streams.snapshot()[0].state === 'running' && d.streams.snapshot()[0].secondsBehind === 0, 60_000);

      // Forward primary, both loads writing.
      await sleep(500);
      const stayBefore = stay.byPort.get(c.primary.port) ?? 0;
      const primary = await migrateOn(d.jobs, 'dst', '0', 'primary');
      assert.equal(primary.state, 'done', primary.error ?? '');
      const cut = primary.cutover!;
      assert.deepEqual(
        cut.steps.map((s) => s.state),
        ['done', 'done', 'done', 'done', 'done', 'done'],
      );
      assert.match(cut.steps[0].detail ?? '', /^writes to acct refused on zone1-100 \(other tables write on\)/);
      console.log(
        `# vertical forward primary: write pause of acct ${cut.writePauseMs} ms (${cut.steps.map((s) => `${s.name} ${s.ms} ms`).join(', ')}); longest client write of acct ${Math.round(moved.longestWriteMs)} ms, of stay (not moved) ${Math.round(stay.longestWriteMs)} ms`,
      );
      const topo = await readTopologyFile(topoFile);
      assert.deepEqual([topo.keyspaces.src.shards['0'].servedTypes, topo.keyspaces.dst.shards['0'].servedTypes], [ALL, ALL]);
      assert.deepEqual(topo.keyspaces.dst.shards['0'].sourceShards, []);
      assert.deepEqual(topo.keyspaces.src.shards['0'].sourceShards, [{ uid: 0, keyspace: 'dst', shard: '0', keyRange: '-', tables: ['acct'] }]);
      assert.equal(await readOnly(c.primary.port), false, 'the source serves its other tables on');
      assert.match(
        (await appWrite(c.primary.port, SRC_DB, 'DELETE FROM acct WHERE id = 1')) ?? 'accepted',
        /table moved to dst\/0 \(MigrateServedTypes\); write it there/,
        'acct refuses application writes on the source',
      );
      await until(
        'acct is written on the destination, stay on the source',
        () => (moved.byPort.get(c.dests[0].port) ?? 0) > 5 && (stay.byPort.get(c.primary.port) ?? 0) > stayBefore + 5,
        30_000,
      );
      assert.deepEqual(
        d.streams.snapshot().map((s) => [s.keyspace, s.shard, s.source, s.state]),
        [['src', '0', 'dst/0', 'running']],
      );
      await moved.stop();
      await assertHolds(moved, c.dests[0], DST_DB, 'acct', 'every acknowledged write of acct is on the destination');
      await streamsCaughtUp(d.streams, topoFile);
      await assertSidesEqual('the source followed the destination');
      moved.start(150);
      await sleep(1000);

      // Back: --reverse primary on the reverse stream, then replica and rdonly.
      const back = await migrateOn(d.jobs, 'dst', '0', 'primary', { reverse: true });
      assert.equal(back.state, 'done', back.error ?? '');
      console.log(
        `# vertical reverse primary: write pause of acct ${back.cutover!.writePauseMs} ms; longest client write of acct ${Math.round(moved.longestWriteMs)} ms, of stay ${Math.round(stay.longestWriteMs)} ms`,
      );
      assert.match(
        (await appWrite(c.dests[0].port, DST_DB, 'DELETE FROM acct WHERE id = 1')) ?? 'accepted',
        /table moved to src\/0/,
        'acct refuses application writes on the destination',
      );
      for (const type of ['replica', 'rdonly']) {
        const s = await migrateOn(d.jobs, 'dst', '0', type, { reverse: true });
        assert.equal(s.state, 'done', s.error ?? '');
      }
      const home = await readTopologyFile(topoFile);
      assert.deepEqual([home.keyspaces.src.shards['0'].servedTypes, home.keyspaces.dst.shards['0'].servedTypes], [ALL, []]);
      assert.deepEqual(home.keyspaces.src.shards['0'].sourceShards, []);
      assert.deepEqual(home.keyspaces.dst.shards['0'].sourceShards, [{ uid: 0, keyspace: 'src', shard: '0', keyRange: '-', tables: ['acct'] }]);

      await sleep(1500);
      await moved.stop();
      await stay.stop();
      await streamsCaughtUp(d.streams, topoFile);
      const rows = await assertHolds(moved, c.primary, SRC_DB, 'acct', 'every acknowledged write of acct, both phases, is on the source');
      await assertSidesEqual('the destination follows the source again');
      const stayRows = await assertHolds(stay, c.primary, SRC_DB, 'stay', 'every acknowledged write of stay is on the source');
      assert.deepEqual(
        (await sql(c.dests[0], 'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [DST_DB])).map((r) => r.t),
        ['acct'],
        'stay never reached the destination',
      );
      console.log(
        `# acct: ${moved.acknowledged} writes acknowledged, ${rows} rows, by port ${JSON.stringify([...moved.byPort])}; stay: ${stay.acknowledged} writes, ${stayRows} rows, refusals ${JSON.stringify([...stay.refusals])}`,
      );
    } finally {
      await unlock?.();
      await moved.stop().catch(() => {});
      await stay.stop().catch(() => {});
      await d.close();
    }
  });
});
