// Which tables and views a job takes: filters, the views over what is taken, and for a diff what its clone copied
// (on record in the destination shard's sourceShards).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SplitStrategy } from '../../src/clone/split-strategy.ts';
import { pickTablesAndViews, viewReads } from '../../src/clone/table-pick.ts';
import { VerticalStrategy } from '../../src/clone/vertical-strategy.ts';
import type { SchemaDefinition, TableDefinition } from '../../src/mysql/schema.ts';
import { TopologyError } from '../../src/topology/errors.ts';
import { exampleTopology } from '../topology/fixtures/topology.ts';

const KSID = [{ name: 'keyspace_id', dataType: 'bigint', columnType: 'bigint unsigned', encoding: 'number' as const }];

function table(name: string): TableDefinition {
  return { name, kind: 'table', createSql: '', columns: KSID, selectList: [], primaryKey: [], rowsEstimate: 0, dataLength: 0, indexLength: 0 };
}
/** A view reading `reads` (qualified, as information_schema.VIEWS has it). */
function view(name: string, ...reads: string[]): TableDefinition {
  const from = reads.map((r, i) => `\`commerce\`.\`${r}\` \`t${i}\``).join(' join ');
  return {
    ...table(name),
    kind: 'view',
    createSql: `CREATE VIEW \`${name}\` AS select 1 from ${reads.join(', ')}`,
    viewDefinition: `select \`t0\`.\`id\` AS \`id\` from ${from}`,
  };
}

const schema: SchemaDefinition = {
  dbName: 'commerce',
  tables: [
    table('corder'),
    table('customer'),
    view('customer_orders', 'customer', 'corder'),
    view('customer_v', 'customer'),
    view('on_a_view', 'customer_v'),
    view('elsewhere'),
    table('product'),
    view('product_v', 'product'),
  ],
};
const names = (ts: TableDefinition[]) => ts.map((t) => t.name);

describe('pickTablesAndViews', () => {
  it('with no filter: every table and every view', () => {
    assert.deepEqual(names(pickTablesAndViews(schema, [], [])), names(schema.tables));
  });
  it('a view over a table left out stays behind too', () => {
    assert.deepEqual(names(pickTablesAndViews(schema, [], ['product'])), ['corder', 'customer', 'customer_orders', 'customer_v', 'on_a_view', 'elsewhere']);
    assert.deepEqual(names(pickTablesAndViews(schema, [], ['corder'])), ['customer', 'customer_v', 'on_a_view', 'elsewhere', 'product', 'product_v']);
  });
  it('filtered: the tables named, the views named, and the views over them (and views over those views)', () => {
    assert.deepEqual(names(pickTablesAndViews(schema, [{ patterns: ['customer'], from: 'of the source' }], [])), ['customer', 'customer_v', 'on_a_view']);
    assert.deepEqual(names(pickTablesAndViews(schema, [{ patterns: ['/^c/', 'product_v'], from: 'of the source' }], [])), [
      'corder',
      'customer',
      'customer_orders',
      'customer_v',
      'on_a_view',
      'product_v',
    ]);
  });
  it('an excluded view stays out even over taken tables', () => {
    assert.deepEqual(names(pickTablesAndViews(schema, [{ patterns: ['customer'], from: 'of the source' }], ['customer_v'])), ['customer']);
  });
  it('two filters narrow in turn; a pattern that matches nothing is named with where it looked', () => {
    const includes = [
      { patterns: ['corder', 'customer'], from: 'of the source' },
      { patterns: ['corder'], from: 'the clone copied' },
    ];
    assert.deepEqual(names(pickTablesAndViews(schema, includes, [])), ['corder']);
    assert.throws(
      () => pickTablesAndViews(schema, [includes[0], { patterns: ['product'], from: 'the clone copied' }], []),
      /table product matches no table the clone copied/,
    );
  });
  it('viewReads: the tables and views of its own database', () => {
    assert.deepEqual(viewReads(schema.tables[2], schema).sort(), ['corder', 'customer']);
    assert.deepEqual(viewReads(schema.tables[5], schema), []);
  });
});

