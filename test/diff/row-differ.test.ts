import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rowKeyOf } from '../../src/diff/key-order.ts';
import { diffRows, joinBatches, RowOrderError } from '../../src/diff/row-differ.ts';
import { RowBatch } from '../../src/mysql/row-batches.ts';
import { MAX_EXAMPLES, type DiffTally } from '../../src/diff/tally.ts';
import type { Row } from '../../src/mysql/sql.ts';
import { row, Rows, table } from './helpers.ts';

const INT_PK = table(
  [
    ['id', 'bigint'],
    ['name', 'varchar'],
    ['data', 'blob'],
  ],
  ['id'],
);
const NO_PK = table(
  [
    ['a', 'int'],
    ['b', 'varchar'],
  ],
  [],
);

function spec(t: ReturnType<typeof table>) {
  return { key: rowKeyOf(t), columns: t.columns.map((c) => c.name) };
}

async function diff(source: Row[], dest: Row[], t = INT_PK): Promise<DiffTally> {
  return diffRows(new Rows(source), new Rows(dest), spec(t));
}

function counts(t: DiffTally) {
  const { processed, matching, mismatched, extraOnSource, extraOnDestination } = t;
  return { processed, matching, mismatched, extraOnSource, extraOnDestination };
}

const keys = (t: DiffTally, kind: keyof DiffTally['examples']) => t.examples[kind].map((e) => e.key);

