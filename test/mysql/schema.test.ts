import assert from 'node:assert/strict';
import { test } from 'node:test';
import { largestFirst, type TableDefinition } from '../../src/mysql/schema.ts';

const table = (name: string, dataLength: number, indexLength: number, rowsEstimate: number): TableDefinition => ({
  name,
  kind: 'table',
  createSql: '',
  columns: [],
  selectList: [],
  primaryKey: [],
  rowsEstimate,
  dataLength,
  indexLength,
});

test('tables are taken by bytes, data and indexes together, then by rows: the last to finish is a small one', () => {
  const tables = [
    table('tiny', 1, 0, 10),
    table('more_rows_fewer_bytes', 150, 25, 1000),
    table('fewer_rows_more_bytes', 170, 40, 900),
    table('same_bytes_more_rows', 100, 10, 50),
    table('same_bytes_fewer_rows', 100, 10, 40),
  ];
  assert.deepEqual(
    largestFirst(tables).map((t) => t.name),
    ['fewer_rows_more_bytes', 'more_rows_fewer_bytes', 'same_bytes_more_rows', 'same_bytes_fewer_rows', 'tiny'],
  );
  assert.equal(tables[0].name, 'tiny', 'the input is left as it was');
});
