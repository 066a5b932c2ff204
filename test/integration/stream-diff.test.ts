// Diffs with streams running (DESIGN.md "Diffs and streams"), real binlog, in a daemon of this process wired as
// `serve` wires it: a SplitDiff and a VerticalSplitDiff under a write load on the source primary pass (the streams
// are held, the rdonly stops at or past their checkpoint, the streams run to exactly there, the tables compare
// equal, the streams start again), and afterwards the streams catch up and the destinations are byte-exact. A row
// changed by hand on a destination is named by the diff; a stream in error or running in another daemon refuses
// the diff before anything changes; a diff canceled mid-way starts the streams again.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import type { StreamManager } from '../../src/stream/manager.ts';
import { openTopology } from '../../src/topology/server.ts';
import { JobController } from '../../src/worker/controller.ts';
import type { JobRequest, StatusSnapshot } from '../../src/worker/status.ts';
import { readTopologyFile, resetDestinations, runJob, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { sleep, until } from '../helpers/faults.ts';
import { readRows } from '../helpers/rows.ts';
import { assertSplitExact, reached, sourcePosition, testStreams } from '../helpers/stream-exact.ts';
import { writeVerticalTopology } from '../helpers/vertical.ts';
import { WriteLoad } from '../helpers/write-load.ts';

const SHARDS = ['-55', '55-aa', 'aa-'];

let c: TestCluster;

interface Daemon {
  streams: StreamManager;
  jobs: JobController;
}

async function daemon(topoFile: string, name = 'daemon'): Promise<Daemon> {
  const topo = await openTopology(`file:${topoFile}`);
  const dir = path.dirname(topoFile);
  const streams = await testStreams(topoFile, { topo, log: `${name}.log` });
  await streams.open();
  const jobs = new JobController(
    { topo, credentials: {}, retryDuration: 60_000, streams },
    { level: 'info', destination: pino.destination({ dest: path.join(dir, `${name}-jobs.log`), sync: true }) },
  );
  return { streams, jobs };
}

async function runDiff(jobs: JobController, request: JobRequest, during?: (jobs: JobController) => Promise<void>): Promise<StatusSnapshot> {
  await jobs.start(request);
  await during?.(jobs);
  await jobs.settled();
  const snap = jobs.snapshot();
  jobs.reset();
  return snap;
}

/** The rdonly is back as it was: replicating, and of type rdonly in the topology. */
async function assertRdonlyBack(topoFile: string): Promise<void> {
  const [status] = await sql(c.rdonly, 'SHOW SLAVE STATUS');
  assert.equal(status.Slave_IO_Running, 'Yes');
  assert.equal(status.Slave_SQL_Running, 'Yes');
  assert.equal((await readTopologyFile(topoFile)).tablets['zone1-101'].type, 'rdonly');
}

async function allReach(streams: StreamManager): Promise<void> {
  const target = await sourcePosition(c.primary);
  await until(
    `streams at ${target}: ${JSON.stringify(streams.snapshot().map((s) => [s.shard, s.state, s.position, s.lastError]))}`,
    () => {
      const snaps = streams.snapshot();
      const failed = snaps.find((s) => s.state === 'error');
      if (failed) throw new Error(`stream in error: ${failed.lastError}`);
      return snaps.every((s) => reached(s.position, target));
    },
    120_000,
  );
}

const running = (d: Daemon) => d.streams.snapshot().every((s) => s.state === 'running' && s.heldBy === undefined);

describe('SplitDiff with streams running', () => {
  const db = 'sd_split';
  let topoFile: string;
  let d: Daemon;
  let load: WriteLoad;

  before(async () => {
    c = await testCluster();
    await resetDestinations(c, db);
    load = new WriteLoad(c.primary, db, 41);
    await load.seed(1000, c.rdonly);
    topoFile = writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: db }],
      destinations: SHARDS.map((shard, instance) => ({ shard, instance, dbName: db })),
    });
    load.start(2);
    const clone = await runJob(topoFile, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} });
    assert.equal(clone.state, 'done', clone.error ?? '');
    d = await daemon(topoFile);
  });

  after(async () => {
    await load.stop();
    await d.streams.close();
  });

  test('passes under a write load; the streams start again, catch up, and the destinations are byte-exact', async () => {
    await until('streams running', () => d.streams.snapshot().length === 3 && running(d));
    await sleep(500);
    const before = load.transactions;
    let ranOn = 0;
    for (const shard of ['-55', 'aa-']) {
      const snap = await runDiff(d.jobs, { command: 'SplitDiff', keyspace: 'ks', shard, options: {} });
      assert.equal(snap.state, 'done', snap.error ?? '');
      assert.ok(
        snap.log.some((l) => /streams held for the diff/.test(l)),
        'the streams were held',
      );
      if (snap.log.some((l) => /running the stream to the source tablet's position/.test(l))) ranOn++;
      assert.ok(snap.tables.find((t) => t.name === 'types')!.rowsCopied > 0);
      assert.ok(running(d), `streams running again after the diff of ${shard}: ${JSON.stringify(d.streams.snapshot())}`);
      await assertRdonlyBack(topoFile);
    }
    assert.ok(load.transactions - before > 20, `the load ran during the diffs (${load.transactions - before} transactions)`);
    // The rdonly follows the primary as the streams do, so it stops past the held streams: they are run on to it.
    assert.ok(ranOn > 0, 'a stream was run on to where the rdonly stopped');
    await load.stop();
    assert.deepEqual(load.errors, []);
    await allReach(d.streams);
    await assertSplitExact(c.primary, c.dests, SHARDS, db);
  });

  test('a row changed by hand on a destination is named by the diff', async () => {
    const [row] = await sql(c.dests[0], `SELECT CAST(id AS CHAR) AS id, name FROM ${db}.types ORDER BY id LIMIT 1`);
    await sql(c.dests[0], `UPDATE ${db}.types SET name = 'changed by hand' WHERE id = ?`, [row.id]);
    try {
      const snap = await runDiff(d.jobs, { command: 'SplitDiff', keyspace: 'ks', shard: '-55', options: {} });
      assert.equal(snap.state, 'error');
      assert.match(snap.error ?? '', new RegExp(`types: .*1 mismatched.*id=${row.id}\\b`));
      assert.ok(running(d));
      await assertRdonlyBack(topoFile);
    } finally {
      await sql(c.dests[0], `UPDATE ${db}.types SET name = ? WHERE id = ?`, [row.name, row.id]);
    }
  });

  test('refused before anything changes while a stream is in error, or runs in another daemon', async () => {
    // A row inserted by hand on -55, then by the source: the stream stops on the duplicate key.
    await sql(c.dests[0], `INSERT INTO ${db}.types (id, keyspace_id) VALUES (5000000, 0)`);
    await sql(c.primary, `INSERT INTO ${db}.types (id, keyspace_id) VALUES (5000000, 0)`);
    await until('the stream in error', () => d.streams.snapshot()[0].state === 'error');
    const refused = await runDiff(d.jobs, { command: 'SplitDiff', keyspace: 'ks', shard: '-55', options: {} });
    assert.equal(refused.state, 'error');
    assert.match(refused.error ?? '', /stream ks\/0 -> ks\/-55 is in error \(.*5000000.*\): fix what it names and start it/);
    assert.equal(d.streams.snapshot()[0].state, 'error', 'the stream is left as it was');
    await assertRdonlyBack(topoFile);
    await sql(c.dests[0], `DELETE FROM ${db}.types WHERE id = 5000000`);
    await d.streams.start('ks', '-55');

    // A second daemon on the same topology sees the streams run in the first.
    const other = await daemon(topoFile, 'other');
    try {
      await until(
        'the other daemon sees the streams elsewhere',
        () => other.streams.snapshot().length === 3 && other.streams.snapshot().every((s) => s.state === 'elsewhere'),
      );
      const elsewhere = await runDiff(other.jobs, { command: 'SplitDiff', keyspace: 'ks', shard: '55-aa', options: {} });
      assert.equal(elsewhere.state, 'error');
      assert.match(
        elsewhere.error ?? '',
        new RegExp(`stream ks/0 -> ks/55-aa runs in the daemon with pid ${process.pid} on .*: a diff must stop it, so run the diff on that daemon`),
      );
      await assertRdonlyBack(topoFile);
      assert.ok(running(d));
    } finally {
      await other.streams.close();
    }
    await allReach(d.streams);
    await assertSplitExact(c.primary, c.dests, SHARDS, db);
  });

  test('canceled mid-diff, the streams start again and the rdonly replicates', async () => {
    load.start(2);
    await sleep(300);
    const snap = await runDiff(d.jobs, { command: 'SplitDiff', keyspace: 'ks', shard: '55-aa', options: {} }, async (jobs) => {
      await until('the stream held', () => d.streams.snapshot()[1].heldBy !== undefined, 10_000);
      jobs.cancel();
    });
    assert.equal(snap.state, 'canceled', snap.error ?? '');
    assert.ok(running(d), JSON.stringify(d.streams.snapshot()));
    await assertRdonlyBack(topoFile);
    await load.stop();
    assert.deepEqual(load.errors, []);
    await allReach(d.streams);
    await assertSplitExact(c.primary, c.dests, SHARDS, db);
  });
});

