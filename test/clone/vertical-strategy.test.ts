import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SplitStrategy } from '../../src/clone/split-strategy.ts';
import { TableFilterError } from '../../src/clone/table-filter.ts';
import { VerticalStrategy } from '../../src/clone/vertical-strategy.ts';
import { keyRangeToString } from '../../src/keyrange/keyrange.ts';
import type { SchemaDefinition, TableDefinition } from '../../src/mysql/schema.ts';
import { TopologyError } from '../../src/topology/errors.ts';
import type { Topology } from '../../src/topology/types.ts';
import { exampleTopology, keyspaceTopology } from '../topology/fixtures/topology.ts';

function def(name: string, kind: 'table' | 'view' = 'table'): TableDefinition {
  return { name, kind, createSql: '', columns: [], selectList: [], primaryKey: [], rowsEstimate: 0, dataLength: 0, indexLength: 0 };
}
const schema: SchemaDefinition = { dbName: 'commerce', tables: [def('corder'), def('customer'), def('customer_emails', 'view'), def('product')] };

describe('VerticalStrategy', () => {
  it('reads the single shard of the servedFrom keyspace into the named destination', () => {
    const targets = new VerticalStrategy('customer', '0', ['customer']).resolveTargets(exampleTopology());
    assert.deepEqual(
      targets.sources.map((s) => [s.keyspace, s.shard, s.uid, keyRangeToString(s.keyRange)]),
      [['commerce', '0', 0, '-']],
    );
    assert.deepEqual(
      targets.destinations.map((d) => [d.keyspace, d.shard]),
      [['customer', '0']],
    );
  });

  it('refuses a keyspace that is not servedFrom another', () => {
    assert.throws(
      () => new VerticalStrategy('commerce', '0', ['t']).resolveTargets(exampleTopology()),
      (e: unknown) => e instanceof TopologyError && /commerce is not servedFrom another keyspace/.test(e.message),
    );
  });

  it('refuses a source keyspace of several serving shards, or none, naming them', () => {
    const topo: Topology = exampleTopology();
    topo.keyspaces.commerce.shards = { '-80': { servedTypes: ['primary'], sourceShards: [] }, '80-': { servedTypes: ['primary'], sourceShards: [] } };
    assert.throws(() => new VerticalStrategy('customer', '0', ['t']).resolveTargets(topo), /keyspace commerce .* has 2 serving shards \(-80, 80-\)/);
    topo.keyspaces.commerce.shards = { '0': { servedTypes: [], sourceShards: [] } };
    assert.throws(() => new VerticalStrategy('customer', '0', ['t']).resolveTargets(topo), /has 0 serving shards \(none\)/);
  });

  it('refuses an unknown destination shard', () => {
    assert.throws(() => new VerticalStrategy('customer', '-80', ['t']).resolveTargets(exampleTopology()), /unknown shard "-80" in keyspace customer/);
  });

  it('picks tables and views by name and /regexp/', () => {
    const picked = new VerticalStrategy('customer', '0', ['/^customer/', 'corder']).pickTables(schema);
    assert.deepEqual(
      picked.map((t) => t.name),
      ['corder', 'customer', 'customer_emails'],
    );
  });

  it('a name or pattern that matches nothing is an error naming it', () => {
    assert.throws(
      () => new VerticalStrategy('customer', '0', ['customer', 'nosuch']).pickTables(schema),
      (e: unknown) => e instanceof TableFilterError && /table nosuch matches no table/.test(e.message),
    );
    assert.throws(() => new VerticalStrategy('customer', '0', ['/^zz/']).pickTables(schema), /table \/\^zz\/ matches no table/);
  });

  it('sends every row to the one destination and records the tables in sourceShards', () => {
    const strategy = new VerticalStrategy('customer', '0', ['customer', '/^corder$/']);
    const targets = strategy.resolveTargets(exampleTopology());
    assert.equal(strategy.routerFor()([Buffer.from('1')]), 0);
    assert.deepEqual(strategy.sourceShardsFor(targets), [{ uid: 0, keyspace: 'commerce', shard: '0', keyRange: '-', tables: ['customer', '/^corder$/'] }]);
  });
});

