// Watching must not slow the work: one snapshot per window however many clients ask, each rendering made once per
// snapshot, and a client that acts sees its action at once.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { routeSchemas } from '../../src/http/schemas.ts';
import { StatusCache } from '../../src/http/status-cache.ts';
import { idleSnapshot, type StatusSnapshot } from '../../src/worker/status.ts';
import { FakeJobs, TOPOLOGY } from './fake-jobs.ts';

/** A FakeJobs that counts the snapshots taken. */
class CountingJobs extends FakeJobs {
  taken = 0;
  override snapshot(): StatusSnapshot {
    this.taken++;
    return super.snapshot();
  }
}

const START = { command: 'SplitClone', keyspace: 'commerce', shard: '0' };

describe('StatusCache', () => {
  test('one snapshot per window, renderings made once per snapshot and key', () => {
    let now = 0;
    let taken = 0;
    const cache = new StatusCache(
      () => ({ ...idleSnapshot(), streams: [], log: [`snapshot ${++taken}`] }),
      250,
      () => now,
    );
    const a = cache.snapshot();
    now = 249;
    assert.equal(cache.snapshot(), a);
    let made = 0;
    const json = () => cache.made('json', (s) => `${++made}:${s.log[0]}`);
    assert.equal(json(), '1:snapshot 1');
    assert.equal(json(), '1:snapshot 1');
    now = 250;
    assert.equal(json(), '2:snapshot 2', 'a new snapshot once the window has passed, and a new rendering of it');
    assert.equal(taken, 2);
    cache.invalidate();
    assert.equal(cache.snapshot().log[0], 'snapshot 3', 'invalidate takes a new one at once');
  });
});

describe('the app under many requests', () => {
  test('200 requests of every status route within one window take one snapshot', async () => {
    const jobs = new CountingJobs();
    // One client asking 200 at once would be refused past its burst (client-limits.test.ts): off here.
    const app = await buildApp({ jobs, readTopology: async () => TOPOLOGY, statusMaxAgeMs: 60_000, clientLimits: false });
    const urls = ['/api/status', '/status', '/metrics', '/api/status/view'];
    const bodies = new Map<string, Set<string>>(urls.map((u) => [u, new Set()]));
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => app.inject({ method: 'GET', url: urls[i % urls.length] })));
    for (const [i, r] of replies.entries()) {
      assert.equal(r.statusCode, 200);
      bodies.get(urls[i % urls.length])?.add(r.body);
    }
    assert.equal(jobs.taken, 1);
    for (const url of ['/api/status', '/status', '/api/status/view']) assert.equal(bodies.get(url)?.size, 1, `${url} rendered once`);
    assert.equal(JSON.parse(replies[0].body).state, 'not started');
    await app.close();
  });

  test('/api/status/view and /status share one view per snapshot: its elapsed time moves with the next snapshot only', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.parse('2026-12-05T09:00:10.000Z') });
    const jobs = new FakeJobs();
    jobs.current = {
      ...idleSnapshot(),
      state: 'copying the data',
      job: { command: 'SplitClone', keyspace: 'commerce', shard: '0', options: {} },
      startedAt: '2026-12-05T09:00:00.000Z',
    };
    const app = await buildApp({ jobs, readTopology: async () => TOPOLOGY, statusMaxAgeMs: 60_000 });
    const view = async () => (await app.inject({ method: 'GET', url: '/api/status/view' })).json() as { elapsed: string; job: { state: string } };
    const first = await app.inject({ method: 'GET', url: '/api/status/view' });
    assert.equal(first.json().elapsed, '10s');
    t.mock.timers.tick(5000);
    jobs.current = { ...jobs.current, state: 'cleaning up' };
    assert.equal((await app.inject({ method: 'GET', url: '/api/status/view' })).body, first.body, 'the same text: made once for the snapshot');
    assert.match((await app.inject({ method: 'GET', url: '/status' })).body, /id="elapsed">10s</, 'the page renders the same view');
    assert.equal((await app.inject({ method: 'POST', url: '/api/pause' })).statusCode, 200); // drops the snapshot
    assert.deepEqual([(await view()).elapsed, (await view()).job.state], ['15s', 'cleaning up']);
    await app.close();
  });

  test('a start, cancel or reset is seen by the next request, however young the snapshot', async () => {
    const jobs = new FakeJobs();
    const app = await buildApp({ jobs, readTopology: async () => TOPOLOGY, statusMaxAgeMs: 60_000 });
    const state = async () => JSON.parse((await app.inject({ method: 'GET', url: '/api/status' })).body).state as string;
    assert.equal(await state(), 'not started');
    assert.equal((await app.inject({ method: 'POST', url: '/api/jobs', payload: START })).statusCode, 202);
    assert.equal(await state(), 'initializing');
    assert.equal((await app.inject({ method: 'POST', url: '/api/cancel' })).statusCode, 200);
    assert.equal(await state(), 'canceled');
    assert.equal((await app.inject({ method: 'POST', url: '/api/reset' })).statusCode, 200);
    assert.equal(await state(), 'not started');
    await app.close();
  });

  test('the JSON is what the route schema serialises the snapshot to, as before the cache', async () => {
    const jobs = new FakeJobs();
    jobs.current = { ...idleSnapshot(), log: ['a line'], retries: { total: 2, byTablet: { 'zone1-200': 2 } } };
    const app = await buildApp({ jobs, readTopology: async () => TOPOLOGY });
    const plain = Fastify();
    plain.get('/api/status', { schema: routeSchemas.apiStatus }, async () => ({ ...jobs.snapshot(), streams: [] }));
    const a = await app.inject({ method: 'GET', url: '/api/status' });
    const b = await plain.inject({ method: 'GET', url: '/api/status' });
    assert.equal(a.body, b.body);
    assert.match(String(a.headers['content-type']), /^application\/json/);
    await app.close();
    await plain.close();
  });
});
