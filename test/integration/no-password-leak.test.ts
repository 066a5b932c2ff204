// The database password never shows: a real `serve` process (token on) copies with a MySQL user that has a
// password, then fails on a tablet whose password is wrong; every log line, page, JSON body and error of it all,
// and the process's command line and environment, are searched for the password and hold none of it.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import type { StatusSnapshot } from '../../src/worker/status.ts';
import { onSource, resetDestinations, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';

const DB = 't_no_leak';
const USER = 'sw';
const PASSWORD = `S3cr3t-pw-${randomBytes(6).toString('hex')}`;
/** What a destination or the source is switched to, so that the password the daemon holds is wrong there. */
const OTHER_PASSWORD = `0ther-pw-${randomBytes(6).toString('hex')}`;
const TOKEN = randomBytes(24).toString('hex');
const BIN = new URL('../../bin/shardworker.js', import.meta.url).pathname;

interface Daemon {
  proc: ChildProcess;
  url: string;
  exited: Promise<number | null>;
  /** Everything the process wrote, stdout and stderr. */
  output: () => string;
}

/** Everything the test saw from the daemon, to search at the end. */
const seen: string[] = [];

async function startServe(topoFile: string, credsFile: string, tokenFile: string): Promise<Daemon> {
  const args = [
    BIN,
    '--topo',
    `file:${topoFile}`,
    '--db-credentials-file',
    credsFile,
    '--auth-token-file',
    tokenFile,
    '--port',
    '0',
    '--log-level',
    'trace',
    'serve',
  ];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearInterval(timer);
        resolve(m[1]);
      }
    }, 20);
    void exited.then(() => {
      clearInterval(timer);
      reject(new Error(`serve exited: ${out}`));
    });
  });
  return { proc, url, exited, output: () => out };
}

async function fetchText(d: Daemon, method: string, urlPath: string, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(d.url + urlPath, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    redirect: 'manual',
  });
  const text = await res.text();
  seen.push(`${method} ${urlPath} -> ${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${text}`);
  return { status: res.status, text };
}

async function status(d: Daemon): Promise<StatusSnapshot> {
  return JSON.parse((await fetchText(d, 'GET', '/api/status')).text) as StatusSnapshot;
}

const ended = (s: StatusSnapshot) => ['done', 'error', 'canceled'].includes(s.state);

