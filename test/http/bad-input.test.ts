// Hostile and careless HTTP input, table-driven: each case gets a 4xx with a message that says what is wrong,
// no job starts, and the server still answers afterwards.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { InjectOptions } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { FakeJobs, TOPOLOGY } from './fake-jobs.ts';

const START = { command: 'SplitClone', keyspace: 'commerce', shard: '0' };
const VERTICAL = { command: 'VerticalSplitClone', keyspace: 'customer', shard: '0' };
const JSON_TYPE = { 'content-type': 'application/json' };
const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' };

const json = (payload: unknown): InjectOptions => ({ method: 'POST', url: '/api/jobs', headers: JSON_TYPE, payload: JSON.stringify(payload) });
const raw = (payload: string, headers: Record<string, string> = JSON_TYPE): InjectOptions => ({ method: 'POST', url: '/api/jobs', headers, payload });
const form = (fields: Record<string, string>): InjectOptions => ({
  method: 'POST',
  url: '/jobs',
  headers: FORM_TYPE,
  payload: new URLSearchParams(fields).toString(),
});

interface Case {
  name: string;
  request: InjectOptions;
  status: number;
  /** For JSON replies: the error; for pages: text the page shows. */
  message: RegExp;
  /** The `field` of a JSON reply, when it has one. */
  field?: string;
}

const deep = (levels: number) =>
  `{"command":"SplitClone","keyspace":"commerce","shard":"0","options":{"excludeTables":${'['.repeat(levels)}${']'.repeat(levels)}}}`;

