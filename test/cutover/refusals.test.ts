// MigrateServedTypes's refusals, each before anything is changed: the order of a reshard, the streams' health and
// lag, --reverse without reverse streams, primary without the daemon's streams; and the CLI and HTTP forms of the
// command. The streams are a stand-in here (what the StreamManager reports), and the topology a real file: every
// refusal comes before any tablet is touched.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import pino from 'pino';
import { parseJobArgs } from '../../src/cli/args.ts';
import { targetsFor } from '../../src/http/view-models.ts';
import type { StreamControl } from '../../src/cutover/stream-control.ts';
import type { StreamSnapshot } from '../../src/stream/status.ts';
import { openTopology } from '../../src/topology/server.ts';
import type { Topology } from '../../src/topology/types.ts';
import { JobController, validateRequest } from '../../src/worker/controller.ts';
import { OptionError } from '../../src/worker/options.ts';

function topology(served: { source: string[]; dests: string[] }, reversed = false): string {
  const entry = (shard: string, uid = 0) => ({ uid, keyspace: 'ks', shard, keyRange: shard, tables: [] });
  const topo: Topology = {
    keyspaces: {
      ks: {
        shardingColumnName: 'keyspace_id',
        shardingColumnType: 'uint64',
        shards: {
          '0': {
            servedTypes: served.source as Topology['keyspaces'][string]['shards'][string]['servedTypes'],
            sourceShards: reversed ? [entry('-80', 0), entry('80-', 1)] : [],
          },
          '-80': { servedTypes: served.dests as never, sourceShards: reversed ? [] : [entry('0')] },
          '80-': { servedTypes: served.dests as never, sourceShards: reversed ? [] : [entry('0')] },
        },
      },
    },
    tablets: {
      'zone1-100': { keyspace: 'ks', shard: '0', type: 'primary', host: '127.0.0.1', port: 1, dbName: 'ks', user: 'root' },
      'zone1-200': { keyspace: 'ks', shard: '-80', type: 'primary', host: '127.0.0.1', port: 2, dbName: 'ks', user: 'root' },
      'zone1-300': { keyspace: 'ks', shard: '80-', type: 'primary', host: '127.0.0.1', port: 3, dbName: 'ks', user: 'root' },
    },
  };
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'sw-cut-')), 'topology.json');
  writeFileSync(file, JSON.stringify(topo));
  return file;
}

function stream(shard: string, over: Partial<StreamSnapshot> = {}): StreamSnapshot {
  return {
    keyspace: 'ks',
    shard,
    source: 'ks/0',
    sourceUid: 0,
    sourceTablet: 'zone1-100',
    destinationTablet: null,
    state: 'running',
    position: 'MariaDB/0-100-5',
    secondsBehind: 0,
    transactionsApplied: 0,
    rowsApplied: 0,
    rowsPerSecond: 0,
    retries: 0,
    errors: 0,
    lastError: null,
    owner: null,
    ...over,
  };
}

function streamsOf(list: StreamSnapshot[]): StreamControl {
  const never = () => Promise.reject(new Error('a cutover does not hold streams'));
  return { snapshot: () => list, pause: async () => {}, resume: async () => {}, refresh: async () => {}, hold: never, runUntil: never, release: never };
}

async function run(file: string, options: Record<string, unknown>, streams?: StreamControl) {
  const topo = await openTopology(`file:${file}`);
  const jobs = new JobController({ topo, credentials: {}, streams }, { level: 'silent', destination: pino.destination({ dest: file + '.log', sync: true }) });
  await jobs.start({ command: 'MigrateServedTypes', keyspace: 'ks', shard: '0', options });
  await jobs.settled();
  return { snap: jobs.snapshot(), after: await topo.read() };
}

const ALL = ['primary', 'replica', 'rdonly'];

