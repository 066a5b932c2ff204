import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TopologyError } from '../../src/topology/errors.ts';
import { findSplitShards, setSourceShards, setTabletType, tabletsOf } from '../../src/topology/shards.ts';
import type { Topology } from '../../src/topology/types.ts';
import { validateTopology } from '../../src/topology/validate.ts';
import { exampleTopology, keyspaceTopology } from './fixtures/topology.ts';

function throwsNaming(fn: () => unknown, ...parts: string[]) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TopologyError, `expected a TopologyError, got ${String(e)}`);
    for (const part of parts) assert.ok(e.message.includes(part), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(part)}`);
    return true;
  });
}

/** Shards of keyspace `ks`; a trailing `*` marks a serving one. Validated, so it is a legal topology. */
const ks = (...shards: string[]): Topology => validateTopology(keyspaceTopology(shards), 'test');

describe('findSplitShards', () => {
  it('1 -> 2 (the docs/topology.md example)', () => {
    assert.deepEqual(findSplitShards(exampleTopology(), 'commerce', '0'), { sources: ['0'], destinations: ['-80', '80-'] });
  });
  it('bounds of mixed lengths meet (Vitess): 40-80 and 8000000000000000-c000000000000000 split 40-c0', () => {
    assert.deepEqual(findSplitShards(ks('-40*', '40-c0*', 'c0-*', '40-80', '8000000000000000-c000000000000000'), 'ks', '40-c0'), {
      sources: ['40-c0'],
      destinations: ['40-80', '8000000000000000-c000000000000000'],
    });
    assert.deepEqual(findSplitShards(ks('0*', '-8000', '80-'), 'ks', '0').destinations, ['-8000', '80-']);
  });
  it('names a doubly covered range by the shards as written', () => {
    throwsNaming(() => findSplitShards(ks('0*', '-80', '-8000', '80-'), 'ks', '0'), 'shards -80 and -8000 overlap');
  });
  it('refuses serving shards that are one range spelled twice', () => {
    assert.throws(() => ks('-80*', '-8000*', '80-*'), /serving shards -80 and -8000 overlap/);
  });
  it('1 -> 3 uneven, listed in key order', () => {
    assert.deepEqual(findSplitShards(ks('aa-', '-*', '55-aa', '-55'), 'ks', '-'), { sources: ['-'], destinations: ['-55', '55-aa', 'aa-'] });
  });
  it('1 -> 4', () => {
    assert.deepEqual(findSplitShards(ks('0*', 'c0-', '80-c0', '40-80', '-40'), 'ks', '0').destinations, ['-40', '40-80', '80-c0', 'c0-']);
  });
  it('splits one of several serving shards', () => {
    assert.deepEqual(findSplitShards(ks('-80*', '80-*', '80-c0', 'c0-'), 'ks', '80-'), { sources: ['80-'], destinations: ['80-c0', 'c0-'] });
  });
  it('2 -> 1 merge, named by either source', () => {
    const topo = ks('-40*', '40-80*', '-80', '80-*');
    const expected = { sources: ['-40', '40-80'], destinations: ['-80'] };
    assert.deepEqual(findSplitShards(topo, 'ks', '-40'), expected);
    assert.deepEqual(findSplitShards(topo, 'ks', '40-80'), expected);
  });
  it('2 -> 3 resharding across boundaries, named by either source', () => {
    const topo = ks('-80*', '80-*', '-55', '55-aa', 'aa-');
    const expected = { sources: ['-80', '80-'], destinations: ['-55', '55-aa', 'aa-'] };
    assert.deepEqual(findSplitShards(topo, 'ks', '-80'), expected);
    assert.deepEqual(findSplitShards(topo, 'ks', '80-'), expected);
  });
  it('a serving shard overlapping nothing is not counted', () => {
    assert.deepEqual(findSplitShards(ks('-80*', '80-*', '-40', '40-80'), 'ks', '-80'), { sources: ['-80'], destinations: ['-40', '40-80'] });
  });
  it('names a gap', () => {
    throwsNaming(() => findSplitShards(ks('0*', '-80', 'c0-'), 'ks', '0'), 'keyspace ks', 'do not cover', 'gap between 80 and c0');
  });
  it('names an overlap', () => {
    throwsNaming(() => findSplitShards(ks('0*', '-80', '40-'), 'ks', '0'), 'keyspace ks', 'shards -80 and 40- overlap');
  });
  it('names a destination reaching past the sources', () => {
    throwsNaming(() => findSplitShards(ks('-80*', '80-c0*', '-40', '40-'), 'ks', '-80'), 'shard 40- covers c0-, outside the range to cover');
  });
  it('names an unknown keyspace', () => {
    throwsNaming(() => findSplitShards(exampleTopology(), 'comerce', '0'), 'unknown keyspace "comerce"');
  });
  it('names an unknown shard', () => {
    throwsNaming(() => findSplitShards(exampleTopology(), 'commerce', '-40'), 'unknown shard "-40" in keyspace commerce');
  });
  it('names a shard that is not serving', () => {
    throwsNaming(() => findSplitShards(exampleTopology(), 'commerce', '-80'), 'shard commerce/-80 is not serving');
  });
  it('names a shard without destinations', () => {
    throwsNaming(() => findSplitShards(ks('-80*', '80-*'), 'ks', '-80'), 'shard ks/-80: no destination shards');
  });
  it('names a keyspace without a sharding column', () => {
    const topo = exampleTopology();
    delete topo.keyspaces.commerce.shardingColumnName;
    throwsNaming(() => findSplitShards(topo, 'commerce', '0'), 'keyspace commerce has no shardingColumnName');
  });
});

describe('tabletsOf', () => {
  it('lists a shard, sorted by alias with numbers in order, optionally by type', () => {
    const topo = exampleTopology();
    const t = (port: number) => ({ keyspace: 'commerce', shard: '0', type: 'replica' as const, host: 'h', port, dbName: 'd', user: 'u' });
    topo.tablets['zone1-99'] = t(1);
    topo.tablets['zone2-1'] = t(2);
    assert.deepEqual(
      tabletsOf(topo, 'commerce', '0').map(([a]) => a),
      ['zone1-99', 'zone1-100', 'zone1-101', 'zone2-1'],
    );
    assert.deepEqual(
      tabletsOf(topo, 'commerce', '0', 'rdonly').map(([a, tab]) => [a, tab.port]),
      [['zone1-101', 15301]],
    );
    assert.deepEqual(
      tabletsOf(topo, 'commerce', '-80', 'primary').map(([a]) => a),
      ['zone1-200'],
    );
    assert.deepEqual(tabletsOf(topo, 'commerce', '-80', 'rdonly'), []);
    assert.deepEqual(tabletsOf(topo, 'nope', '0'), []);
  });
});

describe('setTabletType', () => {
  it('marks a tablet worker and gives it back', () => {
    const topo = exampleTopology();
    const job = { jobId: 'j1', previousType: 'rdonly' as const, since: '2026-01-01T00:00:00.000Z' };
    assert.equal(setTabletType(topo, 'zone1-101', 'worker', job), 'rdonly');
    assert.equal(topo.tablets['zone1-101'].type, 'worker');
    assert.deepEqual(topo.tablets['zone1-101'].workerJob, job);
    assert.equal(setTabletType(topo, 'zone1-101', 'rdonly'), 'worker');
    assert.equal(topo.tablets['zone1-101'].type, 'rdonly');
    assert.ok(!('workerJob' in topo.tablets['zone1-101']));
    validateTopology(topo, 'test');
  });
  it('names an unknown tablet', () => {
    throwsNaming(() => setTabletType(exampleTopology(), 'zone9-1', 'worker'), 'unknown tablet "zone9-1"');
  });
});

describe('setSourceShards', () => {
  it('records the sources of a destination shard', () => {
    const topo = exampleTopology();
    const sources = [{ uid: 0, keyspace: 'commerce', shard: '0', keyRange: '-', tables: [] }];
    setSourceShards(topo, 'commerce', '-80', sources);
    assert.deepEqual(topo.keyspaces.commerce.shards['-80'].sourceShards, sources);
    assert.notEqual(topo.keyspaces.commerce.shards['-80'].sourceShards[0], sources[0], 'a copy');
    validateTopology(topo, 'test');
  });
  it('names an unknown keyspace or shard', () => {
    throwsNaming(() => setSourceShards(exampleTopology(), 'comerce', '-80', []), 'unknown keyspace "comerce"');
    throwsNaming(() => setSourceShards(exampleTopology(), 'commerce', '-40', []), 'unknown shard "-40" in keyspace commerce');
  });
});
