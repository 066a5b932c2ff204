// The index form and POST /api/jobs start each of the four commands on the real worker and sandbox data; the
// diffs' findings come back in /api/status as tables[].diff.

import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp } from '../../src/http/app.ts';
import { openTopology } from '../../src/topology/server.ts';
import { JobController } from '../../src/worker/controller.ts';
import type { StatusSnapshot } from '../../src/worker/status.ts';
import { onSource, resetDestinations, sql, testCluster, type TestCluster } from '../helpers/cluster.ts';
import { writeVerticalTopology } from '../helpers/vertical.ts';

const SRC = 'd_http';
const DST = 'v_http';
const TABLES = 'customer, /^ord/';

describe('starting jobs over HTTP', () => {
  let c: TestCluster;
  let app: FastifyInstance;
  let jobs: JobController;

  before(async () => {
    c = await testCluster();
    await onSource(
      c,
      `DROP DATABASE IF EXISTS ${SRC}; CREATE DATABASE ${SRC}; USE ${SRC};
      CREATE TABLE customer (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, email VARCHAR(40));
      INSERT INTO customer SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), CONCAT('c', seq, '@x') FROM seq_1_to_300;
      CREATE TABLE orders (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, total DECIMAL(10,2));
      INSERT INTO orders SELECT seq, CAST(CONV(SUBSTRING(MD5(seq * 7),1,16),16,10) AS UNSIGNED), seq / 100 FROM seq_1_to_200;`,
    );
    await reset();
    const file = writeVerticalTopology(c, {
      sourceDb: SRC,
      destDb: DST,
      destInstance: 2,
      splitInto: [
        { shard: '-80', instance: 0 },
        { shard: '80-', instance: 1 },
      ],
    });
    const topo = await openTopology(`file:${file}`);
    jobs = new JobController(
      { topo, credentials: {} },
      { level: 'info', destination: pino.destination({ dest: path.join(path.dirname(file), 'job.log'), sync: true }) },
    );
    app = await buildApp({ jobs, readTopology: () => topo.read() });
  });

  async function reset(): Promise<void> {
    await resetDestinations(c, SRC);
    for (const d of c.dests) await sql(d, `DROP DATABASE IF EXISTS ${DST}`);
  }

  /** Waits for the job, returns /api/status, and resets it for the next one. */
  async function finished(): Promise<StatusSnapshot> {
    await jobs.settled();
    const status = (await app.inject({ method: 'GET', url: '/api/status' })).json() as StatusSnapshot;
    assert.equal((await app.inject({ method: 'POST', url: '/api/reset' })).statusCode, 200);
    return status;
  }

  async function viaApi(command: string, target: string, options: Record<string, unknown> = {}): Promise<StatusSnapshot> {
    const [keyspace, shard] = target.split('/');
    const res = await app.inject({ method: 'POST', url: '/api/jobs', payload: { command, keyspace, shard, options } });
    assert.equal(res.statusCode, 202, res.body);
    return finished();
  }

  async function viaForm(command: string, target: string, fields: Record<string, string> = {}): Promise<StatusSnapshot> {
    const payload = new URLSearchParams({ command, target, ...fields }).toString();
    const res = await app.inject({ method: 'POST', url: '/jobs', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload });
    assert.equal(res.statusCode, 303, res.body);
    return finished();
  }

  function assertDone(s: StatusSnapshot, command: string): void {
    assert.equal(s.state, 'done', `${command}: ${s.error}`);
    assert.equal(s.job?.command, command);
  }

  function assertDiffed(s: StatusSnapshot, rows: Record<string, number>): void {
    for (const [table, n] of Object.entries(rows)) {
      const t = s.tables.find((x) => x.name === table);
      assert.ok(t?.diff, `${table} has no diff in ${JSON.stringify(s.tables)}`);
      assert.equal(t.diff.summary, `${n} rows checked, no differences`);
      assert.deepEqual([t.diff.mismatched, t.diff.extraOnSource, t.diff.extraOnDestination], [0, 0, 0]);
    }
  }

  test('POST /api/jobs starts the clones, the index form the diffs', async () => {
    assertDone(await viaApi('SplitClone', 'src/0'), 'SplitClone');
    assertDone(await viaApi('VerticalSplitClone', 'dst/0', { tables: ['customer', '/^ord/'] }), 'VerticalSplitClone');
    const split = await viaForm('SplitDiff', 'src/-80', { 'opt.parallelDiffsCount': '3' });
    assertDone(split, 'SplitDiff');
    assert.equal(split.job?.options.parallelDiffsCount, 3);
    const vertical = await viaForm('VerticalSplitDiff', 'dst/0', { 'opt.tables': TABLES });
    assertDone(vertical, 'VerticalSplitDiff');
    assertDiffed(vertical, { customer: 300, orders: 200 });
  });

  test('the index form starts the clones (verify ticked), POST /api/jobs the diffs', async () => {
    await reset();
    const split = await viaForm('SplitClone', 'src/0', { 'opt.verify': 'true' });
    assertDone(split, 'SplitClone');
    const verified = split.tables.find((t) => t.name === 'customer')!.diff!;
    assert.equal(verified.processed, 300);
    assert.equal(verified.finished, true);
    assertDone(await viaForm('VerticalSplitClone', 'dst/0', { 'opt.tables': TABLES, 'opt.verify': 'true' }), 'VerticalSplitClone');
    assertDone(await viaApi('SplitDiff', 'src/80-'), 'SplitDiff');
    const vertical = await viaApi('VerticalSplitDiff', 'dst/0', { tables: ['customer', 'orders'] });
    assertDone(vertical, 'VerticalSplitDiff');
    assertDiffed(vertical, { customer: 300, orders: 200 });
  });
});