const apiCases: Case[] = [
  // The body as a whole
  {
    name: 'malformed JSON',
    request: raw('{"command": "SplitClone", '),
    status: 400,
    message: /^the body is not valid JSON at line 1 column 27$/,
    field: 'body',
  },
  { name: 'JSON cut in a string', request: raw('{"command": "Spl'), status: 400, message: /not valid JSON at line 1/, field: 'body' },
  { name: 'trailing garbage', request: raw('{"command":"SplitClone"} x'), status: 400, message: /not valid JSON at line 1 column 26/, field: 'body' },
  { name: 'empty body', request: raw(''), status: 400, message: /^the body must be a JSON object$/, field: 'body' },
  { name: 'whitespace only', request: raw('  \n '), status: 400, message: /the body must be a JSON object/, field: 'body' },
  { name: 'a JSON array', request: raw('[1,2]'), status: 400, message: /the body must be a JSON object/, field: 'body' },
  { name: 'a JSON string', request: raw('"SplitClone"'), status: 400, message: /the body must be a JSON object/, field: 'body' },
  { name: 'JSON null', request: raw('null'), status: 400, message: /the body must be a JSON object/, field: 'body' },
  {
    name: 'a huge body',
    request: json({ ...START, options: { excludeTables: ['x'.repeat(100 * 1024)] } }),
    status: 413,
    message: /^the body is larger than the 64 KiB this server takes$/,
    field: 'body',
  },
  { name: 'a 10 MB body', request: raw(`{"command":"${'x'.repeat(10 * 1024 * 1024)}"}`), status: 413, message: /larger than the 64 KiB/, field: 'body' },
  {
    name: 'nesting 40 levels deep',
    request: raw(deep(40)),
    status: 400,
    message: /^the body nests deeper than 32 levels$/,
    field: 'options.excludeTables.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0',
  },
  { name: 'nesting 30000 levels deep', request: raw(deep(30_000)), status: 400, message: /nests deeper than 32 levels/ },
  {
    name: 'a __proto__ key',
    request: raw('{"command":"SplitClone","keyspace":"commerce","shard":"0","__proto__":{"admin":true}}'),
    status: 400,
    message: /key named __proto__/,
    field: '__proto__',
  },
  {
    name: 'a __proto__ key in options',
    request: raw('{"command":"SplitClone","keyspace":"commerce","shard":"0","options":{"__proto__":{"chunkCount":1}}}'),
    status: 400,
    message: /key named __proto__/,
    field: 'options.__proto__',
  },
  {
    name: 'constructor.prototype in options',
    request: json({ ...START, options: { constructor: { prototype: { x: 1 } } } }),
    status: 400,
    message: /unknown option constructor/,
    field: 'constructor',
  },
  // Content types the API does not take (a cross-site HTML form can send each of these without asking)
  {
    name: 'text/plain',
    request: raw(JSON.stringify(START), { 'content-type': 'text/plain' }),
    status: 415,
    message: /^the API takes application\/json bodies, got text\/plain$/,
    field: 'body',
  },
  {
    name: 'a urlencoded form',
    request: raw('command=SplitClone&keyspace=commerce&shard=0', FORM_TYPE),
    status: 415,
    message: /takes application\/json bodies, got application\/x-www-form-urlencoded/,
    field: 'body',
  },
  {
    name: 'multipart',
    request: raw('--x\r\n\r\n--x--', { 'content-type': 'multipart/form-data; boundary=x' }),
    status: 415,
    message: /got multipart\/form-data/,
    field: 'body',
  },
  {
    name: 'an unknown type',
    request: raw('{}', { 'content-type': 'application/x-shardworker' }),
    status: 415,
    message: /got application\/x-shardworker/,
    field: 'body',
  },
  // Wrong types and unknown fields
  { name: 'command not a string', request: json({ ...START, command: 1 }), status: 400, message: /^command must be a string$/, field: 'command' },
  {
    name: 'unknown command',
    request: json({ ...START, command: 'DropEverything' }),
    status: 400,
    message: /command must be one of SplitClone, VerticalSplitClone, SplitDiff, VerticalSplitDiff/,
    field: 'command',
  },
  { name: 'keyspace a number', request: json({ ...START, keyspace: 7 }), status: 400, message: /keyspace must be a string/, field: 'keyspace' },
  { name: 'shard null', request: json({ ...START, shard: null }), status: 400, message: /shard must be a string/, field: 'shard' },
  { name: 'options a string', request: json({ ...START, options: 'fast' }), status: 400, message: /options must be an object/, field: 'options' },
  {
    name: 'option of the wrong type',
    request: json({ ...START, options: { chunkCount: 'many' } }),
    status: 400,
    message: /option chunkCount: expected an integer, got "many"/,
    field: 'chunkCount',
  },
  {
    name: 'option a nested object',
    request: json({ ...START, options: { chunkCount: { $gt: 1 } } }),
    status: 400,
    message: /option chunkCount: expected an integer/,
    field: 'chunkCount',
  },
  {
    name: 'list option of objects',
    request: json({ ...START, options: { excludeTables: [{}] } }),
    status: 400,
    message: /option excludeTables: expected a list of names/,
    field: 'excludeTables',
  },
  { name: 'unknown field', request: json({ ...START, force: true }), status: 400, message: /^unknown field force$/, field: 'force' },
  { name: 'unknown option', request: json({ ...START, options: { turbo: true } }), status: 400, message: /^unknown option turbo$/, field: 'turbo' },
  // Path traversal and other non-names
  {
    name: 'keyspace ../etc',
    request: json({ ...START, keyspace: '../etc' }),
    status: 400,
    message: /^keyspace may hold only letters, digits, _ and -$/,
    field: 'keyspace',
  },
  { name: 'keyspace /etc/passwd', request: json({ ...START, keyspace: '/etc/passwd' }), status: 400, message: /keyspace may hold only/, field: 'keyspace' },
  { name: 'shard ..', request: json({ ...START, shard: '..' }), status: 400, message: /shard may hold only/, field: 'shard' },
  { name: 'shard a/b', request: json({ ...START, shard: 'a/b' }), status: 400, message: /shard may hold only/, field: 'shard' },
  { name: 'shard ..\\..', request: json({ ...START, shard: '..\\..' }), status: 400, message: /shard may hold only/, field: 'shard' },
  { name: 'shard with NUL', request: json({ ...START, shard: '0\u0000' }), status: 400, message: /shard may hold only/, field: 'shard' },
  { name: 'keyspace with a newline', request: json({ ...START, keyspace: 'commerce\n' }), status: 400, message: /keyspace may hold only/, field: 'keyspace' },
  {
    name: 'tables ../etc/passwd',
    request: json({ ...VERTICAL, options: { tables: ['../etc/passwd'] } }),
    status: 400,
    message: /^option tables: "\.\.\/etc\/passwd" is no table name: it holds \/ or \\/,
    field: 'tables',
  },
  {
    name: 'tables as text with ../x',
    request: json({ ...VERTICAL, options: { tables: 'customer, ../x' } }),
    status: 400,
    message: /option tables: "\.\.\/x" is no table name/,
    field: 'tables',
  },
  {
    name: 'tables ..',
    request: json({ ...VERTICAL, options: { tables: ['..'] } }),
    status: 400,
    message: /option tables: "\.\." is no table name$/,
    field: 'tables',
  },
  {
    name: 'tables with a backslash',
    request: json({ ...VERTICAL, options: { tables: ['a\\b'] } }),
    status: 400,
    message: /option tables: "a\\\\b" is no table name/,
    field: 'tables',
  },
  {
    name: 'tables with NUL',
    request: json({ ...VERTICAL, options: { tables: ['customer\u0000'] } }),
    status: 400,
    message: /option tables: "customer\\u0000" holds a control character/,
    field: 'tables',
  },
  {
    name: 'a bad /regexp/',
    request: json({ ...VERTICAL, options: { tables: ['/(/'] } }),
    status: 400,
    message: /option tables: "\/\(\/" is not a valid \/regexp\//,
    field: 'tables',
  },
  {
    name: 'a regexp with NUL',
    request: json({ ...VERTICAL, options: { tables: ['/a\u0000/'] } }),
    status: 400,
    message: /holds a control character/,
    field: 'tables',
  },
  {
    name: 'excludeTables ../../x',
    request: json({ ...START, options: { excludeTables: ['audit', '../../x'] } }),
    status: 400,
    message: /option excludeTables: "\.\.\/\.\.\/x" is no table name/,
    field: 'excludeTables',
  },
  {
    name: 'a table name of 65 characters',
    request: json({ ...START, options: { excludeTables: ['t'.repeat(65)] } }),
    status: 400,
    message: /is longer than the 64 characters a table name may have/,
    field: 'excludeTables',
  },
  // Names that do not exist
  {
    name: 'keyspace not in the topology',
    request: json({ ...START, keyspace: 'nosuch' }),
    status: 400,
    message: /keyspace nosuch is not in the topology/,
    field: 'keyspace',
  },
  {
    name: 'keyspace __proto__',
    request: json({ ...START, keyspace: '__proto__' }),
    status: 400,
    message: /keyspace __proto__ is not in the topology/,
    field: 'keyspace',
  },
  // Requests that are not for this server
  {
    name: 'a POST a browser sent from another site',
    request: { ...json(START), headers: { ...JSON_TYPE, 'sec-fetch-site': 'cross-site' } },
    status: 403,
    message: /^refused a POST sent from another site \(Sec-Fetch-Site: cross-site\)$/,
  },
  {
    name: 'a POST from a sibling site (another port)',
    request: { ...json(START), headers: { ...JSON_TYPE, 'sec-fetch-site': 'same-site' } },
    status: 403,
    message: /sent from another site/,
  },
  {
    name: 'a POST with a foreign Origin',
    request: { ...json(START), headers: { ...JSON_TYPE, origin: 'https://evil.example' } },
    status: 403,
    message: /^refused a POST from origin https:\/\/evil\.example: it is not this server \(localhost:80\)$/,
  },
  {
    name: 'a POST with Origin null',
    request: { ...json(START), headers: { ...JSON_TYPE, origin: 'null' } },
    status: 403,
    message: /refused a POST from origin null/,
  },
  { name: 'a malformed URL', request: { method: 'GET', url: '/%E0%A4%A' }, status: 400, message: /^the URL "\/%E0%A4%A" is not valid$/ },
  {
    name: 'a route that does not exist',
    request: { method: 'POST', url: '/api/jobs/../../etc/passwd', headers: JSON_TYPE, payload: '{}' },
    status: 404,
    message: /^no route POST/,
  },
  { name: 'the wrong method', request: { method: 'DELETE', url: '/api/jobs' }, status: 404, message: /no route DELETE \/api\/jobs/ },
];

