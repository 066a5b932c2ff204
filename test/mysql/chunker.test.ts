import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chunkCondition, chunkCountFor, parseChunkPlan, splitIntegerRange } from '../../src/mysql/chunker.ts';
import type { TableDefinition } from '../../src/mysql/schema.ts';

const opts = { chunkCount: 1000, minRowsPerChunk: 10000, minTableSizeForSplit: 1024 * 1024 };

test('small tables are one chunk', () => {
  assert.equal(chunkCountFor({ rowsEstimate: 1_000_000, dataLength: 1024 }, opts), 1);
  assert.equal(chunkCountFor({ rowsEstimate: 5000, dataLength: 10 * 1024 * 1024 }, opts), 1);
});

test('chunk count honours min rows per chunk and the cap', () => {
  assert.equal(chunkCountFor({ rowsEstimate: 100_000, dataLength: 1 << 30 }, opts), 10);
  assert.equal(chunkCountFor({ rowsEstimate: 1e9, dataLength: 1 << 30 }, opts), 1000);
  assert.equal(chunkCountFor({ rowsEstimate: 100_000, dataLength: 1 << 30 }, { ...opts, chunkCount: 3 }), 3);
});

function covers(ranges: ReturnType<typeof splitIntegerRange>) {
  assert.equal(ranges[0].start, null);
  assert.equal(ranges[ranges.length - 1].end, null);
  for (let i = 1; i < ranges.length; i++) assert.equal(ranges[i].start, ranges[i - 1].end);
}

test('integer ranges: contiguous, unbounded at both ends', () => {
  const r = splitIntegerRange(1n, 100n, 4);
  assert.deepEqual(r, [
    { start: null, end: '26' },
    { start: '26', end: '51' },
    { start: '51', end: '76' },
    { start: '76', end: null },
  ]);
  covers(r);
});

test('integer ranges: edges', () => {
  assert.deepEqual(splitIntegerRange(5n, 5n, 10), [{ start: null, end: null }]);
  assert.equal(splitIntegerRange(1n, 3n, 10).length, 3);
  const neg = splitIntegerRange(-100n, 99n, 2);
  assert.deepEqual(neg, [
    { start: null, end: '0' },
    { start: '0', end: null },
  ]);
  const huge = splitIntegerRange(0n, 18446744073709551615n, 4);
  covers(huge);
  assert.equal(huge[1].start, '4611686018427387904');
  const signed = splitIntegerRange(-9223372036854775808n, 9223372036854775807n, 2);
  assert.deepEqual(signed, [
    { start: null, end: '0' },
    { start: '0', end: null },
  ]);
});

function tableOf(columns: [string, string, string | null][], primaryKey: string[]): TableDefinition {
  const cols = columns.map(([name, dataType, charset]) => ({ name, dataType, columnType: dataType, encoding: 'bytes' as const, charset }));
  return {
    name: 't',
    kind: 'table',
    createSql: '',
    columns: cols,
    selectList: cols.map((c) => '`' + c.name + '`'),
    primaryKey,
    rowsEstimate: 0,
    dataLength: 0,
    indexLength: 0,
  };
}

test('chunk conditions: an integer plan (as older versions stored it too), bounds checked', () => {
  const t = tableOf([['id', 'bigint', null]], ['id']);
  const plan = parseChunkPlan('{"column":"id","chunks":[{"start":null,"end":"-5"},{"start":"-5","end":"100"},{"start":"100","end":null}]}', 't');
  assert.deepEqual(
    plan.chunks.map((r) => chunkCondition(t, plan, r)),
    ['`id` < -5', '`id` >= -5 AND `id` < 100', '`id` >= 100'],
  );
  assert.equal(chunkCondition(t, { column: null, chunks: [{ start: null, end: null }] }, { start: null, end: null }), null);
  assert.throws(() => chunkCondition(t, { column: 'id', chunks: [] }, { start: '1 OR 1=1', end: null }), /not an integer/);
  assert.throws(() => chunkCondition(t, { column: 'id', chunks: [] }, { start: ['31'], end: null }), /not an integer/);
});

test('chunk conditions: a key plan compares the whole key tuple, each value as its ORDER BY does', () => {
  const t = tableOf(
    [
      ['name', 'varchar', 'utf8mb4'],
      ['n', 'int', null],
      ['at', 'datetime', null],
      ['b', 'varbinary', null],
    ],
    ['name', 'n', 'at', 'b'],
  );
  const hex = (s: string) => Buffer.from(s).toString('hex');
  const plan = {
    column: null,
    key: ['name', 'n', 'at', 'b'],
    chunks: [
      { start: null, end: [hex('x'), hex('-3'), hex('2020-01-01 00:00:00.000001'), ''] },
      { start: [hex('x'), hex('-3'), hex('2020-01-01 00:00:00.000001'), ''], end: null },
    ],
  };
  const tuple = (op: string, last: string) =>
    `(\`name\` ${op} _utf8mb4 X'78' OR (\`name\` = _utf8mb4 X'78' AND (\`n\` ${op} -3 OR (\`n\` = -3 AND (\`at\` ${op} '2020-01-01 00:00:00.000001' OR (\`at\` = '2020-01-01 00:00:00.000001' AND \`b\` ${last} X''))))))`;
  assert.equal(chunkCondition(t, plan, plan.chunks[0]), tuple('<', '<'));
  assert.equal(chunkCondition(t, plan, plan.chunks[1]), tuple('>', '>='));
  assert.equal(chunkCondition(t, plan, { start: plan.chunks[1].start, end: plan.chunks[0].end }), `${tuple('>', '>=')} AND ${tuple('<', '<')}`);
  // A stored plan that no longer fits the table, or with bad bounds, is refused by name.
  assert.throws(
    () => chunkCondition(tableOf([['name', 'varchar', 'utf8mb4']], ['name']), plan, plan.chunks[0]),
    /planned on the key \(name, n, at, b\), but its primary key is \(name\)/,
  );
  assert.throws(() => chunkCondition(t, plan, { start: ['78', 'zz', '00', ''], end: null }), /not 4 hex values/);
  assert.throws(() => chunkCondition(t, plan, { start: '78', end: null }), /not 4 hex values/);
  assert.throws(() => chunkCondition(t, { ...plan, key: ['name', 'n', 'at', 'b'] }, { start: [hex('x'), hex('1 OR 1'), '', ''], end: null }), /not a number/);
});

test('stored plans are checked as they are read', () => {
  assert.throws(() => parseChunkPlan('nope', 't'), /stored chunk plan of t is not JSON/);
  assert.throws(() => parseChunkPlan('{"column":null,"chunks":[]}', 't'), /has no chunks/);
  assert.throws(() => parseChunkPlan('{"column":null,"key":[],"chunks":[{"start":null,"end":null}]}', 't'), /bad key/);
  assert.throws(() => parseChunkPlan('{"column":null,"key":["k"],"chunks":[{"start":1,"end":null}]}', 't'), /bad chunk/);
  const plan = {
    column: null,
    key: ['k'],
    chunks: [
      { start: null, end: ['61'] },
      { start: ['61'], end: null },
    ],
  };
  assert.deepEqual(parseChunkPlan(JSON.stringify(plan), 't'), plan);
});
