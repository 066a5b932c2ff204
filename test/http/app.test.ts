import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { buildApp } from '../../src/http/app.ts';
import { optionDefaultText, statusView, type StatusView } from '../../src/http/view-models.ts';
import { OPTION_DEFS, optionsFor } from '../../src/worker/options.ts';
import type { StatusSnapshot } from '../../src/worker/status.ts';
import type { Topology } from '../../src/topology/types.ts';
import { FakeJobs, TOPOLOGY, diffSnapshot, idleSnapshot } from './fake-jobs.ts';
import { parsePrometheusStrict, parseWithPackage } from './prom-text.ts';

async function appWith(jobs = new FakeJobs(), readTopology: () => Promise<Topology> = async () => TOPOLOGY): Promise<{ app: FastifyInstance; jobs: FakeJobs }> {
  // These tests swap the fake job's snapshot between requests: one snapshot per request (the cache has its own tests).
  const app = await buildApp({ jobs, readTopology, statusMaxAgeMs: 0 });
  return { app, jobs };
}

/** A SplitClone in the middle of its copy, with a view and a table name that needs escaping. */
function copyingSnapshot(): StatusSnapshot {
  return {
    state: 'copying the data',
    job: { command: 'SplitClone', keyspace: 'commerce', shard: '0', options: { chunkCount: 10, excludeTables: ['audit', '/^tmp_/'] } },
    startedAt: '2026-11-23T19:00:00.000Z',
    endedAt: null,
    error: null,
    sources: ['zone1-101'],
    destinations: ['zone1-200', 'zone1-300'],
    tables: [
      {
        name: 'customer',
        kind: 'table',
        state: 'copying',
        rowsEstimated: 1_000_000,
        rowsCopied: 420_000,
        chunksTotal: 10,
        chunksDone: 4,
        rowsPerSecond: 52_000,
        etaSeconds: 65,
      },
      {
        name: 'corder',
        kind: 'table',
        state: 'waiting',
        rowsEstimated: 1_010_000,
        rowsCopied: 0,
        chunksTotal: 11,
        chunksDone: 0,
        rowsPerSecond: 0,
        etaSeconds: null,
      },
      { name: 'customer_names', kind: 'view', state: 'done', rowsEstimated: 0, rowsCopied: 0, chunksTotal: 0, chunksDone: 0, rowsPerSecond: 0, etaSeconds: 0 },
      { name: '<b>odd</b>', kind: 'table', state: 'done', rowsEstimated: 10, rowsCopied: 10, chunksTotal: 1, chunksDone: 1, rowsPerSecond: 0, etaSeconds: 0 },
    ],
    totals: { rowsEstimated: 2_010_010, rowsCopied: 420_010, rowsPerSecond: 52_000, etaSeconds: 7380 },
    log: ['2026-11-23T19:00:00.000Z job SplitClone commerce/0 started', 'copying customer <chunk 5/10>'],
  };
}

function endedSnapshot(state: 'done' | 'error' | 'canceled', error: string | null = null): StatusSnapshot {
  return { ...copyingSnapshot(), state, endedAt: '2026-11-23T19:02:05.000Z', error };
}

const START = { command: 'SplitClone', keyspace: 'commerce', shard: '0' };

function selectOptions(html: string, formId: string): string[] {
  const form = html.slice(html.indexOf(`id="${formId}"`));
  const select = form.slice(form.indexOf('<select'), form.indexOf('</select>'));
  return [...select.matchAll(/<option value="([^"]*)"/g)].map((m) => m[1]);
}

describe('GET /healthz', () => {
  test('says ok', async () => {
    const { app } = await appWith();
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { ok: true });
  });
});

describe('GET /assets/…', () => {
  test('the stylesheet and the status script, linked by the hash of their content, kept for good under it', async () => {
    const { app } = await appWith();
    const page = (await app.inject({ method: 'GET', url: '/status' })).body;
    const css = /<link rel="stylesheet" href="(\/assets\/shardworker\.css\?v=[0-9a-f]{12})">/.exec(page)?.[1];
    const js = /<script src="(\/assets\/status\.js\?v=[0-9a-f]{12})"><\/script>/.exec(page)?.[1];
    assert.ok(css && js, 'the page links both by hash');
    assert.ok(!page.includes('<style>') && !/<script>[^<]/.test(page), 'nothing of them inline');
    for (const [url, type, has] of [
      [css, 'text/css', ':root {'],
      [js, 'text/javascript', '/api/status/view'],
    ] as const) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.match(String(res.headers['content-type']), new RegExp(`^${type}`));
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.ok(res.body.includes(has), url);
      // Without its hash (or with an older one), the browser asks again each time.
      const bare = await app.inject({ method: 'GET', url: url.replace(/\?v=.*/, '?v=0') });
      assert.equal(bare.headers['cache-control'], 'no-cache');
    }
    assert.equal((await app.inject({ method: 'GET', url: '/assets/nothing.js' })).statusCode, 404);
    // The login page, for one not logged in, has its stylesheet too.
    assert.match((await app.inject({ method: 'GET', url: '/' })).body, /\/assets\/shardworker\.css\?v=/);
  });
});