describe('diffRows, by primary key', () => {
  it('identical sides match row for row', async () => {
    const rows = [row(1, 'a', null), row(2, 'b', Buffer.from([0, 255])), row(3, '', Buffer.alloc(0))];
    assert.deepEqual(
      counts(
        await diff(
          rows,
          rows.map((r) => [...r]),
        ),
      ),
      { processed: 3, matching: 3, mismatched: 0, extraOnSource: 0, extraOnDestination: 0 },
    );
  });

  it('both empty: nothing processed', async () => {
    assert.deepEqual(counts(await diff([], [])), { processed: 0, matching: 0, mismatched: 0, extraOnSource: 0, extraOnDestination: 0 });
  });

  it('an empty destination: every source row is extra on the source', async () => {
    const t = await diff([row(1, 'a', null), row(2, 'b', null)], []);
    assert.deepEqual(counts(t), { processed: 2, matching: 0, mismatched: 0, extraOnSource: 2, extraOnDestination: 0 });
    assert.deepEqual(keys(t, 'extraOnSource'), ['id=1', 'id=2']);
  });

  it('an empty source: every destination row is extra on the destination', async () => {
    const t = await diff([], [row(7, 'x', null)]);
    assert.deepEqual(counts(t), { processed: 1, matching: 0, mismatched: 0, extraOnSource: 0, extraOnDestination: 1 });
    assert.deepEqual(keys(t, 'extraOnDestination'), ['id=7']);
  });

  it('a changed value is a mismatch naming the key and the columns', async () => {
    const t = await diff([row(1, 'a', 'x'), row(2, 'b', 'y')], [row(1, 'a', 'x'), row(2, 'B', 'z')]);
    assert.deepEqual(counts(t), { processed: 2, matching: 1, mismatched: 1, extraOnSource: 0, extraOnDestination: 0 });
    assert.deepEqual(t.examples.mismatched, [{ key: 'id=2', columns: ['name', 'data'] }]);
  });

  it('NULL differs from an empty value, and from another NULL-free value', async () => {
    const t = await diff([row(1, null, null), row(2, '', 'v')], [row(1, '', null), row(2, '', null)]);
    assert.deepEqual(t.examples.mismatched, [
      { key: 'id=1', columns: ['name'] },
      { key: 'id=2', columns: ['data'] },
    ]);
  });

  it('compares raw bytes: a trailing space or another case is a difference', async () => {
    const t = await diff([row(1, 'a', null), row(2, 'x', null)], [row(1, 'a ', null), row(2, 'X', null)]);
    assert.equal(t.mismatched, 2);
  });

  it('interleaved missing and extra rows', async () => {
    const source = [1, 2, 4, 5, 8].map((i) => row(i, `v${i}`, null));
    const dest = [2, 3, 4, 6, 8, 9].map((i) => row(i, `v${i}`, null));
    const t = await diff(source, dest);
    assert.deepEqual(counts(t), { processed: 8, matching: 3, mismatched: 0, extraOnSource: 2, extraOnDestination: 3 });
    assert.deepEqual(keys(t, 'extraOnSource'), ['id=1', 'id=5']);
    assert.deepEqual(keys(t, 'extraOnDestination'), ['id=3', 'id=6', 'id=9']);
  });

  it('orders integer keys by value, not by their text: 9 < 10, negatives first', async () => {
    const ids = ['-100', '-9', '-1', '0', '9', '10', '100', '9223372036854775807'];
    const rows = ids.map((i) => row(i, 'x', null));
    const t = await diff(
      rows,
      rows.filter((_, i) => i !== 5),
    );
    assert.deepEqual(counts(t), { processed: 8, matching: 7, mismatched: 0, extraOnSource: 1, extraOnDestination: 0 });
    assert.deepEqual(keys(t, 'extraOnSource'), ['id=10']);
  });

  it('unsigned 64-bit extremes', async () => {
    const rows = ['0', '1', '9223372036854775808', '18446744073709551614', '18446744073709551615'].map((i) => row(i, 'x', null));
    const t = await diff(rows, [...rows.slice(0, 4), row('18446744073709551615', 'y', null)]);
    assert.deepEqual(t.examples.mismatched, [{ key: 'id=18446744073709551615', columns: ['name'] }]);
    assert.equal(t.matching, 4);
  });

  it('keeps the first 10 examples of each kind and counts them all', async () => {
    const source = Array.from({ length: 25 }, (_, i) => row(i * 2, 'x', null));
    const dest = Array.from({ length: 30 }, (_, i) => row(i * 2 + 1, 'x', null));
    const t = await diff(source, dest);
    assert.equal(t.extraOnSource, 25);
    assert.equal(t.extraOnDestination, 30);
    assert.equal(t.examples.extraOnSource.length, MAX_EXAMPLES);
    assert.equal(t.examples.extraOnDestination.length, MAX_EXAMPLES);
    assert.deepEqual(keys(t, 'extraOnSource').slice(0, 3), ['id=0', 'id=2', 'id=4']);
  });

  it('a composite key: integer then bytes', async () => {
    const t2 = table(
      [
        ['a', 'int'],
        ['b', 'varbinary'],
        ['v', 'text'],
      ],
      ['a', 'b'],
    );
    const source = [row(1, Buffer.from([0x00]), 'p'), row(1, Buffer.from([0xff]), 'q'), row(2, 'A', 'r'), row(2, 'a', 's')];
    const dest = [row(1, Buffer.from([0x00]), 'p'), row(2, 'A', 'r'), row(2, 'a', 'S'), row(10, 'z', 't')];
    const t = await diffRows(new Rows(source), new Rows(dest), spec(t2));
    assert.deepEqual(counts(t), { processed: 5, matching: 2, mismatched: 1, extraOnSource: 1, extraOnDestination: 1 });
    assert.deepEqual(keys(t, 'extraOnSource'), ['a=1, b=0xff']);
    assert.deepEqual(t.examples.mismatched, [{ key: 'a=2, b="a"', columns: ['v'] }]);
    assert.deepEqual(keys(t, 'extraOnDestination'), ['a=10, b="z"']);
  });

  it('refuses a side out of key order, naming it', async () => {
    await assert.rejects(
      diff([row(2, 'x', null), row(1, 'x', null)], []),
      (e: unknown) => e instanceof RowOrderError && /source rows are out of key order: id=1 came after id=2/.test(e.message),
    );
    await assert.rejects(diff([], [row(10, 'x', null), row(9, 'x', null)]), /destination rows are out of key order: id=9 came after id=10/);
  });

  it('refuses a repeated primary key', async () => {
    await assert.rejects(diff([row(1, 'x', null), row(1, 'y', null)], []), /id=1 repeated id=1/);
  });

  it('closes both sides when it stops early, and passes a side error through', async () => {
    // Longer than one batch: rows are read a batch ahead, so a short source would be read through before the error.
    const source = new Rows(Array.from({ length: 1000 }, (_, i) => row(i, 'x', null)));
    const dest = new Rows([row(1, 'x', null), row(2, 'x', null), row(3, 'x', null)]);
    dest.failAt = { index: 1, error: new Error('connection lost') };
    await assert.rejects(diffRows(source, dest, spec(INT_PK)), /connection lost/);
    assert.equal(source.closed, true);
  });
});

describe('diffRows, a table without a primary key (sorted full rows)', () => {
  it('every column is the key', () => {
    const key = rowKeyOf(NO_PK);
    assert.equal(key.byPrimaryKey, false);
    assert.deepEqual(key.names, ['a', 'b']);
  });

  it('identical rows may repeat, and are counted one for one', async () => {
    const rows = [row(1, 'a'), row(1, 'a'), row(1, 'b'), row(2, null)];
    const t = await diff(rows, [row(1, 'a'), row(1, 'b'), row(2, null), row(2, null)], NO_PK);
    assert.deepEqual(counts(t), { processed: 5, matching: 3, mismatched: 0, extraOnSource: 1, extraOnDestination: 1 });
    assert.deepEqual(keys(t, 'extraOnSource'), ['a=1, b="a"']);
    assert.deepEqual(keys(t, 'extraOnDestination'), ['a=2, b=NULL']);
  });

  it('a changed value shows as one extra on each side (no key to pair them)', async () => {
    const t = await diff([row(1, 'a'), row(2, 'b')], [row(1, 'a'), row(2, 'c')], NO_PK);
    assert.deepEqual(counts(t), { processed: 3, matching: 1, mismatched: 0, extraOnSource: 1, extraOnDestination: 1 });
  });

  it('NULL sorts first, as ORDER BY puts it', async () => {
    const t = await diff([row(null, 'z'), row(1, null), row(1, 'a')], [row(null, 'z'), row(1, null), row(1, 'a')], NO_PK);
    assert.equal(t.matching, 3);
  });

  it('refuses rows out of order', async () => {
    await assert.rejects(diff([row(1, 'b'), row(1, 'a')], [], NO_PK), RowOrderError);
  });
});

