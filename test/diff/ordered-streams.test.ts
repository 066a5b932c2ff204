import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keyComparator, rowKeyOf } from '../../src/diff/key-order.ts';
import { keepRows, mergeOrdered } from '../../src/diff/ordered-streams.ts';
import type { Row } from '../../src/mysql/sql.ts';
import { row, Rows, table } from './helpers.ts';

const compare = keyComparator(rowKeyOf(table([['id', 'int'], ['v', 'varchar']], ['id'])));

async function all(rows: AsyncIterable<Row>): Promise<string[]> {
  const out: string[] = [];
  for await (const r of rows) out.push(String(r[0]));
  return out;
}

describe('mergeOrdered', () => {
  it('merges ordered sequences into one, by value', async () => {
    const a = new Rows([1, 4, 10, 11].map((i) => row(i, 'a')));
    const b = new Rows([2, 3, 9, 100].map((i) => row(i, 'b')));
    const c = new Rows([]);
    assert.deepEqual(await all(mergeOrdered([a, b, c], compare)), ['1', '2', '3', '4', '9', '10', '11', '100']);
  });
  it('no sequence: nothing; one: itself', async () => {
    assert.deepEqual(await all(mergeOrdered([], compare)), []);
    assert.deepEqual(await all(mergeOrdered([new Rows([row(3, 'x')])], compare)), ['3']);
  });
  it('closes every sequence when the consumer stops early', async () => {
    const a = new Rows([1, 3, 5].map((i) => row(i, 'a')));
    const b = new Rows([2, 4, 6].map((i) => row(i, 'b')));
    for await (const r of mergeOrdered([a, b], compare)) if (String(r[0]) === '2') break;
    assert.equal(a.closed, true);
    assert.equal(b.closed, true);
  });
});

describe('keepRows', () => {
  it('keeps what the predicate accepts and reports every row read, in batches and at the end', async () => {
    const reads: number[] = [];
    const rows = new Rows(Array.from({ length: 25 }, (_, i) => row(i, 'x')));
    const kept = await all(keepRows(rows, (r) => Number(String(r[0])) % 10 === 0, (n) => reads.push(n), 10));
    assert.deepEqual(kept, ['0', '10', '20']);
    assert.deepEqual(reads, [10, 10, 5]);
  });
});
