// The cutover on the status page and in /api/status: the steps as they happen (drawn by the page's script in
// headless Chromium while the job runs), then the write pause and the positions.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApp } from '../../src/http/app.ts';
import type { CutoverStatus, StatusSnapshot } from '../../src/worker/status.ts';
import { chromiumMissing as missing, openInBrowser } from '../helpers/browser.ts';
import { FakeJobs, TOPOLOGY, idleSnapshot } from '../http/fake-jobs.ts';

const NAMES = [
  'stop writes on the primaries giving up serving',
  'streams reach their positions',
  'record the reverse streams',
  'flip the topology',
  'allow writes on the new primaries',
  'start the reverse streams',
];

/** A primary cutover with `done` steps finished (all of them: ended, with its pause); a vertical one moves `tables`. */
function snapshot(done: number, tables: string[] = []): StatusSnapshot {
  const ended = done === NAMES.length;
  const cutover: CutoverStatus = {
    servedType: 'primary',
    reverse: false,
    from: tables.length ? ['src/0'] : ['ks/0'],
    to: tables.length ? ['dst/0'] : ['ks/-80', 'ks/80-'],
    tables,
    steps: NAMES.map((name, i) => ({
      name,
      state: i < done ? 'done' : i === done ? 'running' : 'waiting',
      detail: i < done ? `detail ${i + 1}` : null,
      ms: i < done ? 10 * (i + 1) : null,
    })),
    writePauseMs: ended ? 312 : null,
    positions: { from: { 'zone1-100': 'MariaDB/0-100-42' }, to: ended ? { 'zone1-200': 'MariaDB/0-200-7', 'zone1-300': 'MariaDB/0-300-9' } : {} },
  };
  return {
    ...idleSnapshot(),
    state: ended ? 'done' : 'migrating served types',
    job: { command: 'MigrateServedTypes', keyspace: 'ks', shard: '0', options: { servedType: 'primary' } },
    startedAt: '2026-12-04T18:00:00.000Z',
    endedAt: ended ? '2026-12-04T18:00:02.000Z' : null,
    sources: ['ks/0'],
    destinations: ['ks/-80', 'ks/80-'],
    cutover,
  };
}

test('/api/status carries the cutover; /status draws it', async () => {
  const jobs = new FakeJobs();
  jobs.current = snapshot(NAMES.length);
  const app = await buildApp({ jobs, readTopology: async () => TOPOLOGY, statusMaxAgeMs: 0 }); // the snapshot is swapped between requests
  const api = (await app.inject({ method: 'GET', url: '/api/status' })).json() as StatusSnapshot;
  assert.deepEqual(api.cutover, jobs.current.cutover);
  const page = (await app.inject({ method: 'GET', url: '/status' })).body;
  assert.match(page, /<section class="card" id="cutover-card">/);
  assert.match(page, /<dd id="write-pause">312 ms<\/dd>/);
  assert.match(page, /4\. flip the topology<\/span> <span class="muted step-took">40 ms<\/span>/);
  assert.match(page, /writes stopped at zone1-100: <code>MariaDB\/0-100-42<\/code>/);
  assert.match(page, /reverse streams from zone1-300: <code>MariaDB\/0-300-9<\/code>/);
  jobs.current = snapshot(NAMES.length, ['acct', 'audit']);
  assert.match((await app.inject({ method: 'GET', url: '/status' })).body, /id="cutover-title">primary: src\/0 → dst\/0 \(tables acct, audit\)</);
  jobs.current = { ...idleSnapshot() };
  assert.match((await app.inject({ method: 'GET', url: '/status' })).body, /<section class="card" id="cutover-card" hidden>/);
  await app.close();
});

test('the steps appear on /status as they happen, then the pause', { skip: missing, timeout: 60_000 }, async (t) => {
  const jobs = new FakeJobs();
  jobs.current = snapshot(1);
  const app = await buildApp({ jobs, readTopology: async () => TOPOLOGY });
  const { page, base } = await openInBrowser(app, t);
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${base}/status`);
  assert.equal(await page.isVisible('#cutover-card'), true);
  assert.deepEqual(await page.$$eval('#cutover-steps li .badge', (els) => els.map((e) => e.textContent)), [
    'done',
    'running',
    'waiting',
    'waiting',
    'waiting',
    'waiting',
  ]);
  // (A vertical split's card, drawn by the script, names the moved tables.)
  jobs.current = snapshot(3, ['acct']);
  await page.waitForFunction(() => document.querySelectorAll('#cutover-steps li.state-done').length === 3, undefined, { timeout: 10_000, polling: 100 });
  assert.equal(await page.textContent('#cutover-title'), 'primary: src/0 \u2192 dst/0 (tables acct)');
  jobs.current = snapshot(NAMES.length);
  await page.waitForFunction(() => document.getElementById('write-pause')?.textContent === '312 ms', undefined, { timeout: 10_000, polling: 100 });
  assert.match((await page.textContent('#cutover-positions')) ?? '', /reverse streams from zone1-200: MariaDB\/0-200-7/);
  assert.deepEqual(errors, []);
});
