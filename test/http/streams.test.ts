// The streams over HTTP (DESIGN.md "Filtered replication", Watching and control): "streams" in /api/status, the
// streams table on /status, per-stream metrics, POST /api/streams/stop|start with the same access control as the
// other mutating routes, and `shardworker stream` talking to a daemon.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { buildApp } from '../../src/http/app.ts';
import { streamLine } from '../../src/cli/stream-command.ts';
import { StreamHeldError } from '../../src/stream/until.ts';
import { FakeJobs, TOPOLOGY } from './fake-jobs.ts';
import { FakeStreams, streamSnapshot } from './fake-streams.ts';
import { parsePrometheusStrict } from './prom-text.ts';

const TOKEN = 'tok-0123456789abcdef-XYZ';

const JSON_TYPE = { 'content-type': 'application/json' };

describe('streams over HTTP', () => {
  test('GET /api/status lists the streams; without a stream manager the list is empty', async () => {
    const streams = new FakeStreams();
    const app = await buildApp({ jobs: new FakeJobs(), readTopology: async () => TOPOLOGY, streams });
    const body = (await app.inject({ method: 'GET', url: '/api/status' })).json();
    assert.deepEqual(body.streams, streams.streams);
    const none = await buildApp({ jobs: new FakeJobs(), readTopology: async () => TOPOLOGY });
    assert.deepEqual((await none.inject({ method: 'GET', url: '/api/status' })).json().streams, []);
    const refused = await none.inject({ method: 'POST', url: '/api/streams/stop', headers: JSON_TYPE, payload: { keyspace: 'commerce', shard: '-80' } });
    assert.equal(refused.statusCode, 404);
    assert.match(refused.json().error, /run under `shardworker serve`/);
  });

  test('POST /api/streams/stop and /start act on the destination named; an unknown one is 404, a bad body 400', async () => {
    const streams = new FakeStreams();
    const app = await buildApp({ jobs: new FakeJobs(), readTopology: async () => TOPOLOGY, streams });
    const stop = await app.inject({ method: 'POST', url: '/api/streams/stop', headers: JSON_TYPE, payload: { keyspace: 'commerce', shard: '-80' } });
    assert.equal(stop.statusCode, 200, stop.body);
    assert.equal(stop.json().streams[0].state, 'stopped');
    const start = await app.inject({ method: 'POST', url: '/api/streams/start', headers: JSON_TYPE, payload: { keyspace: 'commerce', shard: '-80' } });
    assert.equal(start.json().streams[0].state, 'running');
    assert.deepEqual(streams.calls, ['stop commerce/-80', 'start commerce/-80']);
    const unknown = await app.inject({ method: 'POST', url: '/api/streams/stop', headers: JSON_TYPE, payload: { keyspace: 'commerce', shard: 'c0-' } });
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.json().error, /no stream feeds commerce\/c0-/);
    const bad = await app.inject({ method: 'POST', url: '/api/streams/stop', headers: JSON_TYPE, payload: { keyspace: 'commerce' } });
    assert.equal(bad.statusCode, 400);
    const extra = await app.inject({
      method: 'POST',
      url: '/api/streams/start',
      headers: JSON_TYPE,
      payload: { keyspace: 'commerce', shard: '-80', force: true },
    });
    assert.equal(extra.statusCode, 400);
    assert.match(extra.json().error, /force/);
  });

  test('a stream a diff holds: its start or stop is 409 naming the job, and /status says who holds it', async () => {
    const streams = new FakeStreams();
    streams.streams[0] = streamSnapshot({ state: 'stopped', heldBy: 'SplitDiff job 1234' });
    streams.start = async () => {
      throw new StreamHeldError('commerce/0 -> commerce/-80', 'SplitDiff job 1234');
    };
    const app = await buildApp({ jobs: new FakeJobs(), readTopology: async () => TOPOLOGY, streams });
    const start = await app.inject({ method: 'POST', url: '/api/streams/start', headers: JSON_TYPE, payload: { keyspace: 'commerce', shard: '-80' } });
    assert.equal(start.statusCode, 409, start.body);
    assert.match(start.json().error, /stream commerce\/0 -> commerce\/-80 is held by SplitDiff job 1234; it is started again when that job ends/);
    assert.equal((await app.inject({ method: 'GET', url: '/api/status' })).json().streams[0].heldBy, 'SplitDiff job 1234');
    assert.match((await app.inject({ method: 'GET', url: '/status' })).body, /class="muted s-held">held by SplitDiff job 1234</);
  });

  test('with a token, stopping a stream needs it as for any other change', async () => {
    const streams = new FakeStreams();
    const app = await buildApp({ jobs: new FakeJobs(), readTopology: async () => TOPOLOGY, streams, auth: { token: TOKEN, publicStatus: false } });
    const without = await app.inject({ method: 'POST', url: '/api/streams/stop', headers: JSON_TYPE, payload: { keyspace: 'commerce', shard: '-80' } });
    assert.equal(without.statusCode, 401);
    const wrong = await app.inject({
      method: 'POST',
      url: '/api/streams/stop',
      headers: { ...JSON_TYPE, authorization: 'Bearer nope-nope-nope-nope' },
      payload: { keyspace: 'commerce', shard: '-80' },
    });
    assert.equal(wrong.statusCode, 401);
    const crossSite = await app.inject({
      method: 'POST',
      url: '/api/streams/stop',
      headers: { ...JSON_TYPE, authorization: `Bearer ${TOKEN}`, 'sec-fetch-site': 'cross-site' },
      payload: { keyspace: 'commerce', shard: '-80' },
    });
    assert.equal(crossSite.statusCode, 403);
    assert.deepEqual(streams.calls, []);
    const right = await app.inject({
      method: 'POST',
      url: '/api/streams/stop',
      headers: { ...JSON_TYPE, authorization: `Bearer ${TOKEN}` },
      payload: { keyspace: 'commerce', shard: '-80' },
    });
    assert.equal(right.statusCode, 200);
    assert.deepEqual(streams.calls, ['stop commerce/-80']);
  });

  test('/status draws the streams table (escaped); no streams, no table', async () => {
    const app = await buildApp({ jobs: new FakeJobs(), readTopology: async () => TOPOLOGY, streams: new FakeStreams() });
    const html = (await app.inject({ method: 'GET', url: '/status' })).body;
    const table = html.slice(html.indexOf('id="streams-card"'), html.indexOf('</table>', html.indexOf('id="streams-card"')));
    assert.doesNotMatch(table.slice(0, 40), /hidden/);
    for (const want of [
      'commerce/-80',
      'commerce/80-',
      'commerce/0',
      'zone1-100',
      'MariaDB/0-100-57',
      '1,234',
      '5,678',
      '210 rows/s',
      '3s',
      '40s',
      'state-error',
      '&lt;b&gt;',
    ])
      assert.ok(table.includes(want), `streams table shows ${want}`);
    assert.ok(!table.includes('<b>'));
    const empty = await buildApp({ jobs: new FakeJobs(), readTopology: async () => TOPOLOGY });
    assert.match((await empty.inject({ method: 'GET', url: '/status' })).body, /id="streams-card" hidden/);
  });

  test("/metrics has each stream's seconds behind, transactions, rows and errors", async () => {
    const app = await buildApp({ jobs: new FakeJobs(), readTopology: async () => TOPOLOGY, streams: new FakeStreams() });
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    const samples = parsePrometheusStrict(text).flatMap((f) => f.metrics);
    const value = (name: string, shard: string) =>
      Number(samples.find((s) => s.name === name && s.labels.destination === `commerce/${shard}` && s.labels.source === 'commerce/0')?.value);
    assert.equal(value('shardworker_stream_seconds_behind', '-80'), 3);
    assert.equal(value('shardworker_stream_seconds_behind', '80-'), 40);
    assert.equal(value('shardworker_stream_transactions_applied_total', '-80'), 1234);
    assert.equal(value('shardworker_stream_rows_applied_total', '-80'), 5678);
    assert.equal(value('shardworker_stream_errors_total', '80-'), 0);
    assert.equal(value('shardworker_stream_running', '-80'), 1);
    assert.equal(value('shardworker_stream_running', '80-'), 0);
  });

  test('shardworker stream: its lines, and a clear refusal when no daemon answers', () => {
    assert.equal(
      streamLine(streamSnapshot()),
      'commerce/-80 <- commerce/0  running  owner pid 4242 on db-worker-1  position MariaDB/0-100-57  behind 3s  1234 transactions, 5678 rows, 210 rows/s',
    );
    const r = spawnSync(process.execPath, ['bin/shardworker.js', '--port', '1', 'stream', 'status'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no daemon answers at http:\/\/127\.0\.0\.1:1/);
    const usage = spawnSync(process.execPath, ['bin/shardworker.js', 'stream', 'stop'], { encoding: 'utf8' });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /stream stop needs the destination keyspace\/shard/);
  });
});
