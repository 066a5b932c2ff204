// What one client may ask (src/http/client-limits.ts), and the live-control routes as the API and the forms
// answer them (the worker's side is test/integration/throttle.test.ts).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildApp } from '../../src/http/app.ts';
import { ClientLimits } from '../../src/http/client-limits.ts';
import type { StatusSnapshot } from '../../src/worker/status.ts';
import { FakeJobs, TOPOLOGY, idleSnapshot } from './fake-jobs.ts';

describe('ClientLimits', () => {
  test('a burst, then the rate; in flight capped; each client on its own', () => {
    let now = 0;
    const limits = new ClientLimits({ ratePerSecond: 10, burst: 20, maxInFlight: 100 }, () => now);
    let admitted = 0;
    for (let i = 0; i < 50; i++) {
      if (limits.admit('a') !== null) continue;
      admitted++;
      limits.done('a');
    }
    assert.equal(admitted, 20);
    const refused = limits.admit('a');
    assert.match(refused?.reason ?? '', /more than 10 requests a second from a/);
    assert.equal(refused?.retryAfter, 1);
    assert.equal(limits.admit('b'), null, 'another client has its own bucket');
    now += 500; // 5 tokens back
    admitted = 0;
    for (let i = 0; i < 50; i++) {
      if (limits.admit('a') !== null) continue;
      admitted++;
      limits.done('a');
    }
    assert.equal(admitted, 5);

    const busy = new ClientLimits({ ratePerSecond: 1000, burst: 1000, maxInFlight: 3 }, () => now);
    for (let i = 0; i < 3; i++) assert.equal(busy.admit('c'), null);
    assert.match(busy.admit('c')?.reason ?? '', /more than 3 requests at once/);
    busy.done('c');
    assert.equal(busy.admit('c'), null);
  });

  test('the app answers 429 with Retry-After past the burst, 414 for a long URL, and /healthz always', async () => {
    const app = await buildApp({ jobs: new FakeJobs(), readTopology: async () => TOPOLOGY, clientLimits: { ratePerSecond: 5, burst: 10 } });
    const codes: number[] = [];
    for (let i = 0; i < 15; i++) codes.push((await app.inject({ method: 'GET', url: '/api/status' })).statusCode);
    assert.deepEqual(codes.slice(0, 10), Array(10).fill(200));
    const r = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(r.statusCode, 429);
    assert.ok(Number(r.headers['retry-after']) >= 1);
    assert.match(r.json().error, /^too many requests: more than 5 requests a second from 127\.0\.0\.1/);
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    const long = await app.inject({ method: 'GET', url: `/status?x=${'a'.repeat(3000)}` });
    assert.equal(long.statusCode, 414);
    assert.match(long.json().error, /longer than the 2048 characters/);
    await app.close();
  });
});

function running(): StatusSnapshot {
  return {
    ...idleSnapshot(),
    state: 'copying the data',
    job: { command: 'SplitClone', keyspace: 'commerce', shard: '0', options: {} },
    startedAt: '2026-12-05T09:00:00.000Z',
    control: {
      paused: false,
      pausedSince: null,
      pausedSecondsTotal: 0,
      throttled: true,
      throttleReason: 'replica zone1-201 of commerce/-80 is 3.2 s behind (bound 2 s)',
      throttledSince: '2026-12-05T09:00:05.000Z',
      throttledSecondsTotal: 4.5,
      lastThrottleReason: 'replica zone1-201 of commerce/-80 is 3.2 s behind (bound 2 s)',
      maxTps: 0,
      maxReplicationLagSeconds: 2,
      replicas: [{ tablet: 'zone1-201', shard: 'commerce/-80', lagSeconds: 3.2, error: null }],
      holding: null,
    },
  };
}

describe('live control routes', () => {
  test('pause, resume and tune reach the job; 409 with none running; the page and metrics show the throttle', async () => {
    const jobs = new FakeJobs();
    const app = await buildApp({ jobs, readTopology: async () => TOPOLOGY, statusMaxAgeMs: 0 });
    const none = await app.inject({ method: 'POST', url: '/api/pause' });
    assert.equal(none.statusCode, 409);
    assert.match(none.json().error, /no job is running/);
    jobs.current = running();
    assert.deepEqual((await app.inject({ method: 'POST', url: '/api/pause' })).json(), { paused: true, changed: true });
    assert.deepEqual((await app.inject({ method: 'POST', url: '/api/resume' })).json(), { paused: false, changed: true });
    const tuned = await app.inject({ method: 'POST', url: '/api/tune', payload: { maxTps: 30, maxReplicationLag: '2s' } });
    assert.equal(tuned.statusCode, 200);
    assert.deepEqual(jobs.tunes, [{ maxTps: 30, maxReplicationLag: '2s' }]);
    const unknown = await app.inject({ method: 'POST', url: '/api/tune', payload: { speed: 3 } });
    assert.equal(unknown.statusCode, 400);
    assert.equal(unknown.json().field, 'speed');
    assert.equal(jobs.pauses, 1);
    assert.equal(jobs.resumes, 1);

    const page = await app.inject({ method: 'GET', url: '/status' });
    assert.match(page.body, /id="control-writes">throttled</);
    assert.match(page.body, /throttled since .*: replica zone1-201 of commerce\/-80 is 3\.2 s behind \(bound 2 s\)/);
    assert.match(page.body, /4\.5 s in all/);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /^shardworker_throttled 1$/m);
    assert.match(metrics, /^shardworker_paused 0$/m);
    assert.match(metrics, /^shardworker_throttled_seconds_total 4\.5$/m);
    assert.match(metrics, /^shardworker_destination_replica_lag_seconds\{tablet="zone1-201",shard="commerce\/-80"\} 3\.2$/m);
    const form = await app.inject({ method: 'POST', url: '/pause', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' });
    assert.equal(form.statusCode, 303);
    assert.equal(jobs.pauses, 2);
    await app.close();
  });
});