describe('rowKeyOf', () => {
  it('falls back to every column when a primary key column is not read (generated)', () => {
    const key = rowKeyOf(
      table(
        [
          ['a', 'int'],
          ['b', 'int'],
        ],
        ['g'],
      ),
    );
    assert.equal(key.byPrimaryKey, false);
    assert.deepEqual(key.indexes, [0, 1]);
  });

  it('integer kinds for integer types, bytes for the rest', () => {
    const key = rowKeyOf(
      table(
        [
          ['a', 'tinyint'],
          ['b', 'decimal'],
          ['c', 'datetime'],
          ['d', 'bigint'],
        ],
        ['d', 'b', 'c', 'a'],
      ),
    );
    assert.deepEqual(key.kinds, ['integer', 'bytes', 'bytes', 'integer']);
    assert.deepEqual(key.indexes, [3, 1, 2, 0]);
  });
});

describe('joinBatches: several sources, several destinations', () => {
  const columns = 3;
  const batches = (rows: Row[], tag = 0, perBatch = 2) =>
    (async function* () {
      yield* RowBatch.of(rows, columns, tag, perBatch);
    })();
  const tagged = (rows: [Row, number][], perBatch = 2) =>
    (async function* () {
      for (const [r, tag] of rows) yield* RowBatch.of([r], columns, tag, perBatch);
    })();

  it('merges two sources into one destination in key order (a merge)', async () => {
    const [t] = await joinBatches(
      [batches([row(1, 'a', null), row(4, 'd', null), row(5, 'e', null)]), batches([row(2, 'b', null), row(3, 'c', null), row(6, 'f', null)])],
      [batches([row(1, 'a', null), row(2, 'b', null), row(3, 'X', null), row(4, 'd', null), row(6, 'f', null), row(7, 'g', null)])],
      spec(INT_PK),
    );
    assert.equal(t.processed, 7);
    assert.equal(t.matching, 4);
    assert.deepEqual(keys(t, 'mismatched'), ['id=3']);
    assert.deepEqual(t.examples.mismatched[0].columns, ['name']);
    assert.deepEqual(keys(t, 'extraOnSource'), ['id=5']);
    assert.deepEqual(keys(t, 'extraOnDestination'), ['id=7']);
  });

  it('reads one source once for two destinations, each row compared where its tag sends it (a split)', async () => {
    const source = tagged([
      [row(1, 'a', null), 0],
      [row(2, 'b', null), 1],
      [row(3, 'c', null), 0],
      [row(4, 'd', null), 1],
      [row(5, 'e', null), 1],
    ]);
    const [low, high] = await joinBatches(
      [source],
      [batches([row(1, 'a', null), row(2, 'b', null), row(3, 'c', null)]), batches([row(4, 'd', null), row(5, 'E', null), row(9, 'z', null)])],
      spec(INT_PK),
    );
    assert.deepEqual({ processed: low.processed, matching: low.matching }, { processed: 3, matching: 2 });
    // Row 2 is the other destination's: on this one it is extra, and missing from the other.
    assert.deepEqual(keys(low, 'extraOnDestination'), ['id=2']);
    assert.deepEqual(keys(high, 'extraOnSource'), ['id=2']);
    assert.deepEqual(keys(high, 'mismatched'), ['id=5']);
    assert.deepEqual(keys(high, 'extraOnDestination'), ['id=9']);
    assert.equal(high.matching, 1);
  });

  it('compares values longer than 250 bytes and NULLs by their bytes', async () => {
    const long = 'x'.repeat(70_000);
    const [t] = await joinBatches(
      [batches([row(1, long, null), row(2, long, 'n'), row(3, null, null)])],
      [batches([row(1, long, null), row(2, long + 'y', 'n'), row(3, '', null)])],
      spec(INT_PK),
    );
    assert.equal(t.matching, 1);
    assert.deepEqual(keys(t, 'mismatched'), ['id=2', 'id=3']);
    assert.deepEqual(
      t.examples.mismatched.map((e) => e.columns),
      [['name'], ['name']],
    );
  });
});