const formCases: Case[] = [
  {
    name: 'target ../etc',
    request: form({ command: 'SplitClone', target: '../etc' }),
    status: 400,
    message: /target must be keyspace\/shard, each of letters, digits, _ and -/,
  },
  { name: 'target with NUL', request: form({ command: 'SplitClone', target: 'commerce/0\u0000' }), status: 400, message: /target must be keyspace\/shard/ },
  { name: 'target a/b/c', request: form({ command: 'SplitClone', target: 'a/b/c' }), status: 400, message: /target must be keyspace\/shard/ },
  { name: 'no target', request: form({ command: 'SplitClone' }), status: 400, message: /target is required/ },
  { name: 'unknown command', request: form({ command: 'Drop', target: 'commerce/0' }), status: 400, message: /command must be one of/ },
  {
    name: 'tables ../x',
    request: form({ command: 'VerticalSplitClone', target: 'customer/0', 'opt.tables': 'customer,../x' }),
    status: 400,
    message: /option tables: &quot;\.\.\/x&quot; is no table name/,
  },
  {
    name: 'excludeTables with a newline',
    request: form({ command: 'SplitClone', target: 'commerce/0', 'opt.excludeTables': 'a\nb' }),
    status: 400,
    message: /option excludeTables: &quot;a\\nb&quot; holds a control character/,
  },
  {
    name: 'an option of the wrong type',
    request: form({ command: 'SplitClone', target: 'commerce/0', 'opt.chunkCount': 'lots' }),
    status: 400,
    message: /option chunkCount: expected an integer/,
  },
  {
    name: 'an unknown option',
    request: form({ command: 'SplitClone', target: 'commerce/0', 'opt.turbo': 'yes' }),
    status: 400,
    message: /unknown option turbo/,
  },
];