describe('VerticalSplitDiff with streams running', () => {
  test('passes under a write load, and the moved tables end byte-exact', async () => {
    const sourceDb = 'sd_vsrc';
    const destDb = 'sd_vdst';
    // dests[2] also held the split's _vt rows: this keyspace's stream starts from a table of its own.
    await sql(c.dests[2], `DROP DATABASE IF EXISTS ${destDb}; DROP DATABASE IF EXISTS _vt`);
    const load = new WriteLoad(c.primary, sourceDb, 43);
    await load.seed(500, c.rdonly);
    const topoFile = writeVerticalTopology(c, { sourceDb, destDb, destInstance: 2 });
    load.start(2);
    const d = await (async () => {
      const clone = await runJob(topoFile, { command: 'VerticalSplitClone', keyspace: 'dst', shard: '0', options: { tables: 'types,pairs' } });
      assert.equal(clone.state, 'done', clone.error ?? '');
      return daemon(topoFile, 'vertical');
    })();
    try {
      await until('the stream running', () => d.streams.snapshot().length === 1 && running(d));
      await sleep(500);
      const snap = await runDiff(d.jobs, { command: 'VerticalSplitDiff', keyspace: 'dst', shard: '0', options: {} });
      assert.equal(snap.state, 'done', snap.error ?? '');
      assert.deepEqual(snap.tables.map((t) => t.name).sort(), ['pairs', 'types']);
      assert.ok(running(d));
      await assertRdonlyBack(topoFile);
      await load.stop();
      assert.deepEqual(load.errors, []);
      await allReach(d.streams);
      for (const table of ['types', 'pairs']) {
        const want = await readRows(c.primary, sourceDb, table);
        const got = await readRows(c.dests[2], destDb, table);
        assert.deepEqual([...got].sort(), [...want].sort(), table);
      }
    } finally {
      await load.stop();
      await d.streams.close();
    }
  });
});
