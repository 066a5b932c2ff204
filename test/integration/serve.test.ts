// The daemon as operators and automation use it: a real `shardworker serve` process on sandbox data, driven
// over HTTP (JSON API and, in headless Chromium, the pages), canceled mid-copy, and stopped with SIGTERM.

import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { replicationStatus } from '../../src/sandbox/index.ts';
import type { StatusSnapshot } from '../../src/worker/status.ts';
import { chromiumMissing, launchChromium } from '../helpers/browser.ts';
import { api, startDaemon, type Daemon } from '../helpers/daemon.ts';
import { onSource, readTopologyFile, resetDestinations, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';

const DB = 't_serve';

function startServe(topoFile: string): Promise<Daemon> {
  return startDaemon(['serve', '--topo', `file:${topoFile}`, '--port', '0', '--log-level', 'warn']);
}

async function status(d: Daemon): Promise<StatusSnapshot> {
  return (await api(d, 'GET', '/api/status')).json as unknown as StatusSnapshot;
}

async function waitFor(d: Daemon, done: (s: StatusSnapshot) => boolean, timeoutMs = 60_000): Promise<StatusSnapshot> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(d);
    if (done(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out; last status: ${JSON.stringify(s).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ended = (s: StatusSnapshot) => ['done', 'error', 'canceled'].includes(s.state);
// Slow enough to watch and to cancel: small batches, few writes per second per destination.
// Slow by small INSERTs at a capped rate (LOAD DATA, the default, would copy it all in one batch).
const SLOW = { writeMethod: 'insert', writeQueryMaxRows: 20, maxTps: 15, destinationWriterCount: 2 };

describe('shardworker serve', () => {
  let c: TestCluster;
  let topo: string;
  let d: Daemon;

  before(async () => {
    c = await testCluster();
    await onSource(
      c,
      `DROP DATABASE IF EXISTS ${DB}; CREATE DATABASE ${DB}; USE ${DB};
      CREATE TABLE customer (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, email VARCHAR(40));
      INSERT INTO customer SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), CONCAT('c', seq, '@x') FROM seq_1_to_2000;
      CREATE TABLE corder (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, total DECIMAL(10,2));
      INSERT INTO corder SELECT seq, CAST(CONV(SUBSTRING(MD5(seq * 7),1,16),16,10) AS UNSIGNED), seq / 100 FROM seq_1_to_1000;`,
    );
    topo = writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: DB }],
      destinations: [
        { shard: '-80', instance: 0, dbName: DB },
        { shard: '80-', instance: 1, dbName: DB },
      ],
    });
    d = await startServe(topo);
  });

  after(async () => {
    if (d.proc.exitCode === null) d.proc.kill('SIGKILL');
  });

  async function destinationRows(): Promise<number> {
    let n = 0;
    for (const i of [0, 1]) for (const t of ['customer', 'corder']) n += Number((await sql(c.dests[i], `SELECT COUNT(*) AS n FROM ${DB}.${t}`))[0].n);
    return n;
  }

  test('POST /api/jobs, poll /api/status until done: rows copied equal rows in the destinations', async () => {
    await resetDestinations(c, DB);
    const started = await api(d, 'POST', '/api/jobs', { command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} });
    assert.equal(started.status, 202, JSON.stringify(started.json));
    assert.equal((await api(d, 'POST', '/api/jobs', { command: 'SplitClone', keyspace: 'ks', shard: '0' })).status, 409);
    const s = await waitFor(d, ended);
    assert.equal(s.state, 'done', s.error ?? '');
    assert.equal(s.totals.rowsCopied, 3000);
    assert.equal(await destinationRows(), s.totals.rowsCopied);
    assert.equal(s.totals.etaSeconds, 0);
    assert.equal((await api(d, 'POST', '/api/jobs', { command: 'SplitClone', keyspace: 'ks', shard: '0' })).status, 409, 'ended but not reset');
    const metrics = await (await fetch(d.url + '/metrics')).text();
    assert.match(metrics, /shardworker_table_rows_copied\{table="customer"\} 2000/);
    assert.equal((await api(d, 'POST', '/api/reset')).status, 200);
    assert.equal((await status(d)).state, 'not started');
  });

  test('cancel mid-copy: canceled, cleanup done, the source replica replicating again', async () => {
    await resetDestinations(c, DB);
    assert.equal((await api(d, 'POST', '/api/jobs', { command: 'SplitClone', keyspace: 'ks', shard: '0', options: SLOW })).status, 202);
    await waitFor(d, (s) => s.totals.rowsCopied > 0);
    assert.equal((await readTopologyFile(topo)).tablets['zone1-101'].type, 'worker');
    const canceledAt = Date.now();
    assert.equal((await api(d, 'POST', '/api/cancel')).status, 200);
    const s = await waitFor(d, ended);
    assert.equal(s.state, 'canceled');
    assert.ok(Date.now() - canceledAt < 5000, `ended ${Date.now() - canceledAt} ms after cancel`);
    assert.ok(s.totals.rowsCopied < 3000);
    assert.match(s.error ?? '', /canceled/);
    assert.equal((await readTopologyFile(topo)).tablets['zone1-101'].type, 'rdonly');
    assert.equal((await replicationStatus(c.rdonly)).running, true);
    assert.equal((await api(d, 'POST', '/api/cancel')).status, 409, 'nothing left to cancel');
    assert.equal((await api(d, 'POST', '/api/reset')).status, 200);
  });

  test('in Chromium: submit the SplitClone form, watch the bars move on /status until done', { skip: chromiumMissing }, async (t) => {
    await resetDestinations(c, DB);
    const browser = await launchChromium(t);
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(d.url + '/');
    await page.selectOption('#form-SplitClone select[name="target"]', 'ks/0');
    await page.click('#form-SplitClone details.options summary');
    for (const [name, value] of Object.entries(SLOW)) {
      // Options with a fixed set of values are selects; the rest are inputs.
      const field = page.locator(`#form-SplitClone [name="opt.${name}"]`);
      if ((await field.evaluate((el) => el.tagName)) === 'SELECT') await field.selectOption(String(value));
      else await field.fill(String(value));
    }
    await Promise.all([page.waitForURL(d.url + '/status'), page.click('#form-SplitClone button[type="submit"]')]);
    await page.waitForSelector('#table-rows tr[data-table="customer"]');
    const width = () => page.$eval('#table-rows tr[data-table="customer"] .fill', (el) => parseFloat((el as HTMLElement).style.width) || 0);
    await page.waitForFunction(
      () => {
        const fill = document.querySelector('#table-rows tr[data-table="customer"] .fill') as HTMLElement | null;
        const w = fill ? parseFloat(fill.style.width) : 0;
        return w > 0 && w < 100;
      },
      undefined,
      { timeout: 30_000, polling: 100 },
    );
    const first = await width();
    await page.waitForFunction(
      (w) => {
        const fill = document.querySelector('#table-rows tr[data-table="customer"] .fill') as HTMLElement | null;
        return fill !== null && parseFloat(fill.style.width) > w;
      },
      first,
      { timeout: 30_000, polling: 100 },
    );
    await page.waitForFunction(() => document.getElementById('state')?.textContent === 'done', undefined, { timeout: 60_000, polling: 250 });
    const dir = await mkdtemp(join(tmpdir(), 'sw-shot-'));
    await page.screenshot({ path: join(dir, 'status-done.png'), fullPage: true });
    const text = await page.innerText('main');
    for (const want of ['customer', 'corder', 'done', '2,000 / 2,000', '1,000 / 1,000', 'zone1-101']) assert.ok(text.includes(want), `page shows ${want}`);
    if (process.env.KEEP_SCREENSHOTS) console.log(`screenshot: ${join(dir, 'status-done.png')}`);
    assert.equal(await destinationRows(), 3000);
    assert.equal((await api(d, 'POST', '/api/reset')).status, 200);
  });

  test('SIGTERM cancels the running job, waits for its cleanup, then exits', async () => {
    await resetDestinations(c, DB);
    assert.equal((await api(d, 'POST', '/api/jobs', { command: 'SplitClone', keyspace: 'ks', shard: '0', options: SLOW })).status, 202);
    await waitFor(d, (s) => s.totals.rowsCopied > 0);
    d.proc.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    assert.equal((await readTopologyFile(topo)).tablets['zone1-101'].type, 'rdonly');
    assert.equal((await replicationStatus(c.rdonly)).running, true);
  });
});
