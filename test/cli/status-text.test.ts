// `run`'s status text: every table while they fit a screen; for many tables, those at work and a count of the rest.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LIST_ALL_TABLES, statusText } from '../../src/cli/status-text.ts';
import { idleSnapshot, type StatusSnapshot, type TableState, type TableStatus } from '../../src/worker/status.ts';

function table(name: string, state: TableState, extra: Partial<TableStatus> = {}): TableStatus {
  const copied = state === 'done' ? 500 : state === 'waiting' ? 0 : 200;
  return {
    name,
    kind: 'table',
    state,
    rowsEstimated: 500,
    rowsCopied: copied,
    chunksTotal: 1,
    chunksDone: state === 'done' ? 1 : 0,
    rowsPerSecond: 0,
    etaSeconds: null,
    ...extra,
  };
}

function snapshot(tables: TableStatus[]): StatusSnapshot {
  return { ...idleSnapshot(), state: 'copying the data', job: { command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} }, tables };
}

test(`up to ${LIST_ALL_TABLES} tables: a line each`, () => {
  const tables = Array.from({ length: LIST_ALL_TABLES }, (_, i) => table(`t${i}`, i < 10 ? 'done' : 'waiting'));
  const text = statusText(snapshot(tables));
  for (const t of tables) assert.match(text, new RegExp(`^  ${t.name} +${t.state}`, 'm'));
  assert.doesNotMatch(text, /… and/);
});

test('2,000 tables: the ones at work, those with a note, and a count of the rest by state (waiting, creating, done)', () => {
  const tables = Array.from({ length: 2000 }, (_, i) =>
    i < 1100
      ? table(`t${i}`, 'done')
      : i < 1200
        ? table(`t${i}`, 'creating')
        : i < 1203
          ? table(`t${i}`, 'copying')
          : i === 1203
            ? table(`t${i}`, 'waiting', { note: 'no primary key' })
            : table(`t${i}`, 'waiting'),
  );
  const text = statusText(snapshot(tables));
  assert.match(text, /^ {2}t1200 +copying/m);
  assert.match(text, /^ {2}t1202 +copying/m);
  assert.match(text, /^ {2}t1203 +waiting[^\n]*\n {4}note: no primary key/m);
  assert.doesNotMatch(text, /^ {2}t0 /m);
  assert.doesNotMatch(text, /^ {2}t1999 /m);
  assert.match(text, /^ {2}… and 1,100 done, 100 creating, 796 waiting$/m);
  assert.match(text, /^ {2}total /m);
  assert.ok(text.split('\n').length < 15, text);
});