async function freshApp() {
  const jobs = new FakeJobs();
  const app = await buildApp({ jobs, readTopology: async () => TOPOLOGY });
  return { app, jobs };
}

async function stillServes(app: Awaited<ReturnType<typeof freshApp>>['app']): Promise<void> {
  const res = await app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(res.statusCode, 200, 'the server still answers');
}

describe('bad HTTP input to the API: a 4xx with a clear JSON message, no job, no crash', () => {
  for (const c of apiCases) {
    test(`${c.status}: ${c.name}`, async () => {
      const { app, jobs } = await freshApp();
      const res = await app.inject(c.request);
      assert.equal(res.statusCode, c.status, res.body.slice(0, 300));
      assert.match(String(res.headers['content-type']), /^application\/json/);
      const body = res.json() as { error: string; field?: string };
      assert.match(body.error, c.message);
      if (c.field !== undefined) assert.equal(body.field, c.field, res.body.slice(0, 300));
      assert.ok(body.error.length < 400, 'the message stays short, whatever was sent');
      assert.equal(jobs.started.length, 0, 'no job started');
      await stillServes(app);
    });
  }
});

describe('bad input to the index form: the page again with the error, no job, no crash', () => {
  for (const c of formCases) {
    test(`${c.status}: ${c.name}`, async () => {
      const { app, jobs } = await freshApp();
      const res = await app.inject(c.request);
      assert.equal(res.statusCode, c.status);
      assert.match(String(res.headers['content-type']), /^text\/html/);
      assert.match(res.body, c.message);
      assert.equal(jobs.started.length, 0, 'no job started');
      await stillServes(app);
    });
  }

  test('a huge form: 413 with the limit', async () => {
    const { app, jobs } = await freshApp();
    const res = await app.inject(form({ command: 'SplitClone', target: 'commerce/0', 'opt.excludeTables': 'x'.repeat(70 * 1024) }));
    assert.equal(res.statusCode, 413);
    assert.match(res.json().error, /larger than the 64 KiB/);
    assert.equal(jobs.started.length, 0);
    await stillServes(app);
  });

  test('a form from another site: 403', async () => {
    const { app, jobs } = await freshApp();
    for (const headers of [{ 'sec-fetch-site': 'cross-site' }, { origin: 'http://evil.example' }]) {
      for (const url of ['/jobs', '/cancel', '/reset']) {
        const res = await app.inject({ ...form({ command: 'SplitClone', target: 'commerce/0' }), url, headers: { ...FORM_TYPE, ...headers } });
        assert.equal(res.statusCode, 403, `${url} ${JSON.stringify(headers)}`);
      }
    }
    assert.equal(jobs.started.length, 0);
  });
});