describe('MigrateServedTypes refusals', () => {
  test('primary before replica (and before rdonly)', async () => {
    const file = topology({ source: ['primary', 'replica'], dests: ['rdonly'] });
    const { snap, after } = await run(file, { servedType: 'primary' }, streamsOf([stream('-80'), stream('80-')]));
    assert.equal(snap.state, 'error');
    assert.equal(
      snap.error,
      'MigrateServedTypes ks/0 primary refused: replica is not migrated yet (ks/-80, ks/80- do not serve replica); migrate rdonly and replica first',
    );
    assert.deepEqual(after.keyspaces.ks.shards['0'].servedTypes, ['primary', 'replica']);
  });

  test('a stream in error, a stream stopped, a stream over --max-lag', async () => {
    const file = topology({ source: ['primary'], dests: ['replica', 'rdonly'] });
    const cases: [StreamSnapshot, Record<string, unknown>, string][] = [
      [
        stream('80-', { state: 'error', lastError: 'no row for update of acct id=4 at MariaDB/0-100-9' }),
        {},
        'MigrateServedTypes ks/0 primary refused: stream ks/0 -> ks/80- is in error: no row for update of acct id=4 at MariaDB/0-100-9',
      ],
      [
        stream('80-', { state: 'stopped' }),
        {},
        'MigrateServedTypes ks/0 primary refused: stream ks/0 -> ks/80- is stopped (start it: shardworker stream start ks/80-)',
      ],
      [stream('80-', { secondsBehind: 12 }), {}, 'MigrateServedTypes ks/0 primary refused: stream ks/0 -> ks/80- is 12 s behind, over --max-lag 10s'],
      [
        stream('80-', { secondsBehind: 3 }),
        { maxLag: '2s' },
        'MigrateServedTypes ks/0 primary refused: stream ks/0 -> ks/80- is 3 s behind, over --max-lag 2s',
      ],
    ];
    for (const [bad, options, message] of cases) {
      const { snap, after } = await run(file, { servedType: 'primary', ...options }, streamsOf([stream('-80'), bad]));
      assert.equal(snap.error, message);
      assert.deepEqual(after.keyspaces.ks.shards['0'].servedTypes, ['primary']);
      assert.deepEqual(
        snap.cutover?.steps.map((s) => s.state),
        ['waiting', 'waiting', 'waiting', 'waiting', 'waiting', 'waiting'],
      );
    }
  });

  test('--reverse primary without reverse streams; --reverse replica while the primary is still moved', async () => {
    const forward = topology({ source: ['primary'], dests: ['replica', 'rdonly'] });
    const { snap } = await run(forward, { servedType: 'primary', reverse: true }, streamsOf([stream('-80'), stream('80-')]));
    assert.equal(
      snap.error,
      'MigrateServedTypes --reverse ks/0 primary refused: there are no reverse streams (no source shard lists the destinations in sourceShards), so the primary was never migrated',
    );
    const reversed = topology({ source: [], dests: ALL }, true);
    const reverse = await run(reversed, { servedType: 'primary', reverse: true }, streamsOf([]));
    assert.equal(reverse.snap.error, 'MigrateServedTypes --reverse ks/0 primary refused: the reverse stream ks/-80 -> ks/0 does not run in this daemon');
    const replica = await run(reversed, { servedType: 'replica', reverse: true });
    assert.equal(
      replica.snap.error,
      'MigrateServedTypes --reverse ks/0 replica refused: the primary is still on the destinations; move it back first (MigrateServedTypes --reverse ks/0 primary)',
    );
  });

  test('primary needs the daemon: run has no streams', async () => {
    const file = topology({ source: ['primary'], dests: ['replica', 'rdonly'] });
    const { snap } = await run(file, { servedType: 'primary' });
    assert.match(snap.error ?? '', /refused: the streams run under `shardworker serve`, not in this process/);
  });

  test('rdonly and replica are one topology change each way, without any tablet', async () => {
    const file = topology({ source: ALL, dests: [] });
    const rdonly = await run(file, { servedType: 'rdonly' });
    assert.equal(rdonly.snap.state, 'done', rdonly.snap.error ?? '');
    assert.deepEqual(
      [rdonly.after.keyspaces.ks.shards['0'].servedTypes, rdonly.after.keyspaces.ks.shards['-80'].servedTypes],
      [['primary', 'replica'], ['rdonly']],
    );
    assert.equal((await run(file, { servedType: 'rdonly' })).snap.error, 'MigrateServedTypes ks/0 rdonly refused: ks/-80, ks/80- serve rdonly already');
    const back = await run(file, { servedType: 'rdonly', reverse: true });
    assert.equal(back.snap.state, 'done');
    assert.deepEqual(back.after.keyspaces.ks.shards['0'].servedTypes, ALL);
    assert.deepEqual(back.after.keyspaces.ks.shards['-80'].servedTypes, []);
  });
});

