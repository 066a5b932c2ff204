import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UNKNOWN, formatCount, formatDuration, formatPercent, formatRate, formatSize, formatTime, progressFraction } from '../../src/http/format.ts';

test('formatDuration: seconds, minutes, hours, days; two units at most', () => {
  const cases: Array<[number | null | undefined, string]> = [
    [0, '0s'],
    [0.4, '0s'],
    [0.5, '1s'],
    [1, '1s'],
    [45, '45s'],
    [59.4, '59s'],
    [59.6, '1m 00s'],
    [60, '1m 00s'],
    [65, '1m 05s'],
    [65.2, '1m 05s'],
    [600, '10m 00s'],
    [3599, '59m 59s'],
    [3600, '1h 00m'],
    [7380, '2h 03m'],
    [7399, '2h 03m'],
    [86399, '23h 59m'],
    [86400, '1d 00h'],
    [93600, '1d 02h'],
    [10 * 86400, '10d 00h'],
    [-5, '0s'],
    [null, UNKNOWN],
    [undefined, UNKNOWN],
    [NaN, UNKNOWN],
    [Infinity, UNKNOWN],
    [-Infinity, UNKNOWN],
  ];
  for (const [input, want] of cases) assert.equal(formatDuration(input), want, `formatDuration(${input})`);
});

test('formatCount: thousands separators', () => {
  const cases: Array<[number | null, string]> = [
    [0, '0'],
    [7, '7'],
    [999, '999'],
    [1000, '1,000'],
    [12345, '12,345'],
    [1234567, '1,234,567'],
    [1000000000, '1,000,000,000'],
    [2 ** 53 - 1, '9,007,199,254,740,991'],
    [-1234, '-1,234'],
    [1234.6, '1,235'],
    [null, UNKNOWN],
    [NaN, UNKNOWN],
  ];
  for (const [input, want] of cases) assert.equal(formatCount(input), want, `formatCount(${input})`);
});

test('progressFraction: copied over estimated, capped, done is whole', () => {
  assert.equal(progressFraction(0, 0), 0);
  assert.equal(progressFraction(5, 0), 0);
  assert.equal(progressFraction(0, 0, true), 1);
  assert.equal(progressFraction(50, 100), 0.5);
  assert.equal(progressFraction(150, 100), 1);
  assert.equal(progressFraction(90, 100, true), 1);
  assert.equal(progressFraction(-1, 100), 0);
});

test('formatPercent: one decimal, never 100% before the end', () => {
  const cases: Array<[number, string]> = [
    [0, '0.0%'],
    [-0.5, '0.0%'],
    [NaN, '0.0%'],
    [0.0001, '0.0%'],
    [0.001, '0.1%'],
    [0.01, '1.0%'],
    [0.42, '42.0%'],
    [0.58, '58.0%'],
    [0.123456, '12.3%'],
    [0.9999, '99.9%'],
    [0.99999999, '99.9%'],
    [1, '100.0%'],
    [1.5, '100.0%'],
  ];
  for (const [input, want] of cases) assert.equal(formatPercent(input), want, `formatPercent(${input})`);
});

test('formatRate: rows per second', () => {
  const cases: Array<[number | null, string]> = [
    [0, '0 rows/s'],
    [-3, '0 rows/s'],
    [0.25, '0.3 rows/s'],
    [3.5, '3.5 rows/s'],
    [9.94, '9.9 rows/s'],
    [10, '10 rows/s'],
    [52000, '52,000 rows/s'],
    [52000.4, '52,000 rows/s'],
    [1234567.8, '1,234,568 rows/s'],
    [null, UNKNOWN],
    [Infinity, UNKNOWN],
  ];
  for (const [input, want] of cases) assert.equal(formatRate(input), want, `formatRate(${input})`);
});

test('formatSize: whole units or bytes', () => {
  assert.equal(formatSize(1024 * 1024), '1MiB');
  assert.equal(formatSize(1024), '1KiB');
  assert.equal(formatSize(512 * 1024), '512KiB');
  assert.equal(formatSize(2 * 1024 ** 3), '2GiB');
  assert.equal(formatSize(1536 * 1024), '1536KiB');
  assert.equal(formatSize(1000), '1000');
  assert.equal(formatSize(0), '0');
});

test('formatTime: ISO to UTC text', () => {
  assert.equal(formatTime('2026-11-23T19:00:00.000Z'), '2026-11-23 19:00:00 UTC');
  assert.equal(formatTime(null), UNKNOWN);
  assert.equal(formatTime('not a date'), UNKNOWN);
});
