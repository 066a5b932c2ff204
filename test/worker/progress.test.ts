import assert from 'node:assert/strict';
import { test } from 'node:test';
import { etaSeconds, RateMeter, TableProgress, totalsOf } from '../../src/worker/progress.ts';

test('rate is over the recent window, not since the start', () => {
  const m = new RateMeter(30_000);
  // 60 s at 1000 rows/s, then 30 s at 100 rows/s.
  let n = 0;
  for (let t = 0; t <= 60_000; t += 1000) {
    m.record(t, n);
    n += 1000;
  }
  n -= 1000;
  for (let t = 61_000; t <= 90_000; t += 1000) {
    n += 100;
    m.record(t, n);
  }
  const r = m.rate(90_000);
  assert.ok(r > 90 && r < 140, `rate ${r}`);
});

test('rate decays when rows stop coming', () => {
  const m = new RateMeter(30_000);
  m.record(0, 0);
  m.record(10_000, 10_000);
  assert.equal(m.rate(10_000), 1000);
  m.record(40_000, 10_000);
  assert.ok(m.rate(40_000) < 400);
  m.record(80_000, 10_000);
  assert.equal(m.rate(80_000), 0);
});

test('ETA: remaining / rate, only past 1%, never negative, 0 when done', () => {
  assert.equal(etaSeconds(0, 1000, 10, false), null);
  assert.equal(etaSeconds(9, 1000, 10, false), null);
  assert.equal(etaSeconds(10, 1000, 10, false), 99);
  assert.equal(etaSeconds(500, 1000, 0, false), null);
  assert.equal(etaSeconds(2000, 1000, 10, false), 0);
  assert.equal(etaSeconds(10, 1000, 10, true), 0);
  assert.equal(etaSeconds(0, 0, 0, false), null);
});

test('estimate is raised when copied rows pass it', () => {
  const t = new TableProgress('t', 'table', 100, 0);
  t.addRows(150, 1000);
  assert.equal(t.rowsEstimated, 150);
  const s = t.snapshot(1000);
  assert.equal(s.rowsCopied, 150);
  assert.equal(s.etaSeconds, 0);
});

test('totals sum the tables', () => {
  const a = new TableProgress('a', 'table', 1000, 0);
  const b = new TableProgress('b', 'table', 3000, 0);
  a.addRows(500, 10_000);
  b.addRows(500, 10_000);
  const totals = totalsOf([a.snapshot(10_000), b.snapshot(10_000)], false);
  assert.equal(totals.rowsEstimated, 4000);
  assert.equal(totals.rowsCopied, 1000);
  assert.equal(totals.rowsPerSecond, 100);
  assert.equal(totals.etaSeconds, 30);
});

test('the window slides even when rows come every few milliseconds', () => {
  const m = new RateMeter(30_000);
  // 60 s at 1000 rows/s, then 30 s at 100 rows/s, reported every 10 ms (batches finishing back to back).
  let n = 0;
  for (let t = 0; t <= 60_000; t += 10) m.record(t, (n += 10));
  for (let t = 60_010; t <= 90_000; t += 10) m.record(t, (n += 1));
  const r = m.rate(90_000);
  assert.ok(r > 90 && r < 140, `rate ${r}`);
});

test('the overall rate is the job’s own, not the sum of unfinished tables', () => {
  const a = new TableProgress('a', 'table', 1000, 0);
  const b = new TableProgress('b', 'table', 3000, 0);
  a.addRows(1000, 5_000);
  a.state = 'done';
  b.addRows(1000, 10_000);
  const tables = [a.snapshot(10_000), b.snapshot(10_000)];
  assert.equal(totalsOf(tables, false).rowsPerSecond, 100); // a is done: its rate is 0
  assert.equal(totalsOf(tables, false, 200).rowsPerSecond, 200);
  assert.equal(totalsOf(tables, true, 200).rowsPerSecond, 0);
});