/** Keyspace `other` servedFrom `ks`, its shard 0 fed by ks/0 with table t (or, `flipped`, ks/0 following it). */
function verticalTopology(dstServes: string[], flipped = false): string {
  const file = topology({ source: ALL, dests: [] });
  const topo = JSON.parse(readFileSync(file, 'utf8')) as Topology;
  const entry = (keyspace: string) => [{ uid: 0, keyspace, shard: '0', keyRange: '-', tables: ['t'] }];
  topo.keyspaces.ks.shards['-80'].sourceShards = [];
  topo.keyspaces.ks.shards['80-'].sourceShards = [];
  topo.keyspaces.ks.shards['0'].sourceShards = flipped ? entry('other') : [];
  topo.keyspaces.other = { servedFrom: { keyspace: 'ks' }, shards: { '0': { servedTypes: dstServes as never, sourceShards: flipped ? [] : entry('ks') } } };
  topo.tablets['zone1-900'] = { keyspace: 'other', shard: '0', type: 'primary', host: '127.0.0.1', port: 9, dbName: 'other', user: 'root' };
  writeFileSync(file, JSON.stringify(topo));
  return file;
}

async function runOn(file: string, keyspace: string, options: Record<string, unknown>, streams?: StreamControl) {
  const topo = await openTopology(`file:${file}`);
  const jobs = new JobController({ topo, credentials: {}, streams }, { level: 'silent', destination: pino.destination({ dest: file + '.log', sync: true }) });
  await jobs.start({ command: 'MigrateServedTypes', keyspace, shard: '0', options });
  await jobs.settled();
  return { snap: jobs.snapshot(), after: await topo.read() };
}

describe('MigrateServedTypes of a vertical split (named by its destination)', () => {
  test('rdonly and replica move the destination alone, both ways; the source serves on', async () => {
    const file = verticalTopology([]);
    const rdonly = await runOn(file, 'other', { servedType: 'rdonly' });
    assert.equal(rdonly.snap.state, 'done', rdonly.snap.error ?? '');
    assert.deepEqual(rdonly.snap.sources, ['ks/0']);
    assert.deepEqual(rdonly.snap.destinations, ['other/0']);
    assert.deepEqual([rdonly.after.keyspaces.ks.shards['0'].servedTypes, rdonly.after.keyspaces.other.shards['0'].servedTypes], [ALL, ['rdonly']]);
    assert.equal((await runOn(file, 'other', { servedType: 'rdonly' })).snap.error, 'MigrateServedTypes other/0 rdonly refused: other/0 serve rdonly already');
    assert.equal(
      (await runOn(file, 'other', { servedType: 'replica', reverse: true })).snap.error,
      'MigrateServedTypes --reverse other/0 replica refused: other/0 does not serve replica: it is served from ks/0 already',
    );
    const back = await runOn(file, 'other', { servedType: 'rdonly', reverse: true });
    assert.equal(back.snap.state, 'done', back.snap.error ?? '');
    assert.deepEqual([back.after.keyspaces.ks.shards['0'].servedTypes, back.after.keyspaces.other.shards['0'].servedTypes], [ALL, []]);
    assert.deepEqual(
      back.after.keyspaces.other.shards['0'].sourceShards.map((s) => s.shard),
      ['0'],
    );
  });

  test('named by its source, primary before replica, --reverse without reverse streams', async () => {
    const file = verticalTopology([]);
    const bySource = await runOn(file, 'ks', { servedType: 'rdonly' });
    assert.equal(bySource.snap.error, 'ks/0 is the source of a vertical split: MigrateServedTypes names a vertical split by its destination (other/0)');
    const early = await runOn(verticalTopology(['rdonly']), 'other', { servedType: 'primary' }, streamsOf([]));
    assert.equal(
      early.snap.error,
      'MigrateServedTypes other/0 primary refused: replica is not migrated yet (other/0 do not serve replica); migrate rdonly and replica first',
    );
    const noReverse = await runOn(verticalTopology(['replica', 'rdonly']), 'other', { servedType: 'primary', reverse: true }, streamsOf([]));
    assert.equal(
      noReverse.snap.error,
      'MigrateServedTypes --reverse other/0 primary refused: there are no reverse streams (no source shard lists the destinations in sourceShards), so the primary was never migrated',
    );
    const flipped = verticalTopology(ALL, true);
    assert.equal(
      (await runOn(flipped, 'ks', { servedType: 'rdonly' })).snap.error,
      'ks/0 is the source of a vertical split: MigrateServedTypes names a vertical split by its destination (other/0)',
    );
    assert.equal(
      (await runOn(flipped, 'other', { servedType: 'primary', reverse: true }, streamsOf([]))).snap.error,
      'MigrateServedTypes --reverse other/0 primary refused: the reverse stream other/0 -> ks/0 does not run in this daemon',
    );
    assert.equal(
      (await runOn(flipped, 'other', { servedType: 'primary' }, streamsOf([]))).snap.error,
      'MigrateServedTypes other/0 primary refused: the primary has moved already (ks/0 follows the destinations); --reverse primary moves it back',
    );
  });

  test('the index form offers a vertical split by its destination, before and after the flip', () => {
    for (const flipped of [false, true]) {
      const topo = JSON.parse(readFileSync(verticalTopology(flipped ? ALL : [], flipped), 'utf8')) as Topology;
      assert.deepEqual(targetsFor('MigrateServedTypes', topo), ['other/0'], `flipped: ${flipped}`);
    }
    assert.deepEqual(targetsFor('MigrateServedTypes', JSON.parse(readFileSync(topology({ source: ALL, dests: [] }), 'utf8')) as Topology), [
      'ks/-80',
      'ks/0',
      'ks/80-',
    ]);
  });

  test('a destination keyspace with nothing on record is refused, naming what to run', async () => {
    const file = verticalTopology([]);
    const topo = JSON.parse(readFileSync(file, 'utf8')) as Topology;
    topo.keyspaces.other.shards['0'].sourceShards = [];
    writeFileSync(file, JSON.stringify(topo));
    assert.equal(
      (await runOn(file, 'other', { servedType: 'rdonly' })).snap.error,
      'other/0 is not the destination of a vertical split: it lists no shard of ks (which other is servedFrom) in sourceShards, and none lists it (run VerticalSplitClone first, without -skip_set_source_shards)',
    );
  });
});