describe('GET /api/status', () => {
  test('is the snapshot exactly, fields added by the worker included', async () => {
    const { app, jobs } = await appWith();
    const snap = { ...copyingSnapshot(), extra: { phase: 2 } } as StatusSnapshot;
    jobs.current = snap;
    const res = await app.inject({ method: 'GET', url: '/api/status' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(res.json(), { ...snap, streams: [] }); // no stream manager here: no streams
  });

  test('idle', async () => {
    const { app } = await appWith();
    const res = await app.inject({ method: 'GET', url: '/api/status' });
    assert.deepEqual(res.json(), { ...idleSnapshot(), streams: [] });
  });
});

describe('GET /api/status/view', () => {
  test('is the view /status renders from, as JSON: formatted texts, widths, classes, diff lines', async () => {
    const { app, jobs } = await appWith();
    jobs.current = endedSnapshot('error', 'it <b>failed</b>'); // ended: the elapsed time does not move
    const res = await app.inject({ method: 'GET', url: '/api/status/view' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const view = res.json() as StatusView;
    assert.deepEqual(view, JSON.parse(JSON.stringify(statusView({ ...jobs.current, streams: [] }))));
    assert.deepEqual(view.job, {
      state: 'error',
      stateClass: 'state-error',
      running: false,
      ended: true,
      command: 'SplitClone',
      target: 'commerce/0',
      percent: '20.8%',
      progressVerb: 'copied',
      eta: '2h 03m',
      error: 'it <b>failed</b>',
    });
    assert.deepEqual(
      [view.startedAtIso, view.endedAt, view.elapsed, view.sources, view.destinations, view.rowsHeading, view.retries, view.live],
      ['2026-11-23T19:00:00.000Z', '2026-11-23 19:02:05 UTC', '2m 05s', 'zone1-101', 'zone1-200, zone1-300', 'rows copied / estimated', 'none', false],
    );
    const customer = view.tables[0];
    assert.deepEqual(
      [customer.width, customer.percent, customer.rows, customer.rate, customer.eta, customer.chunks, customer.stateClass, customer.progressLabel],
      [42, '42.0%', '420,000 / 1,000,000', '52,000 rows/s', '1m 05s', '4/10', 'state-copying', 'progress of customer'],
    );
    assert.equal(view.tables[2].rows, '— / —', 'a view has no rows');
    assert.equal(view.totals.rows, '420,010 / 2,010,010');
    assert.equal(view.log, '2026-11-23T19:00:00.000Z job SplitClone commerce/0 started\ncopying customer <chunk 5/10>');
    assert.deepEqual([view.streams, view.cutover, view.control], [[], null, null]);
    assert.ok(!('emptyRow' in view), 'only what the page shows');

    // The page prints the same strings (escaped).
    const html = (await app.inject({ method: 'GET', url: '/status' })).body;
    assert.match(html, /id="elapsed">2m 05s</);
    assert.match(html, /id="error">it &lt;b&gt;failed&lt;\/b&gt;</);
    assert.match(html, /data-live="false"/);
  });

  test("a diff's lines: running text, counts, examples; live while it runs", async () => {
    const { app, jobs } = await appWith();
    jobs.current = diffSnapshot();
    const view = (await app.inject({ method: 'GET', url: '/api/status/view' })).json() as StatusView;
    const corder = view.tables.find((t) => t.name === 'corder');
    assert.equal(corder?.diff?.running, 'diffing… ');
    assert.equal(corder?.diff?.cls, 'diff-bad');
    assert.deepEqual(
      corder?.diff?.kinds.map((k) => k.title),
      ['mismatched: 1', 'extra on source: 7'],
    );
    assert.equal(view.rowsHeading, 'rows read / estimated');
    assert.equal(view.live, true);
  });
});

describe('POST /api/jobs', () => {
  test('starts a job: 202 with the status URLs, options passed as given', async () => {
    const { app, jobs } = await appWith();
    const res = await app.inject({ method: 'POST', url: '/api/jobs', payload: { ...START, options: { chunkCount: 50, excludeTables: ['audit'] } } });
    assert.equal(res.statusCode, 202);
    assert.deepEqual(res.json(), { status: '/status', statusUrl: '/api/status' });
    assert.deepEqual(jobs.started, [{ ...START, options: { chunkCount: 50, excludeTables: ['audit'] } }]);
  });

  test('options may be left out', async () => {
    const { app, jobs } = await appWith();
    const res = await app.inject({ method: 'POST', url: '/api/jobs', payload: { command: 'SplitDiff', keyspace: 'commerce', shard: '-80' } });
    assert.equal(res.statusCode, 202);
    assert.deepEqual(jobs.started, [{ command: 'SplitDiff', keyspace: 'commerce', shard: '-80', options: {} }]);
  });

  const bad: Array<[string, unknown, string, RegExp]> = [
    [
      'unknown command',
      { ...START, command: 'SplitEverything' },
      'command',
      /command must be one of SplitClone, VerticalSplitClone, SplitDiff, VerticalSplitDiff/,
    ],
    ['command of the wrong type', { ...START, command: 1 }, 'command', /command must be a string/],
    ['missing command', { keyspace: 'commerce', shard: '0' }, 'command', /command is required/],
    ['missing keyspace', { command: 'SplitClone', shard: '0' }, 'keyspace', /keyspace is required/],
    ['missing shard', { command: 'SplitClone', keyspace: 'commerce' }, 'shard', /shard is required/],
    ['empty keyspace', { ...START, keyspace: '' }, 'keyspace', /keyspace must not be empty/],
    ['keyspace of the wrong type', { ...START, keyspace: 7 }, 'keyspace', /keyspace must be a string/],
    ['shard with a slash', { ...START, shard: 'a/b' }, 'shard', /shard may hold only letters, digits, _ and -/],
    ['shard with ..', { ...START, shard: '..' }, 'shard', /shard may hold only/],
    ['shard climbing up', { ...START, shard: '../../etc' }, 'shard', /shard may hold only/],
    ['shard with NUL', { ...START, shard: '0\u0000' }, 'shard', /shard may hold only/],
    ['shard with a space', { ...START, shard: '0 1' }, 'shard', /shard may hold only/],
    ['keyspace with a dot', { ...START, keyspace: 'com.merce' }, 'keyspace', /keyspace may hold only/],
    ['overlong keyspace', { ...START, keyspace: 'k'.repeat(129) }, 'keyspace', /at most 128 characters/],
    ['options not an object', { ...START, options: 'fast' }, 'options', /options must be an object/],
    ['options an array', { ...START, options: [1] }, 'options', /options must be an object/],
    ['unknown top-level field', { ...START, force: true }, 'force', /unknown field force/],
    ['option of the wrong type', { ...START, options: { chunkCount: 'many' } }, 'chunkCount', /expected an integer/],
    ['option not an integer', { ...START, options: { sourceReaderCount: 1.5 } }, 'sourceReaderCount', /expected an integer/],
    ['option below its range', { ...START, options: { sourceReaderCount: 0 } }, 'sourceReaderCount', /at least 1/],
    ['option above its range', { ...START, options: { destinationWriterCount: 1000 } }, 'destinationWriterCount', /at most 256/],
    ['unknown option', { ...START, options: { turbo: true } }, 'turbo', /unknown option turbo/],
    [
      'option of another command',
      { ...START, options: { resume: true, excludeTables: [] }, command: 'VerticalSplitDiff' },
      'resume',
      /does not apply to VerticalSplitDiff/,
    ],
    ['missing required option', { command: 'VerticalSplitClone', keyspace: 'customer', shard: '0' }, 'tables', /tables is required/],
    ['keyspace not in the topology', { ...START, keyspace: 'nosuch' }, 'keyspace', /keyspace nosuch is not in the topology/],
    ['keyspace named like an Object property', { ...START, keyspace: 'constructor' }, 'keyspace', /not in the topology/],
    ['shard not in the topology', { ...START, shard: '40-80' }, 'shard', /shard commerce\/40-80 is not in the topology/],
  ];
  for (const [name, body, field, message] of bad) {
    test(`400 naming the field: ${name}`, async () => {
      const { app, jobs } = await appWith();
      const res = await app.inject({ method: 'POST', url: '/api/jobs', payload: body as object });
      assert.equal(res.statusCode, 400, res.body);
      const json = res.json();
      assert.equal(json.field, field, res.body);
      assert.match(json.error, message);
      assert.deepEqual(Object.keys(json).sort(), ['error', 'field']);
      assert.equal(jobs.started.length, 0);
    });
  }

  test('400 on malformed JSON', async () => {
    const { app } = await appWith();
    const res = await app.inject({ method: 'POST', url: '/api/jobs', headers: { 'content-type': 'application/json' }, payload: '{"command": "SplitClone", ' });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), { error: 'the body is not valid JSON at line 1 column 27', field: 'body' });
  });

  test('400 on an empty JSON body', async () => {
    const { app } = await appWith();
    const res = await app.inject({ method: 'POST', url: '/api/jobs', headers: { 'content-type': 'application/json' }, payload: '' });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().field, 'body');
  });

  test('400 on no body at all, and on a JSON body that is no object', async () => {
    const { app } = await appWith();
    const none = await app.inject({ method: 'POST', url: '/api/jobs' });
    assert.equal(none.statusCode, 400);
    assert.deepEqual(none.json(), { error: 'the body must be a JSON object', field: 'body' });
    const list = await app.inject({ method: 'POST', url: '/api/jobs', headers: { 'content-type': 'application/json' }, payload: '[1,2]' });
    assert.equal(list.statusCode, 400);
    assert.equal(list.json().field, 'body');
  });

  test('409 while a job runs', async () => {
    const { app, jobs } = await appWith();
    assert.equal((await app.inject({ method: 'POST', url: '/api/jobs', payload: START })).statusCode, 202);
    const res = await app.inject({ method: 'POST', url: '/api/jobs', payload: START });
    assert.equal(res.statusCode, 409);
    assert.match(res.json().error, /a job is running/);
    assert.equal(jobs.started.length, 1);
  });

  test('409 while an ended job is not reset', async () => {
    const { app, jobs } = await appWith();
    jobs.current = endedSnapshot('done');
    const res = await app.inject({ method: 'POST', url: '/api/jobs', payload: START });
    assert.equal(res.statusCode, 409);
    assert.match(res.json().error, /not reset/);
  });

  test('500 with the reason when the topology cannot be read', async () => {
    const { app, jobs } = await appWith(new FakeJobs(), async () => {
      throw new Error('ENOENT: topo.json');
    });
    const res = await app.inject({ method: 'POST', url: '/api/jobs', payload: START });
    assert.equal(res.statusCode, 500);
    assert.match(res.json().error, /ENOENT: topo.json/);
    assert.equal(jobs.started.length, 0);
  });
});

describe('POST /api/cancel and /api/reset', () => {
  test('cancel: 200 while running, 409 when nothing runs', async () => {
    const { app, jobs } = await appWith();
    const idle = await app.inject({ method: 'POST', url: '/api/cancel' });
    assert.equal(idle.statusCode, 409);
    assert.deepEqual(idle.json(), { error: 'no job is running' });
    await app.inject({ method: 'POST', url: '/api/jobs', payload: START });
    const res = await app.inject({ method: 'POST', url: '/api/cancel' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { canceled: true });
    assert.equal(jobs.snapshot().state, 'canceled');
    assert.equal((await app.inject({ method: 'POST', url: '/api/cancel' })).statusCode, 409);
  });

  test('reset: 409 while running, 200 once ended, and then a new job can start', async () => {
    const { app, jobs } = await appWith();
    await app.inject({ method: 'POST', url: '/api/jobs', payload: START });
    const running = await app.inject({ method: 'POST', url: '/api/reset' });
    assert.equal(running.statusCode, 409);
    assert.match(running.json().error, /running/);
    jobs.current = endedSnapshot('error', 'boom');
    const res = await app.inject({ method: 'POST', url: '/api/reset' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { reset: true });
    assert.equal(jobs.snapshot().state, 'not started');
    assert.equal((await app.inject({ method: 'POST', url: '/api/jobs', payload: START })).statusCode, 202);
  });
});

describe('GET /', () => {
  test('lists the topology shards each command may act on', async () => {
    const { app } = await appWith();
    const res = await app.inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.deepEqual(selectOptions(res.body, 'form-SplitClone'), ['commerce/0']);
    assert.deepEqual(selectOptions(res.body, 'form-SplitDiff'), ['commerce/-80', 'commerce/80-']);
    assert.deepEqual(selectOptions(res.body, 'form-VerticalSplitClone'), ['customer/0']);
    assert.deepEqual(selectOptions(res.body, 'form-VerticalSplitDiff'), ['customer/0']);
    assert.match(res.body, /<meta name="viewport"/);
  });

  test('has one form per command posting to /jobs, with each option pre-filled with its default and its help', async () => {
    const { app } = await appWith();
    const html = (await app.inject({ method: 'GET', url: '/' })).body;
    for (const command of ['SplitClone', 'VerticalSplitClone', 'SplitDiff', 'VerticalSplitDiff'] as const) {
      const start = html.indexOf(`<form method="post" action="/jobs" id="form-${command}"`);
      assert.ok(start >= 0, command);
      const form = html.slice(start, html.indexOf('</form>', start));
      assert.match(form, new RegExp(`name="command" value="${command}"`));
      const names = [...form.matchAll(/name="opt\.([a-zA-Z]+)"/g)].map((m) => m[1]);
      assert.deepEqual(
        names,
        optionsFor(command).map((d) => d.name),
        command,
      );
      for (const def of optionsFor(command)) assert.ok(form.includes(def.help), `${command} ${def.name} help`);
    }
    const splitClone = html.slice(html.indexOf('id="form-SplitClone"'), html.indexOf('id="form-VerticalSplitClone"'));
    assert.match(splitClone, /name="opt\.chunkCount" value="1000"/);
    assert.match(splitClone, /name="opt\.sourceReaderCount" value="8" step="1" min="1" max="256"/);
    assert.match(splitClone, /name="opt\.minTableSizeForSplit" value="1MiB"/);
    assert.match(splitClone, /name="opt\.strategy" value="-populate_blp_checkpoint"/);
    assert.match(splitClone, /<select id="form-SplitClone-sourceTabletType" name="opt\.sourceTabletType">\s*<option value="rdonly" selected>/);
    assert.match(html, /name="opt\.tables" value="" placeholder="[^"]*" required/);
  });

  test('shows the current job at a glance, with a link to /status', async () => {
    const { app, jobs } = await appWith();
    jobs.current = copyingSnapshot();
    const html = (await app.inject({ method: 'GET', url: '/' })).body;
    assert.match(html, /id="job-state">copying the data</);
    assert.match(html, /SplitClone <code>commerce\/0<\/code>/);
    assert.match(html, /20\.8% copied, ETA 2h 03m/);
    assert.match(html, /href="\/status"/);
    assert.match(html, /A job is running/);
  });

  test('still renders when the topology cannot be read, and says why', async () => {
    const { app } = await appWith(new FakeJobs(), async () => {
      throw new Error('bad topology: tablet zone1-9 names keyspace nosuch');
    });
    const res = await app.inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /cannot read the topology: bad topology: tablet zone1-9 names keyspace nosuch/);
    assert.match(res.body, /none in the topology/);
  });
});

describe('POST /jobs (the index form)', () => {
  const form = (fields: Record<string, string>) => ({
    method: 'POST' as const,
    url: '/jobs',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(fields).toString(),
  });
  const defaults = (command: 'SplitClone' | 'VerticalSplitClone') =>
    Object.fromEntries(optionsFor(command).map((d) => [`opt.${d.name}`, optionDefaultText(d)]));

  test('starts the job and redirects to /status (303); fields left empty or at their default are left out', async () => {
    const { app, jobs } = await appWith();
    const res = await app.inject(
      form({ command: 'SplitClone', target: 'commerce/0', ...defaults('SplitClone'), 'opt.chunkCount': '200', 'opt.minTableSizeForSplit': '2MiB' }),
    );
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/status');
    assert.equal(jobs.started.length, 1);
    const started = jobs.started[0];
    assert.equal(started.command, 'SplitClone');
    assert.equal(started.keyspace, 'commerce');
    assert.equal(started.shard, '0');
    assert.deepEqual(started.options, { chunkCount: '200', minTableSizeForSplit: '2MiB' });
  });

  test('re-renders the index with the error (400) and keeps what was typed', async () => {
    const { app, jobs } = await appWith();
    const res = await app.inject(form({ command: 'SplitClone', target: 'commerce/0', 'opt.chunkCount': '0', 'opt.strategy': '-delay_primary_key' }));
    assert.equal(res.statusCode, 400);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(res.body, /option chunkCount: must be at least 1, got 0/);
    assert.match(res.body, /name="opt\.chunkCount" value="0"[^>]* aria-invalid="true"/);
    assert.match(res.body, /name="opt\.strategy" value="-delay_primary_key"/);
    assert.equal(res.body.split('option chunkCount: must be at least 1').length - 1, 1, 'the error shows once, in its form');
    assert.equal(jobs.started.length, 0);
  });

  test('400 for a missing required option, an unknown target and a malformed target', async () => {
    const { app } = await appWith();
    const vertical = await app.inject(form({ command: 'VerticalSplitClone', target: 'customer/0', 'opt.tables': '' }));
    assert.equal(vertical.statusCode, 400);
    assert.match(vertical.body, /option tables is required for VerticalSplitClone/);
    const unknown = await app.inject(form({ command: 'SplitClone', target: 'commerce/40-80' }));
    assert.equal(unknown.statusCode, 400);
    assert.match(unknown.body, /shard commerce\/40-80 is not in the topology/);
    const malformed = await app.inject(form({ command: 'SplitClone', target: '../etc' }));
    assert.equal(malformed.statusCode, 400);
    assert.match(malformed.body, /target must be keyspace\/shard/);
    assert.match(malformed.body, /name="target" required aria-invalid="true"/);
    const noCommand = await app.inject(form({ command: 'Nope', target: 'commerce/0' }));
    assert.equal(noCommand.statusCode, 400);
    assert.match(noCommand.body, /command must be one of/);
  });

  test('409 while a job runs, with the index re-rendered', async () => {
    const { app, jobs } = await appWith();
    jobs.current = copyingSnapshot();
    const res = await app.inject(form({ command: 'SplitClone', target: 'commerce/0' }));
    assert.equal(res.statusCode, 409);
    assert.match(res.body, /a job is running \(copying the data\)/);
  });
});

describe('GET /status', () => {
  test('renders the state, job, options, sources, destinations, tables with bars and ETA, totals and log', async () => {
    const { app, jobs } = await appWith();
    jobs.current = copyingSnapshot();
    const res = await app.inject({ method: 'GET', url: '/status' });
    assert.equal(res.statusCode, 200);
    const html = res.body;
    assert.match(html, /id="state">copying the data</);
    assert.match(html, /SplitClone <code>commerce\/0<\/code>/);
    assert.match(html, /<code>chunkCount=10<\/code>/);
    assert.match(html, /<code>excludeTables=audit, \/\^tmp_\/<\/code>/);
    assert.match(html, /id="sources">zone1-101</);
    assert.match(html, /id="destinations">zone1-200, zone1-300</);
    assert.match(html, /data-table="customer"/);
    assert.match(html, /data-table="corder"/);
    assert.match(html, /data-table="customer_names"/);
    const customer = html.slice(html.indexOf('data-table="customer"'), html.indexOf('</tr>', html.indexOf('data-table="customer"')));
    assert.match(customer, /style="width: 42%"/);
    assert.match(customer, /42\.0%/);
    assert.match(customer, /420,000 \/ 1,000,000/);
    assert.match(customer, /52,000 rows\/s/);
    assert.match(customer, /class="num c-eta">1m 05s</);
    assert.match(customer, /4\/10/);
    const corder = html.slice(html.indexOf('data-table="corder"'), html.indexOf('</tr>', html.indexOf('data-table="corder"')));
    assert.match(corder, /class="num c-eta">—</);
    const totals = html.slice(html.indexOf('id="totals"'), html.indexOf('</tfoot>'));
    assert.match(totals, /420,010 \/ 2,010,010/);
    assert.match(totals, /class="num c-eta">2h 03m</);
    assert.match(html, /copying customer &lt;chunk 5\/10&gt;/);
    assert.match(html, /id="cancel-form">/);
    assert.match(html, /id="reset-form" hidden>/);
    // Polled by the linked script while live.
    assert.match(html, /<script src="\/assets\/status\.js\?v=[0-9a-f]+"><\/script>/);
    assert.match(html, /data-live="true"/);
  });

  test("shows what holds the writes up (the lock watch's lines), and hides the box when nothing does", async () => {
    const { app, jobs } = await appWith();
    jobs.current = {
      ...copyingSnapshot(),
      waits: ['zone1-200: `commerce`.`customer`: thread 42 (INSERT INTO `commerce`.`customer` …) has waited 7 s: Waiting for table metadata lock'],
    };
    let html = (await app.inject({ method: 'GET', url: '/status' })).body;
    assert.match(
      html,
      /id="waits">\s*<div class="wait">zone1-200: `commerce`.`customer`: thread 42 \(INSERT INTO `commerce`.`customer` …\) has waited 7 s: Waiting for table metadata lock<\/div>/,
    );
    const api = (await app.inject({ method: 'GET', url: '/api/status' })).json() as { waits: string[] };
    assert.equal(api.waits.length, 1);
    jobs.current = copyingSnapshot();
    html = (await app.inject({ method: 'GET', url: '/status' })).body;
    assert.match(html, /id="waits" hidden>/);
  });

  test('escapes what it prints', async () => {
    const { app, jobs } = await appWith();
    jobs.current = endedSnapshot('error', 'duplicate key <script>alert(1)</script> in "customer"');
    const html = (await app.inject({ method: 'GET', url: '/status' })).body;
    assert.ok(!html.includes('<b>odd</b>'));
    assert.match(html, /&lt;b&gt;odd&lt;\/b&gt;/);
    assert.ok(!html.includes('<script>alert(1)'));
    assert.match(html, /duplicate key &lt;script&gt;alert\(1\)&lt;\/script&gt; in &quot;customer&quot;/);
  });

  test('an ended job: the error, Reset instead of Cancel, the end time and elapsed', async () => {
    const { app, jobs } = await appWith();
    jobs.current = endedSnapshot('error', 'source tablet zone1-101 is not replicating');
    const html = (await app.inject({ method: 'GET', url: '/status' })).body;
    assert.match(html, /id="state">error</);
    assert.match(html, /id="error">source tablet zone1-101 is not replicating</);
    assert.match(html, /id="cancel-form" hidden>/);
    assert.match(html, /id="reset-form">/);
    assert.match(html, /id="ended-at">2026-11-23 19:02:05 UTC</);
    assert.match(html, /id="elapsed">2m 05s</);
  });

  test('no job yet', async () => {
    const { app } = await appWith();
    const html = (await app.inject({ method: 'GET', url: '/status' })).body;
    assert.match(html, /id="state">not started</);
    assert.match(html, /No job/);
    assert.match(html, /No tables yet/);
  });
});

describe('GET /status of a diff job', () => {
  /** The HTML of a table's row, or of the line under it with what its diff found. */
  const rowOf = (html: string, table: string) =>
    html.slice(html.indexOf(`data-table="${table}"`), html.indexOf('</tr>', html.indexOf(`data-table="${table}"`)));
  const diffOf = (html: string, table: string) => {
    const at = html.indexOf(`data-diff-of="${table}"`);
    assert.ok(at > 0, `a diff line for ${table}`);
    return html.slice(at, html.indexOf('</tr>', at));
  };
  const text = (fragment: string) => fragment.replace(/<[^>]*>/g, '');

  test('while diffing: the states, rows read, notes, summaries with their counts, green or red', async () => {
    const { app, jobs } = await appWith();
    jobs.current = diffSnapshot();
    const html = (await app.inject({ method: 'GET', url: '/status' })).body;
    assert.match(html, /class="badge state-diffing-the-data" id="state">diffing the data</);
    assert.match(html, /id="rows-heading">rows read \/ estimated</);
    assert.match(rowOf(html, 'corder'), /class="badge state-diffing">diffing</);
    assert.match(html, /<tr class="state-diffing" data-table="corder">/);
    assert.match(rowOf(html, 'corder'), /37,500 \/ 75,000/);

    const customer = diffOf(html, 'customer');
    assert.match(customer, /^data-diff-of="customer">/, 'shown');
    assert.match(customer, /class="diff diff-ok"/);
    assert.match(customer, /<p class="diff-summary">30000 rows checked, no differences<\/p>/, 'finished: no "diffing…"');
    assert.equal(
      text(customer.slice(customer.indexOf('<p class="diff-counts">'))).trim(),
      'checked 30,000 · matching 30,000 · mismatched 0 · extra on source 0 · extra on destination 0 · by primary key',
    );
    assert.ok(!customer.includes('<details'), 'no examples of a clean table');

    const corder = diffOf(html, 'corder');
    assert.match(corder, /class="diff diff-bad"/);
    assert.match(
      corder,
      /<p class="diff-summary"><span class="diff-running">diffing… <\/span>37500 rows checked: 37492 matching, 1 mismatched \(order_id=17 \[price, status\]\), 7 extra on source/,
    );
    assert.equal(
      text(corder.slice(corder.indexOf('<p class="diff-counts">'), corder.indexOf('</p>', corder.indexOf('<p class="diff-counts">')))),
      'checked 37,500 · matching 37,492 · mismatched 1 · extra on source 7 · extra on destination 0 · by primary key',
    );
    assert.match(corder, /<span class="n-bad">mismatched 1<\/span>/);
    assert.match(corder, /<span class="n-none">extra on destination 0<\/span>/);
    const kinds = [...corder.matchAll(/<details class="diff-examples" data-kind="(\w+)"><summary>([^<]*)<\/summary>/g)].map((m) => [m[1], m[2]]);
    assert.deepEqual(
      kinds,
      [
        ['mismatched', 'mismatched: 1'],
        ['extraOnSource', 'extra on source: 7'],
      ],
      'a list per kind found so far',
    );
    assert.match(corder, /<li><code>order_id=17<\/code> \[price, status\]<\/li>/);

    assert.match(rowOf(html, 'event_log'), /<span class="t-name">event_log<\/span><small class="note">no primary key: compared as sorted full rows<\/small>/);
    assert.match(rowOf(html, 'customer'), /<small class="note" hidden><\/small>/);
    assert.match(
      diffOf(html, 'event_log'),
      /class="diff diff-ok"><p class="diff-summary"><span class="diff-running">diffing… <\/span>300 rows checked, no differences/,
    );
    assert.match(diffOf(html, 'event_log'), /by full row/);
  });

  test('ended in error: every kind with up to 10 examples, columns and destination, the count of the rest', async () => {
    const { app, jobs } = await appWith();
    jobs.current = diffSnapshot(true);
    const html = (await app.inject({ method: 'GET', url: '/status' })).body;
    assert.match(html, /id="state">error</);
    assert.match(rowOf(html, 'corder'), /class="badge state-error">error</);
    const corder = diffOf(html, 'corder');
    assert.match(corder, /class="diff diff-bad"><p class="diff-summary">75000 rows checked: 74983 matching, 2 mismatched/);
    assert.ok(!corder.includes('diffing…'));
    const lists = Object.fromEntries(
      [...corder.matchAll(/<details class="diff-examples" data-kind="(\w+)"><summary>([^<]*)<\/summary><ul>(.*?)<\/ul><\/details>/g)].map((m) => [
        m[1],
        { title: m[2], items: [...m[3].matchAll(/<li[^>]*>(.*?)<\/li>/g)].map((li) => li[1]) },
      ]),
    );
    assert.deepEqual(lists, {
      mismatched: {
        title: 'mismatched: 2',
        items: ['<code>order_id=17</code> [price, status]', '<code>order_id=&lt;script&gt;alert(1)&lt;/script&gt;</code> [sku]'],
      },
      extraOnSource: {
        title: 'extra on source: 14',
        items: [...Array.from({ length: 10 }, (_, i) => `<code>order_id=${1001 + i}</code>`), '… and 4 more'],
      },
      extraOnDestination: { title: 'extra on destination: 1', items: ['<code>order_id=99</code> on zone1-200'] },
    });
    assert.match(diffOf(html, 'customer'), /class="diff diff-ok"/);
    assert.match(diffOf(html, 'event_log'), /class="diff diff-ok"/);
    assert.ok(!html.includes('<script>alert(1)'), 'the key with <script> is escaped everywhere (summary, examples, error, log)');
    assert.match(html, /id="error">differences found in 1 of 3 tables: corder: 75000 rows checked/);
  });

  test('escapes notes, summaries, keys, columns and destinations', async () => {
    const { app, jobs } = await appWith();
    const snap = diffSnapshot(true);
    const corder = snap.tables.find((t) => t.name === 'corder')!;
    corder.note = 'odd <img src=x onerror=alert(2)>';
    corder.diff!.summary = 'summary <b>bold</b>';
    corder.diff!.examples.mismatched = [{ key: 'k="<script>alert(3)</script>"', columns: ['<i>c</i>'], destination: '<u>zone</u>' }];
    jobs.current = snap;
    const html = (await app.inject({ method: 'GET', url: '/status' })).body;
    for (const raw of ['<img src=x', '<b>bold', '<script>alert(3)', '<i>c</i>', '<u>zone']) assert.ok(!html.includes(raw), raw);
    assert.match(html, /<small class="note">odd &lt;img src=x onerror=alert\(2\)&gt;<\/small>/);
    assert.match(html, /<p class="diff-summary">summary &lt;b&gt;bold&lt;\/b&gt;<\/p>/);
    assert.match(html, /<li><code>k=&quot;&lt;script&gt;alert\(3\)&lt;\/script&gt;&quot;<\/code> \[&lt;i&gt;c&lt;\/i&gt;\] on &lt;u&gt;zone&lt;\/u&gt;<\/li>/);
  });

  test('a clone shows rows copied and no diff lines; VerticalSplitDiff reads rows', async () => {
    const { app, jobs } = await appWith();
    jobs.current = copyingSnapshot();
    let html = (await app.inject({ method: 'GET', url: '/status' })).body;
    assert.match(html, /id="rows-heading">rows copied \/ estimated</);
    const lines = [...html.matchAll(/<tr class="diff-row" data-diff-of="([^"]*)"( hidden)?>/g)];
    assert.deepEqual(
      lines.map((m) => [m[1], m[2]]),
      [...copyingSnapshot().tables.map((t) => [t.name.replace(/</g, '&lt;').replace(/>/g, '&gt;'), ' hidden']), ['', ' hidden']],
      'one hidden line per table, and the template',
    );
    assert.ok(!html.includes('<div class="diff '));
    assert.match((await app.inject({ method: 'GET', url: '/' })).body, /20\.8% copied/);

    jobs.current = { ...diffSnapshot(), job: { command: 'VerticalSplitDiff', keyspace: 'customer', shard: '0', options: {} } };
    html = (await app.inject({ method: 'GET', url: '/status' })).body;
    assert.match(html, /id="rows-heading">rows read \/ estimated</);
    assert.match((await app.inject({ method: 'GET', url: '/' })).body, /\d+\.\d% read, ETA/);
  });
});

describe('POST /cancel and /reset (the status page forms)', () => {
  test('cancel, then reset, each redirecting to /status', async () => {
    const { app, jobs } = await appWith();
    await app.inject({ method: 'POST', url: '/api/jobs', payload: START });
    const urlencoded = { 'content-type': 'application/x-www-form-urlencoded' };
    const cancel = await app.inject({ method: 'POST', url: '/cancel', headers: urlencoded, payload: '' });
    assert.equal(cancel.statusCode, 303);
    assert.equal(cancel.headers.location, '/status');
    assert.equal(jobs.cancels, 1);
    const reset = await app.inject({ method: 'POST', url: '/reset', headers: urlencoded, payload: '' });
    assert.equal(reset.statusCode, 303);
    assert.equal(reset.headers.location, '/status');
    assert.equal(jobs.resets, 1);
    assert.equal(jobs.snapshot().state, 'not started');
  });

  test('nothing to cancel, or reset while running: still back to /status, nothing changed', async () => {
    const { app, jobs } = await appWith();
    const cancel = await app.inject({ method: 'POST', url: '/cancel' });
    assert.equal(cancel.statusCode, 303);
    jobs.current = copyingSnapshot();
    const reset = await app.inject({ method: 'POST', url: '/reset' });
    assert.equal(reset.statusCode, 303);
    assert.equal(jobs.resets, 0);
    assert.equal(jobs.snapshot().state, 'copying the data');
  });
});

describe('GET /metrics', () => {
  async function scrape(app: FastifyInstance) {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusStrict(res.body);
    const viaPackage = await parseWithPackage(res.body);
    if (viaPackage) {
      assert.deepEqual(viaPackage.map((f) => f.name).sort(), families.map((f) => f.name).sort());
    }
    const byName = new Map(families.map((f) => [f.name, f]));
    const values = (name: string, label?: string) => Object.fromEntries(byName.get(name)!.metrics.map((m) => [label ? m.labels[label] : '', Number(m.value)]));
    return { byName, values };
  }

  test('state, rows per table, rate and default process metrics, read at scrape time', async () => {
    const { app, jobs } = await appWith();
    jobs.current = copyingSnapshot();
    const { byName, values } = await scrape(app);
    assert.equal(byName.get('shardworker_job_state')?.type, 'gauge');
    const states = values('shardworker_job_state', 'state');
    assert.deepEqual(states, {
      'not started': 0,
      initializing: 0,
      'finding target instances': 0,
      'copying the data': 1,
      'diffing the data': 0,
      'migrating served types': 0,
      'cleaning up': 0,
      done: 0,
      error: 0,
      canceled: 0,
    });
    assert.deepEqual(values('shardworker_table_rows_copied', 'table'), { customer: 420000, corder: 0, customer_names: 0, '<b>odd</b>': 10 });
    assert.deepEqual(values('shardworker_table_rows_estimated', 'table'), { customer: 1000000, corder: 1010000, customer_names: 0, '<b>odd</b>': 10 });
    assert.deepEqual(values('shardworker_rows_per_second'), { '': 52000 });
    assert.equal(byName.get('shardworker_job_errors_total')?.type, 'counter');
    assert.deepEqual(values('shardworker_job_errors_total'), { '': 0 });
    assert.ok(byName.has('process_cpu_user_seconds_total'), 'default process metrics');
    assert.ok(byName.has('nodejs_heap_size_used_bytes'), 'default nodejs metrics');

    jobs.current = { ...copyingSnapshot(), tables: [copyingSnapshot().tables[0]] };
    const later = await scrape(app);
    assert.deepEqual(later.values('shardworker_table_rows_copied', 'table'), { customer: 420000 }, 'tables of an earlier scrape are gone');
  });

  test('shardworker_table_diff_rows: per table with a diff and kind', async () => {
    const { app, jobs } = await appWith();
    jobs.current = diffSnapshot();
    const { byName } = await scrape(app);
    const family = byName.get('shardworker_table_diff_rows');
    assert.equal(family?.type, 'gauge');
    const rows = (f: typeof family | undefined) => Object.fromEntries(f!.metrics.map((m) => [`${m.labels.table}/${m.labels.kind}`, Number(m.value)]));
    assert.deepEqual(rows(family), {
      'customer/matching': 30000,
      'customer/mismatched': 0,
      'customer/extra_on_source': 0,
      'customer/extra_on_destination': 0,
      'corder/matching': 37492,
      'corder/mismatched': 1,
      'corder/extra_on_source': 7,
      'corder/extra_on_destination': 0,
      'event_log/matching': 300,
      'event_log/mismatched': 0,
      'event_log/extra_on_source': 0,
      'event_log/extra_on_destination': 0,
    });
    jobs.current = diffSnapshot(true);
    assert.deepEqual(rows((await scrape(app)).byName.get('shardworker_table_diff_rows')), {
      'customer/matching': 30000,
      'customer/mismatched': 0,
      'customer/extra_on_source': 0,
      'customer/extra_on_destination': 0,
      'corder/matching': 74983,
      'corder/mismatched': 2,
      'corder/extra_on_source': 14,
      'corder/extra_on_destination': 1,
      'event_log/matching': 1200,
      'event_log/mismatched': 0,
      'event_log/extra_on_source': 0,
      'event_log/extra_on_destination': 0,
    });
    // Only the tables with a diff: none for a clone without --verify.
    jobs.current = copyingSnapshot();
    assert.deepEqual((await scrape(app)).byName.get('shardworker_table_diff_rows')?.metrics ?? [], []);
  });

  test('shardworker_job_errors_total counts each job that ended in error once', async () => {
    const { app, jobs } = await appWith();
    jobs.current = endedSnapshot('error', 'boom');
    assert.deepEqual((await scrape(app)).values('shardworker_job_errors_total'), { '': 1 });
    assert.deepEqual((await scrape(app)).values('shardworker_job_errors_total'), { '': 1 }, 'same job, same count');
    // A second failed job that nobody scraped, only reset through the API: still counted.
    await app.inject({ method: 'POST', url: '/api/reset' });
    jobs.current = { ...endedSnapshot('error', 'boom again'), startedAt: '2026-11-23T20:00:00.000Z' };
    await app.inject({ method: 'POST', url: '/api/reset' });
    jobs.current = { ...endedSnapshot('done'), startedAt: '2026-11-23T21:00:00.000Z' };
    assert.deepEqual((await scrape(app)).values('shardworker_job_errors_total'), { '': 2 });
  });

  test('uses a registry of its own, or the one given; never the global one', async () => {
    const { register } = await import('prom-client');
    const a = await appWith();
    const b = await appWith();
    for (const app of [a.app, b.app]) assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200);
    assert.equal(register.getSingleMetric('shardworker_job_state'), undefined);
    const registry = new Registry();
    const c = await buildApp({ jobs: new FakeJobs(), readTopology: async () => TOPOLOGY, metrics: registry, statusMaxAgeMs: 0 });
    assert.ok(registry.getSingleMetric('shardworker_job_state'));
    assert.equal((await c.inject({ method: 'GET', url: '/metrics' })).statusCode, 200);
  });
});

describe('logging', () => {
  test('requests go to the pino logger given', async () => {
    const { pino } = await import('pino');
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      {
        write: (line: string) => {
          lines.push(line);
        },
      },
    );
    const app = await buildApp({ jobs: new FakeJobs(), readTopology: async () => TOPOLOGY, logger });
    await app.inject({ method: 'GET', url: '/healthz' });
    assert.ok(
      lines.some((l) => JSON.parse(l).req?.url === '/healthz'),
      lines.join(''),
    );
  });
});

describe('other routes', () => {
  test('404 as JSON', async () => {
    const { app } = await appWith();
    const res = await app.inject({ method: 'GET', url: '/nope' });
    assert.equal(res.statusCode, 404);
    assert.deepEqual(res.json(), { error: 'no route GET /nope' });
  });

  test('every route of the contract is there', async () => {
    const { app } = await appWith();
    await app.ready();
    for (const [method, url] of [
      ['GET', '/'],
      ['POST', '/jobs'],
      ['GET', '/status'],
      ['POST', '/cancel'],
      ['POST', '/reset'],
      ['GET', '/api/status'],
      ['GET', '/api/status/view'],
      ['POST', '/api/jobs'],
      ['POST', '/api/cancel'],
      ['POST', '/api/reset'],
      ['GET', '/metrics'],
      ['GET', '/healthz'],
      ['GET', '/assets/:file'],
    ] as const) {
      assert.ok(app.hasRoute({ method, url }), `${method} ${url}`);
    }
  });

  test('OPTION_DEFS have what the forms need', () => {
    for (const def of OPTION_DEFS) assert.ok(def.help.length > 0, def.name);
  });
});