describe('SplitStrategy named by a destination (SplitDiff)', () => {
  it('that destination alone, with the sources overlapping it and their uids in the whole split', () => {
    const topo = keyspaceTopology(['-80*', '80-*', '-40', '40-c0', 'c0-']);
    const targets = new SplitStrategy('ks', '40-c0', [], 'destination').resolveTargets(topo);
    assert.deepEqual(
      targets.destinations.map((d) => d.shard),
      ['40-c0'],
    );
    assert.deepEqual(
      targets.sources.map((s) => [s.shard, s.uid]),
      [
        ['-80', 0],
        ['80-', 1],
      ],
    );
    const last = new SplitStrategy('ks', 'c0-', [], 'destination').resolveTargets(topo);
    assert.deepEqual(
      last.sources.map((s) => [s.shard, s.uid]),
      [['80-', 1]],
    );
  });

  it('routes only its own rows: others are -1', () => {
    const strategy = new SplitStrategy('commerce', '80-', [], 'destination');
    const targets = strategy.resolveTargets(exampleTopology());
    const t = { ...def('t'), columns: [{ name: 'keyspace_id', dataType: 'bigint', columnType: 'bigint unsigned', encoding: 'number' as const }] };
    const route = strategy.routerFor(t, targets, 0);
    assert.equal(route([Buffer.from('18446744073709551615')]), 0);
    assert.equal(route([Buffer.from('1')]), -1);
  });

  it("reads only its own rows from each source: the destination's part of that source's range, and NULL keys", () => {
    const topo = keyspaceTopology(['-80*', '80-*', '-40', '40-c0', 'c0-']);
    const strategy = new SplitStrategy('ks', '40-c0', [], 'destination');
    const targets = strategy.resolveTargets(topo);
    const t = def('t');
    assert.deepEqual(strategy.destinationRows(t, targets, 0), {
      condition: '((`keyspace_id` >= 4611686018427387904 AND `keyspace_id` < 9223372036854775808) OR `keyspace_id` IS NULL)',
      share: 0.5,
    });
    assert.deepEqual(strategy.destinationRows(t, targets, 1), {
      condition: '((`keyspace_id` >= 9223372036854775808 AND `keyspace_id` < 13835058055282163712) OR `keyspace_id` IS NULL)',
      share: 0.5,
    });
    // A clone's --verify diffs every destination: they hold the whole source range, so no row is left out.
    const clone = new SplitStrategy('ks', '80-', []);
    const all = keyspaceTopology(['0*', '-80', '80-']);
    assert.deepEqual(clone.destinationRows(t, new SplitStrategy('ks', '0', []).resolveTargets(all), 0), { condition: '', share: 1 });
    assert.deepEqual(new VerticalStrategy('customer', '0', ['customer']).destinationRows(), { condition: '', share: 1 });
  });

  it('mid-cutover (rdonly and replica moved), SplitClone and SplitDiff find the split through sourceShards', () => {
    const topo = keyspaceTopology(['-80*', '80-*', '-40', '40-c0', 'c0-']);
    const entry = (shard: string, uid: number) => ({ uid, keyspace: 'ks', shard, keyRange: shard, tables: ['t'] });
    for (const d of ['-40', '40-c0', 'c0-'])
      topo.keyspaces.ks.shards[d] = {
        servedTypes: ['replica', 'rdonly'],
        sourceShards: d === '-40' ? [entry('-80', 0)] : d === 'c0-' ? [entry('80-', 1)] : [entry('-80', 0), entry('80-', 1)],
      };
    for (const s of ['-80', '80-']) topo.keyspaces.ks.shards[s].servedTypes = ['primary'];
    const clone = new SplitStrategy('ks', '80-', []).resolveTargets(topo);
    assert.deepEqual(
      [clone.sources.map((s) => [s.shard, s.uid]), clone.destinations.map((d) => d.shard)],
      [
        [
          ['-80', 0],
          ['80-', 1],
        ],
        ['-40', '40-c0', 'c0-'],
      ],
    );
    const diff = new SplitStrategy('ks', 'c0-', [], 'destination').resolveTargets(topo);
    assert.deepEqual([diff.sources.map((s) => [s.shard, s.uid]), diff.destinations.map((d) => d.shard)], [[['80-', 1]], ['c0-']]);
    // Without the record (a clone with -skip_set_source_shards), the destinations now serve: refused by name.
    for (const d of ['-40', '40-c0', 'c0-']) topo.keyspaces.ks.shards[d].sourceShards = [];
    assert.throws(() => new SplitStrategy('ks', 'c0-', [], 'destination').resolveTargets(topo), /ks\/c0- is serving/);
  });

  it('refuses a serving shard, and a shard no serving shard overlaps', () => {
    assert.throws(() => new SplitStrategy('commerce', '0', [], 'destination').resolveTargets(exampleTopology()), /commerce\/0 is serving/);
    assert.throws(() => new SplitStrategy('ks', '-80', [], 'destination').resolveTargets(keyspaceTopology(['80-*', '-80'])), /no serving shard overlaps it/);
  });
});