describe('what still works', () => {
  test('a form or JSON from this very origin, as a browser sends it', async () => {
    const { app, jobs } = await freshApp();
    const sameOrigin = { origin: 'http://localhost:80', 'sec-fetch-site': 'same-origin' };
    const res = await app.inject({ ...form({ command: 'SplitClone', target: 'commerce/0' }), headers: { ...FORM_TYPE, ...sameOrigin, host: 'localhost:80' } });
    assert.equal(res.statusCode, 303, res.body.slice(0, 300));
    assert.equal(jobs.started.length, 1);
    const cancel = await app.inject({ method: 'POST', url: '/api/cancel', headers: { ...sameOrigin, host: 'localhost:80' } });
    assert.equal(cancel.statusCode, 200);
  });

  test('cancel and reset with an empty JSON body, with a charset, with no body at all', async () => {
    const { app } = await freshApp();
    assert.equal((await app.inject(json(START))).statusCode, 202);
    assert.equal((await app.inject({ method: 'POST', url: '/api/cancel', headers: JSON_TYPE, payload: '' })).statusCode, 200);
    assert.equal(
      (await app.inject({ method: 'POST', url: '/api/reset', headers: { 'content-type': 'application/json; charset=utf-8' }, payload: '{}' })).statusCode,
      200,
    );
    assert.equal((await app.inject({ method: 'POST', url: '/api/cancel' })).statusCode, 409);
  });

  test('table names and regexps that are fine', async () => {
    const { app, jobs } = await freshApp();
    const res = await app.inject(json({ ...VERTICAL, options: { tables: ['customer', '/^c.*_(a|b)$/', 'naïve_tbl', 't'.repeat(64)] } }));
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(jobs.started.length, 1);
  });

  test('nesting of 32 levels is fine for the parser (the option check then names the option)', async () => {
    const { app } = await freshApp();
    const res = await app.inject(raw(deep(29)));
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().field, 'excludeTables');
  });

  test('a second job while one runs: 409, and the first is untouched', async () => {
    const { app, jobs } = await freshApp();
    assert.equal((await app.inject(json(START))).statusCode, 202);
    for (const request of [json({ ...START, options: { chunkCount: 5 } }), form({ command: 'SplitClone', target: 'commerce/0' })]) {
      const res = await app.inject(request);
      assert.equal(res.statusCode, 409);
      assert.match(res.body, /a job is running \(initializing\)/);
    }
    assert.equal(jobs.started.length, 1);
    assert.deepEqual(jobs.started[0].options, {});
  });

  test('a hundred bad requests in parallel leave the server up and idle', async () => {
    const { app, jobs } = await freshApp();
    const all = await Promise.all(Array.from({ length: 100 }, (_, i) => app.inject(apiCases[i % apiCases.length].request)));
    assert.ok(
      all.every((r) => r.statusCode >= 400 && r.statusCode < 500),
      all.map((r) => r.statusCode).join(','),
    );
    assert.equal(jobs.started.length, 0);
    await stillServes(app);
  });
});