/** Polls every page and JSON route while the job runs, then once more after it ended. */
async function watchUntilEnded(d: Daemon): Promise<StatusSnapshot> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    for (const p of ['/', '/status', '/metrics', '/login']) assert.equal((await fetchText(d, 'GET', p)).status, 200, p);
    const s = await status(d);
    if (ended(s)) {
      for (const p of ['/', '/status', '/metrics', '/api/status']) assert.equal((await fetchText(d, 'GET', p)).status, 200, p);
      return s;
    }
    if (Date.now() > deadline) throw new Error(`timed out; last status: ${JSON.stringify(s).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function setPassword(at: { port: number }, password: string): Promise<void> {
  await sql(at, `CREATE OR REPLACE USER '${USER}'@'127.0.0.1' IDENTIFIED BY '${password}'; GRANT ALL PRIVILEGES ON *.* TO '${USER}'@'127.0.0.1'`);
}

describe('no password leaks', () => {
  let c: TestCluster;
  let d: Daemon;
  let dir: string;

  before(async () => {
    c = await testCluster();
    // On the source primary, so that the rdonly replica gets the user (and the data) through replication.
    await onSource(
      c,
      `CREATE OR REPLACE USER '${USER}'@'127.0.0.1' IDENTIFIED BY '${PASSWORD}'; GRANT ALL PRIVILEGES ON *.* TO '${USER}'@'127.0.0.1';
      DROP DATABASE IF EXISTS ${DB}; CREATE DATABASE ${DB}; USE ${DB};
      CREATE TABLE customer (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, email VARCHAR(40));
      INSERT INTO customer SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), CONCAT('c', seq, '@x') FROM seq_1_to_2000;`,
    );
    for (const dest of c.dests.slice(0, 2)) await setPassword(dest, PASSWORD);
    dir = mkdtempSync(path.join(tmpdir(), 'sw-no-leak-'));
    const creds = path.join(dir, 'credentials.json');
    writeFileSync(creds, JSON.stringify({ root: '', [USER]: PASSWORD }));
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const topo = writeTopology(c, {
      keyspace: 'ks',
      user: USER,
      sources: [{ shard: '0', dbName: DB }],
      destinations: [
        { shard: '-80', instance: 0, dbName: DB },
        { shard: '80-', instance: 1, dbName: DB },
      ],
    });
    seen.push(readFileSync(topo, 'utf8'));
    d = await startServe(topo, creds, tokenFile);
  });

  after(async () => {
    if (d && d.proc.exitCode === null) d.proc.kill('SIGKILL');
    if (!c) return;
    await onSource(c, `DROP USER IF EXISTS '${USER}'@'127.0.0.1'`).catch(() => undefined);
    for (const dest of c.dests.slice(0, 2)) await sql(dest, `DROP USER IF EXISTS '${USER}'@'127.0.0.1'`).catch(() => undefined);
  });

  test('the user really needs its password', async () => {
    await assert.rejects(
      mysql.createConnection({ host: '127.0.0.1', port: c.dests[0].port, user: USER, password: '' }).then((conn) => conn.end()),
      /Access denied/,
    );
  });

  test('neither the command line nor the environment of the process holds it', () => {
    const cmdline = readFileSync(`/proc/${d.proc.pid}/cmdline`, 'utf8');
    assert.match(cmdline, /serve/);
    assert.ok(!cmdline.includes(PASSWORD), 'cmdline');
    assert.ok(!cmdline.includes(TOKEN), 'cmdline holds the token');
    assert.ok(!readFileSync(`/proc/${d.proc.pid}/environ`, 'utf8').includes(PASSWORD), 'environ');
  });

  test('a SplitClone as user sw, watched through every page and JSON route: done', async () => {
    await resetDestinations(c, DB);
    const started = await fetchText(d, 'POST', '/api/jobs', {
      command: 'SplitClone',
      keyspace: 'ks',
      shard: '0',
      options: { writeMethod: 'insert', writeQueryMaxRows: 20, maxTps: 40, destinationWriterCount: 2 },
    });
    assert.equal(started.status, 202, started.text);
    const s = await watchUntilEnded(d);
    assert.equal(s.state, 'done', s.error ?? '');
    assert.equal(s.totals.rowsCopied, 2000);
    assert.equal((await fetchText(d, 'POST', '/api/reset')).status, 200);
  });

  test('a destination whose password is not the one in the credentials file: the error names the tablet', async () => {
    await resetDestinations(c, DB);
    await setPassword(c.dests[1], OTHER_PASSWORD);
    try {
      assert.equal((await fetchText(d, 'POST', '/api/jobs', { command: 'SplitClone', keyspace: 'ks', shard: '0' })).status, 202);
      const s = await watchUntilEnded(d);
      assert.equal(s.state, 'error');
      assert.match(s.error ?? '', /zone1-300/, 'names the destination tablet');
      assert.match(s.error ?? '', /Access denied for user 'sw'/);
      assert.ok(!(s.error ?? '').includes(PASSWORD));
      assert.equal((await fetchText(d, 'POST', '/api/reset')).status, 200);
    } finally {
      await setPassword(c.dests[1], PASSWORD);
    }
  });

  test('a source replica whose password is wrong: the error names the tablet', async () => {
    await resetDestinations(c, DB);
    await onSource(c, `ALTER USER '${USER}'@'127.0.0.1' IDENTIFIED BY '${OTHER_PASSWORD}'`);
    try {
      assert.equal((await fetchText(d, 'POST', '/api/jobs', { command: 'SplitClone', keyspace: 'ks', shard: '0' })).status, 202);
      const s = await watchUntilEnded(d);
      assert.equal(s.state, 'error');
      assert.match(s.error ?? '', /zone1-101/, 'names the source tablet');
      assert.ok(!(s.error ?? '').includes(PASSWORD));
      assert.equal((await fetchText(d, 'POST', '/api/reset')).status, 200);
    } finally {
      await onSource(c, `ALTER USER '${USER}'@'127.0.0.1' IDENTIFIED BY '${PASSWORD}'`);
    }
  });

  test('after SIGTERM: no log line, page, JSON body or header of the whole run holds the password (or the token)', async () => {
    d.proc.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    const logs = d.output();
    const lines = logs.split('\n').filter((l) => l.trim() !== '');
    assert.ok(lines.length > 20, `the run logged (${lines.length} lines)`);
    assert.ok(
      lines.some((l) => l.includes('zone1-300')),
      'the failure is in the log, named by its tablet',
    );
    assert.ok(seen.length > 20, `pages and bodies were fetched (${seen.length})`);
    for (const [what, texts] of [
      ['log', lines],
      ['HTTP reply', seen],
    ] as const) {
      for (const text of texts) {
        for (const secret of [PASSWORD, OTHER_PASSWORD, TOKEN]) {
          assert.ok(!text.includes(secret), `a ${what} holds ${secret === TOKEN ? 'the token' : 'a password'}: ${text.slice(0, 400)}`);
        }
        assert.ok(!text.includes('S3cr3t') && !text.includes('0ther-pw'), `a ${what} holds part of a password: ${text.slice(0, 400)}`);
      }
    }
  });
});
