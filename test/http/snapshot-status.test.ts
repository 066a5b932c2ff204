// A clone's consistent snapshot (--snapshot consistent) as the status shows it: its age and position in
// /api/status, on /status, in `run`'s status text, as shardworker_snapshot_age_seconds; and the option as a
// dropdown on the index page's forms.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApp } from '../../src/http/app.ts';
import { statusText } from '../../src/cli/status-text.ts';
import { idleSnapshot, type StatusSnapshot } from '../../src/worker/status.ts';
import { FakeJobs, TOPOLOGY } from './fake-jobs.ts';

function withSnapshot(closedAt: string | null): StatusSnapshot {
  return {
    ...idleSnapshot(),
    state: closedAt ? 'done' : 'copying the data',
    job: { command: 'SplitClone', keyspace: 'commerce', shard: '0', options: { snapshot: 'consistent', sourceTabletType: 'primary' } },
    startedAt: '2026-11-23T19:00:00.000Z',
    endedAt: closedAt,
    sources: ['zone1-100'],
    destinations: ['zone1-200', 'zone1-300'],
    snapshot: {
      openedAt: '2026-11-23T19:00:01.000Z',
      closedAt,
      ageSeconds: 75.5,
      position: 'MariaDB/0-1-42',
      tablets: [{ tablet: 'zone1-100', position: 'MariaDB/0-1-42', openedAt: '2026-11-23T19:00:01.000Z', commitsHeldMs: 4.2 }],
    },
  };
}

test('the snapshot age and position in /api/status, on /status, in the status text and the metrics', async () => {
  const jobs = new FakeJobs();
  jobs.current = withSnapshot(null);
  const app = await buildApp({ jobs, readTopology: async () => TOPOLOGY, statusMaxAgeMs: 0 });
  try {
    const api = (await app.inject({ method: 'GET', url: '/api/status' })).json();
    assert.deepEqual(api.snapshot, jobs.current.snapshot);
    const page = (await app.inject({ method: 'GET', url: '/status' })).body;
    assert.match(page, /<dd id="snapshot">held 1m 16s: zone1-100 at MariaDB\/0-1-42 \(commits held 4.2 ms\)<\/dd>/);
    assert.match(statusText(jobs.current), /snapshot: held 1m 16s: zone1-100 at MariaDB\/0-1-42/);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /^shardworker_snapshot_age_seconds 75.5$/m);

    jobs.current = withSnapshot('2026-11-23T19:01:16.500Z');
    assert.match((await app.inject({ method: 'GET', url: '/status' })).body, /<dd id="snapshot">let go after 1m 16s: zone1-100/);
    assert.match((await app.inject({ method: 'GET', url: '/metrics' })).body, /^shardworker_snapshot_age_seconds 0$/m);

    jobs.current = idleSnapshot();
    assert.equal((await app.inject({ method: 'GET', url: '/api/status' })).json().snapshot, undefined);
    assert.match((await app.inject({ method: 'GET', url: '/status' })).body, /<dd id="snapshot">—<\/dd>/);
  } finally {
    await app.close();
  }
});

test('the index forms offer --snapshot and --source-tablet-type as dropdowns', async () => {
  const app = await buildApp({ jobs: new FakeJobs(), readTopology: async () => TOPOLOGY, statusMaxAgeMs: 0 });
  try {
    const html = (await app.inject({ method: 'GET', url: '/' })).body;
    const select =
      /<select id="form-SplitClone-snapshot" name="opt\.snapshot">\s*<option value="stop-replication" selected>stop-replication<\/option>\s*<option value="consistent">consistent<\/option>\s*<\/select>/;
    assert.match(html, select);
    assert.match(
      html,
      /<select id="form-SplitClone-sourceTabletType" name="opt\.sourceTabletType">\s*<option value="rdonly" selected>rdonly<\/option>\s*<option value="replica">replica<\/option>\s*<option value="primary">primary<\/option>/,
    );
  } finally {
    await app.close();
  }
});