describe('MigrateServedTypes on the command line and in a request', () => {
  test('Vitess order: [--reverse] keyspace/shard servedType', () => {
    assert.deepEqual(parseJobArgs(['MigrateServedTypes', 'ks/0', 'primary']), {
      command: 'MigrateServedTypes',
      keyspace: 'ks',
      shard: '0',
      options: { servedType: 'primary' },
    });
    assert.deepEqual(parseJobArgs(['MigrateServedTypes', '--reverse', '--wait-timeout', '5s', 'ks/0', 'rdonly']).options, {
      reverse: 'true',
      waitTimeout: '5s',
      servedType: 'rdonly',
    });
    assert.deepEqual(parseJobArgs(['MigrateServedTypes', '--skip-reverse-replication', '--max-lag=2s', 'ks/0', 'primary']).options, {
      skipReverseReplication: 'true',
      maxLag: '2s',
      servedType: 'primary',
    });
    assert.throws(() => parseJobArgs(['MigrateServedTypes', 'ks/0', 'primary', 'extra']), /unexpected argument "extra" after ks\/0/);
  });

  test('the HTTP body: servedType required and checked, durations parsed', () => {
    const req = (options: Record<string, unknown>) => validateRequest({ command: 'MigrateServedTypes', keyspace: 'ks', shard: '0', options });
    assert.throws(
      () => req({}),
      (e: unknown) => e instanceof OptionError && e.field === 'servedType' && /required/.test(e.message),
    );
    assert.throws(
      () => req({ servedType: 'master' }),
      (e: unknown) => e instanceof OptionError && e.message === 'option servedType: expected rdonly or replica or primary, got "master"',
    );
    assert.throws(
      () => req({ servedType: 'primary', waitTimeout: 'soon' }),
      (e: unknown) => e instanceof OptionError && e.field === 'waitTimeout',
    );
    const { options } = req({ servedType: 'primary', reverse: false, maxLag: '500ms', waitTimeout: 45 });
    assert.deepEqual(
      [options.servedType, options.reverse, options.maxLag, options.waitTimeout, options.skipReverseReplication],
      ['primary', false, 500, 45_000, false],
    );
  });
});

describe('MigrateServedTypes locks', () => {
  test('a cutover locks every shard of its split, whichever served types already moved', async () => {
    for (const served of [
      { source: ALL, dests: [] },
      { source: ['primary', 'replica'], dests: ['rdonly'] },
    ]) {
      const file = topology(served);
      const jobs = new JobController(
        { topo: await openTopology(`file:${file}`), credentials: {}, streams: streamsOf([]) },
        { level: 'silent', destination: pino.destination({ dest: file + '.log', sync: true }) },
      );
      await jobs.start({ command: 'MigrateServedTypes', keyspace: 'ks', shard: '0', options: { servedType: 'replica' } });
      assert.deepEqual(jobs.snapshot().locks?.names, ['shard ks/-80', 'shard ks/0', 'shard ks/80-'], JSON.stringify(served));
      await jobs.settled();
    }
  });
});
