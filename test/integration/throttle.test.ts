// Production manners (issue 20): a copy held while a destination replica is too far behind
// (--max-replication-lag), and paused, resumed and retuned while it runs, over the HTTP API (token required), the
// status page and `shardworker ctl`. Real mariadbd throughout: a destination shard of its own here, a primary and
// a replica (started for this file), beside the test sandbox's source and a second destination.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pino from 'pino';
import { buildApp } from '../../src/http/app.ts';
import { startCluster, stopInstance, type Instance } from '../../src/sandbox/index.ts';
import { openTopology } from '../../src/topology/server.ts';
import type { Topology } from '../../src/topology/types.ts';
import { JobController } from '../../src/worker/controller.ts';
import { connect } from '../../src/sandbox/index.ts';
import { onSource, sql, TEST_BASE_PORT, TEST_SANDBOX_DIR, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { openInBrowser } from '../helpers/browser.ts';
import { until } from '../helpers/faults.ts';
import { sourcePosition, testStreams, untilStreamsAt } from '../helpers/stream-exact.ts';

const run = promisify(execFile);
const ROWS = 200_000; // about 300 bytes each
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const db = 't_throttle';
const TOKEN = 'throttle-test-token-0123456789';

async function checksum(port: number, where = '1'): Promise<string> {
  const rows = await sql(
    { port },
    `SELECT COUNT(*) AS n, CAST(SUM(CRC32(CONCAT_WS('|', id, keyspace_id, HEX(body)))) AS CHAR) AS s FROM \`${db}\`.big WHERE ${where}`,
  );
  return `${rows[0].n}/${rows[0].s}`;
}

describe('throttling and live control', () => {
  let c: TestCluster;
  let dst: Record<string, Instance>;
  const dir = path.join(TEST_SANDBOX_DIR, 'throttle');

  before(async () => {
    c = await testCluster();
    // A destination shard with a replica: its own two instances, above the sandbox's ports.
    dst = await startCluster({
      dir,
      basePort: TEST_BASE_PORT + 40,
      instances: [
        { name: 'dst-primary', serverId: 401 },
        { name: 'dst-replica', serverId: 402, replicaOf: 'dst-primary' },
      ],
    });
    await onSource(
      c,
      `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db};
      CREATE TABLE big (id BIGINT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, body VARBINARY(512) NOT NULL);
      INSERT INTO big SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), REPEAT(UNHEX(MD5(seq)), 16) FROM seq_1_to_${ROWS};
      ANALYZE TABLE big;`,
    );
  });

  after(async () => {
    for (const i of Object.values(dst ?? {})) await stopInstance(i);
  });

  /** ks/0 → -80 (the primary with a replica) and 80- (sandbox dest 1); the replica listed as a tablet of -80. */
  async function freshTopology(): Promise<string> {
    await sql({ port: dst['dst-primary'].port }, `DROP DATABASE IF EXISTS \`${db}\`; DROP DATABASE IF EXISTS \`_vt\``);
    await sql(c.dests[1], `DROP DATABASE IF EXISTS \`${db}\`; DROP DATABASE IF EXISTS \`_vt\``);
    const file = writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: db }],
      destinations: [
        { shard: '-80', instance: 0, dbName: db },
        { shard: '80-', instance: 1, dbName: db },
      ],
    });
    const topo = JSON.parse(readFileSync(file, 'utf8')) as Topology;
    topo.tablets['zone1-200'].port = dst['dst-primary'].port;
    topo.tablets['zone1-201'] = { keyspace: 'ks', shard: '-80', type: 'replica', host: '127.0.0.1', port: dst['dst-replica'].port, dbName: db, user: 'root' };
    writeFileSync(file, JSON.stringify(topo, null, 2));
    return file;
  }

  async function controller(file: string): Promise<JobController> {
    return new JobController(
      { topo: await openTopology(`file:${file}`), credentials: {} },
      { level: 'info', destination: pino.destination({ dest: file + '.log', sync: true }) },
    );
  }

  async function assertByteExact(): Promise<void> {
    const low = 'keyspace_id < 9223372036854775808';
    const high = 'keyspace_id >= 9223372036854775808';
    const want = async (where: string) => {
      const r = (
        await sql(
          c.primary,
          `SELECT COUNT(*) AS n, CAST(SUM(CRC32(CONCAT_WS('|', id, keyspace_id, HEX(body)))) AS CHAR) AS s FROM \`${db}\`.big WHERE ${where}`,
        )
      )[0];
      return `${r.n}/${r.s}`;
    };
    assert.equal(await checksum(dst['dst-primary'].port), await want(low));
    assert.equal(await checksum(c.dests[1].port), await want(high));
  }

  test('--max-replication-lag 2s: the copy holds while the replica is behind, its lag stays within 3 s, and the copy ends byte-exact', async (t) => {
    const file = await freshTopology();
    const jobs = await controller(file);
    await jobs.start({
      command: 'SplitClone',
      keyspace: 'ks',
      shard: '0',
      options: { maxReplicationLag: '2s', maxTps: 10, writeQueryMaxSize: 262144, sourceReaderCount: 4, destinationWriterCount: 4 },
    });

    const replica = { port: dst['dst-replica'].port };
    // The replica's own view of its lag, every 0.5 s, all through the job.
    const samples: { at: number; sbm: number | null; throttled: boolean; reason: string | null; lag: number | null }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const status = (await sql(replica, 'SHOW SLAVE STATUS'))[0];
        const s = jobs.snapshot();
        const sbm = status?.Seconds_Behind_Master;
        samples.push({
          at: Date.now(),
          sbm: sbm === null || sbm === undefined ? null : Number(sbm),
          throttled: s.control?.throttled ?? false,
          reason: s.control?.throttleReason ?? null,
          lag: s.control?.replicas[0]?.lagSeconds ?? null,
        });
        await sleep(500);
      }
    })();

    // Slow the replica's SQL thread: its copy of the table locked for 2.6 s once some rows are in.
    const locker = await connect(replica);
    try {
      for (let i = 0; ; i++) {
        const n = await sql(replica, `SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db}' AND TABLE_NAME = 'big'`);
        if (Number(n[0].n) > 0 && jobs.snapshot().totals.rowsCopied > 5000) break;
        assert.ok(i < 600, 'the copy never started on the replica');
        await sleep(50);
      }
      await locker.query(`LOCK TABLES \`${db}\`.big WRITE`);
      await sleep(2600);
      await locker.query('UNLOCK TABLES');
    } finally {
      await locker.end();
    }
    await jobs.settled();
    sampling = false;
    await sampler;
    const final = jobs.snapshot();
    assert.equal(final.state, 'done', final.error ?? '');

    const throttled = samples.filter((s) => s.throttled);
    const sbms = samples.map((s) => s.sbm ?? 0);
    t.diagnostic(`replica lag samples (Seconds_Behind_Master): ${sbms.join(' ')}; monitor: ${samples.map((s) => s.lag?.toFixed(1) ?? '-').join(' ')}`);
    t.diagnostic(
      `throttled in ${throttled.length} of ${samples.length} samples, ${final.control!.throttledSecondsTotal.toFixed(1)} s in all: ${final.control!.lastThrottleReason}`,
    );
    assert.ok(throttled.length > 0, 'the status never said the job was throttled');
    assert.match(throttled[0].reason ?? '', /replica zone1-201 of ks\/-80 is \d+\.\d s behind \(bound 2 s\)/);
    assert.ok(final.control!.throttledSecondsTotal > 0);
    assert.ok(Math.max(...sbms) <= 3, `the replica fell ${Math.max(...sbms)} s behind (bound 2 s + 1 s)`);
    assert.ok(
      final.log.some((l) => /writes throttled: replica zone1-201/.test(l)),
      'the log says when writes were throttled',
    );
    await assertByteExact();
  });

  test('pause holds within 2 s and keeps the tablets; resume goes on; tune changes the rate; all need the token', async (t) => {
    const file = await freshTopology();
    const jobs = await controller(file);
    const app = await buildApp({
      jobs,
      readTopology: async () => (await openTopology(`file:${file}`)).read(),
      auth: { token: TOKEN, publicStatus: false },
      statusMaxAgeMs: 0,
    });
    const { page, base } = await openInBrowser(app, t);
    const port = Number(new URL(base).port);
    const tokenFile = file + '.token';
    writeFileSync(tokenFile, TOKEN + '\n', { mode: 0o600 });
    const ctl = async (...args: string[]) =>
      run(process.execPath, ['bin/shardworker.js', 'ctl', ...args, '--port', String(port), '--auth-token-file', tokenFile]).then((r) => r.stdout.trim());
    const bearer = { authorization: `Bearer ${TOKEN}` };
    const rows = () => jobs.snapshot().totals.rowsCopied;
    const rate = async (ms: number) => {
      const a = rows();
      await sleep(ms);
      return ((rows() - a) * 1000) / ms;
    };

    // Small batches at 2 a second per destination: a copy of minutes unless tuned up.
    await jobs.start({
      command: 'SplitClone',
      keyspace: 'ks',
      shard: '0',
      options: { maxTps: 2, writeQueryMaxSize: 65536, sourceReaderCount: 4, destinationWriterCount: 4 },
    });
    while (rows() < 2000) await sleep(50);

    // Without the token, every control is refused and changes nothing.
    for (const url of ['/api/pause', '/api/resume', '/api/tune']) {
      const r = await app.inject({ method: 'POST', url, payload: url === '/api/tune' ? { maxTps: 100 } : {} });
      assert.equal(r.statusCode, 401, url);
    }
    const refused = await run(process.execPath, ['bin/shardworker.js', 'ctl', 'pause', '--port', String(port)]).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(refused?.code, 1);
    assert.match(refused?.stderr ?? '', /shardworker: POST \/api\/pause needs the token/);
    assert.equal(jobs.snapshot().control!.paused, false);

    const slow = await rate(3000);
    assert.equal(await ctl('pause'), 'paused');
    const again = await app.inject({ method: 'POST', url: '/api/pause', headers: bearer });
    assert.deepEqual(again.json(), { paused: true, changed: false });
    await sleep(2000);
    const held = rows();
    const heldOnDest = await checksum(dst['dst-primary'].port);
    await sleep(3000);
    assert.equal(rows(), held, 'rows were copied while paused');
    assert.equal(await checksum(dst['dst-primary'].port), heldOnDest, 'the destination changed while paused');
    const status = await ctl('status');
    t.diagnostic(status);
    assert.match(
      status,
      /^SplitClone ks\/0: copying the data; paused since \S+; throttled 0\.0 s in all, paused \d+\.\d s; max tps 2, max replication lag none; \d+ rows\/s\nholding source tablets zone1-101 \(marked worker, replication stopped at the snapshot\)/,
    );
    assert.match(status, /\nreplica zone1-201 \(ks\/-80\) \d+\.\ds behind$/);
    const topo = await (await openTopology(`file:${file}`)).read();
    assert.equal(topo.tablets['zone1-101'].type, 'worker', 'a paused job keeps its source tablet');
    // The page says so, and offers Resume instead of Pause.
    await page.goto(`${base}/login?next=/status`);
    await page.fill('input[name=token]', TOKEN);
    await Promise.all([page.waitForURL(/\/status$/), page.click('button[type=submit]')]);
    assert.equal(await page.textContent('#control-writes'), 'paused');
    assert.match((await page.textContent('#control-why')) ?? '', /paused by an operator since .*; holding source tablets zone1-101/);
    assert.equal(await page.isVisible('#pause-form'), false);

    // Resume from the page's button.
    await Promise.all([page.waitForURL(/\/status$/), page.click('#resume-form button')]);
    const resumed = await rate(3000);
    assert.ok(resumed > 0, 'resume did not go on');
    assert.equal(jobs.snapshot().control!.paused, false);

    // Tune over the API: 2 → 20 transactions per second per destination.
    const bad = await app.inject({ method: 'POST', url: '/api/tune', headers: bearer, payload: { maxTps: -5 } });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().field, 'maxTps');
    assert.equal(await ctl('tune', '--max-tps', '20'), 'tuned: max tps 20, max replication lag none');
    await sleep(1000);
    assert.ok(rows() < ROWS - 10_000, 'the copy was nearly done before the tune');
    const fast = await rate(2000);
    t.diagnostic(`rows/s at max-tps 2: ${slow.toFixed(0)}, after resume ${resumed.toFixed(0)}, at max-tps 20: ${fast.toFixed(0)}`);
    assert.ok(fast > 3 * slow, `tune to 20 tps: ${fast.toFixed(0)} rows/s, was ${slow.toFixed(0)} at 2 tps`);
    assert.ok(rows() < ROWS, 'the copy ended before the tune could be measured');

    await jobs.settled();
    const final = jobs.snapshot();
    assert.equal(final.state, 'done', final.error ?? '');
    assert.ok(final.control!.pausedSecondsTotal >= 5);
    // An ended job cannot be paused: 409, and ctl says why.
    const late = await app.inject({ method: 'POST', url: '/api/pause', headers: bearer });
    assert.equal(late.statusCode, 409);
    assert.match(late.json().error, /no job is running/);
    await assertByteExact();
  });
  test("a stream's max_replication_lag: the stream holds while the destination's replica is behind, then catches up exactly", async () => {
    const file = await freshTopology();
    const jobs = await controller(file);
    await jobs.start({ command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} });
    await jobs.settled();
    assert.equal(jobs.snapshot().state, 'done', jobs.snapshot().error ?? '');
    const primary = { port: dst['dst-primary'].port };
    const replica = { port: dst['dst-replica'].port };
    // The checkpoint row's column, as vtworker's -max_replication_lag writes it: seconds.
    await sql(primary, 'UPDATE `_vt`.`blp_checkpoint` SET max_replication_lag = 2');
    // A lag that is certain: the replica applies every transaction 4 s after its primary committed it (a table
    // lock on the replica did not always hold its SQL thread past the bound).
    const delay = async (seconds: number) => sql(replica, `STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = ${seconds}; START SLAVE`);
    await delay(4);
    const logFile = path.join(path.dirname(file), 'lag-streams.log');
    writeFileSync(logFile, '');
    const streams = await testStreams(file, { log: 'lag-streams.log' });
    await streams.open();
    let writing = true;
    try {
      // Updates on the source all through, a few rows every 20 ms across the whole key range.
      const writer = (async () => {
        for (let i = 0; writing; i++) {
          await sql(c.primary, `UPDATE \`${db}\`.big SET body = REPEAT(UNHEX(MD5(${i})), 16) WHERE id % 997 = ${i % 997}`);
          await sleep(20);
        }
      })();
      try {
        await until(
          'the -80 stream held by its replica',
          () => /stream throttled: replica zone1-201 of ks\/-80 is \d+\.\d s behind \(bound 2 s\)/.test(readFileSync(logFile, 'utf8')),
          30_000,
        );
      } finally {
        await delay(0);
        writing = false;
        await writer;
      }
      await untilStreamsAt(streams, await sourcePosition(c.primary), 60_000, 2);
    } finally {
      writing = false;
      await streams.close();
    }
    assert.match(readFileSync(logFile, 'utf8'), /stream resumed: every destination replica is within max_replication_lag/);
    await assertByteExact();
  });
});