describe('SplitStrategy tables', () => {
  it('SplitClone takes --tables as a filter, and records what it copied in sourceShards', () => {
    const s = new SplitStrategy('commerce', '0', ['corder'], 'source', ['customer', 'corder']);
    const targets = s.resolveTargets(exampleTopology());
    const picked = s.pickTables(schema);
    assert.deepEqual(names(picked), ['customer', 'customer_v', 'on_a_view']);
    assert.deepEqual(s.sourceShardsFor(targets, 1, picked), [
      { uid: 0, keyspace: 'commerce', shard: '0', keyRange: '-', tables: ['customer', 'customer_v', 'on_a_view'] },
    ]);
  });

  it('SplitDiff compares what the clone recorded, narrowed by --tables and --exclude-tables', () => {
    const topo = exampleTopology();
    // As a clone records it: every destination of the split lists the source (a lone 80- would leave a gap).
    for (const d of ['-80', '80-']) {
      topo.keyspaces.commerce.shards[d].sourceShards = [
        { uid: 0, keyspace: 'commerce', shard: '0', keyRange: '-', tables: ['corder', 'customer', 'customer_v'] },
      ];
    }
    const diff = (exclude: string[], tables: string[] = []) => {
      const s = new SplitStrategy('commerce', '80-', exclude, 'destination', tables);
      s.resolveTargets(topo);
      return names(s.pickTables(schema));
    };
    // customer_orders reads two copied tables: the clone took it too (and would have recorded it).
    assert.deepEqual(diff([]), ['corder', 'customer', 'customer_orders', 'customer_v', 'on_a_view']);
    assert.deepEqual(diff(['corder']), ['customer', 'customer_v', 'on_a_view']);
    assert.deepEqual(diff([], ['customer']), ['customer', 'customer_v', 'on_a_view']);
    assert.throws(() => diff([], ['product']), /table product matches no table the clone copied/);
  });

  it('SplitDiff of a destination with nothing on record compares every table', () => {
    const s = new SplitStrategy('commerce', '-80', [], 'destination');
    s.resolveTargets(exampleTopology());
    assert.deepEqual(names(s.pickTables(schema)), names(schema.tables));
  });
});

describe('VerticalStrategy for a diff', () => {
  const moved = () => {
    const topo = exampleTopology();
    topo.keyspaces.customer.shards['0'].sourceShards = [{ uid: 0, keyspace: 'commerce', shard: '0', keyRange: '-', tables: ['customer', '/^cor/'] }];
    return topo;
  };
  it('takes the tables on record in sourceShards (names and /regexps/), and the views over them', () => {
    const s = new VerticalStrategy('customer', '0', [], 'diff');
    s.resolveTargets(moved());
    assert.deepEqual(names(s.pickTables(schema)), ['corder', 'customer', 'customer_orders', 'customer_v', 'on_a_view']);
  });
  it('--tables and --exclude-tables narrow them', () => {
    const s = new VerticalStrategy('customer', '0', ['customer'], 'diff', ['customer_v']);
    s.resolveTargets(moved());
    assert.deepEqual(names(s.pickTables(schema)), ['customer']);
    const all = new VerticalStrategy('customer', '0', ['customer', 'product'], 'diff');
    all.resolveTargets(moved());
    assert.throws(() => all.pickTables(schema), /table product matches no table the clone moved/);
  });
  it('with nothing on record, --tables is required, and the error says so', () => {
    assert.throws(
      () => new VerticalStrategy('customer', '0', [], 'diff').resolveTargets(exampleTopology()),
      (e: unknown) => e instanceof TopologyError && /customer\/0 has no tables on record in its sourceShards .*--tables/.test(e.message),
    );
    const s = new VerticalStrategy('customer', '0', ['product'], 'diff');
    s.resolveTargets(exampleTopology());
    assert.deepEqual(names(s.pickTables(schema)), ['product', 'product_v']);
  });
});
