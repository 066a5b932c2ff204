import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chunkCountFor, splitIntegerRange } from '../../src/mysql/chunker.ts';

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
  assert.deepEqual(neg, [{ start: null, end: '0' }, { start: '0', end: null }]);
  const huge = splitIntegerRange(0n, 18446744073709551615n, 4);
  covers(huge);
  assert.equal(huge[1].start, '4611686018427387904');
  const signed = splitIntegerRange(-9223372036854775808n, 9223372036854775807n, 2);
  assert.deepEqual(signed, [{ start: null, end: '0' }, { start: '0', end: null }]);
});
