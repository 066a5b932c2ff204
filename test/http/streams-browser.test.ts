// The streams table in headless Chromium: it appears on /status, follows the streams live after the job ended,
// and its seconds behind falls to 0. Needs Debian's chromium (skipped, saying so, where it is missing).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApp } from '../../src/http/app.ts';
import { chromiumMissing as missing, openInBrowser } from '../helpers/browser.ts';
import { FakeJobs, TOPOLOGY, idleSnapshot } from './fake-jobs.ts';
import { FakeStreams, streamSnapshot } from './fake-streams.ts';

/** Streams catching up: seconds behind falls by 1 a second to 0, rows grow. */
class CatchingUp extends FakeStreams {
  since = Date.now();
  /** Set to show the stream held by a diff. */
  heldBy: string | undefined;
  override snapshot() {
    const t = (Date.now() - this.since) / 1000;
    const behind = Math.max(0, Math.round(6 - t));
    const held = this.heldBy ? { state: 'stopped' as const, heldBy: this.heldBy } : { state: 'running' as const };
    return [streamSnapshot({ secondsBehind: behind, rowsApplied: Math.round(1000 * t), lastError: null, ...held })];
  }
}

test('/status shows the streams table, updated live until seconds behind is 0', { skip: missing, timeout: 60_000 }, async (t) => {
  const jobs = new FakeJobs();
  jobs.current = {
    ...idleSnapshot(),
    state: 'done',
    job: { command: 'SplitClone', keyspace: 'commerce', shard: '0', options: {} },
    startedAt: '2026-11-23T19:00:00.000Z',
    endedAt: '2026-11-23T19:01:00.000Z',
  };
  const streams = new CatchingUp();
  const app = await buildApp({ jobs, readTopology: async () => TOPOLOGY, streams });
  const { page, base } = await openInBrowser(app, t, { width: 1200, height: 900 });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  streams.since = Date.now();
  await page.goto(`${base}/status`);
  assert.equal(await page.isVisible('#streams'), true);
  const row = '#stream-rows tr[data-stream="commerce/-80 commerce/0"]';
  const firstBehind = await page.textContent(`${row} .s-behind`);
  assert.match(firstBehind ?? '', /^[1-6]s$/);
  // The job ended, yet the page keeps polling for the streams.
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === '0s', `${row} .s-behind`, { timeout: 15_000, polling: 200 });
  assert.match((await page.textContent(`${row} .s-state`)) ?? '', /running/);
  assert.match((await page.textContent(`${row} .s-position`)) ?? '', /MariaDB\/0-100-57/);
  assert.ok(Number((await page.textContent(`${row} .s-rows`))!.replace(/,/g, '')) > 0);
  // A diff holds the stream: the row says so, and stops saying so when it lets go.
  streams.heldBy = 'SplitDiff job 1234';
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === 'held by SplitDiff job 1234', `${row} .s-held`, {
    timeout: 10_000,
    polling: 200,
  });
  assert.match((await page.textContent(`${row} .s-state .badge`)) ?? '', /stopped/);
  streams.heldBy = undefined;
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === '', `${row} .s-held`, { timeout: 10_000, polling: 200 });
  assert.deepEqual(errors, []);
});
