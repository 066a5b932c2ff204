// SplitClone --snapshot consistent from the source primary while a write load runs on it: the primary keeps taking
// writes (its commit rate before and during the job, and the longest gap between two commits of a probe, are
// printed), no tablet is ever marked `worker`, the position recorded is the snapshot's, and once the load stops the
// streams make every destination equal the source byte for byte. Then: a reader's connection killed mid-copy fails
// the job with why, leaving the source as found; and the refusals.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import pino from 'pino';
import { connect, type Endpoint } from '../../src/sandbox/index.ts';
import { openTopology } from '../../src/topology/server.ts';
import type { JobController } from '../../src/worker/controller.ts';
import type { StatusSnapshot } from '../../src/worker/status.ts';
import { readTopologyFile, resetDestinations, runJob, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { sleep, until } from '../helpers/faults.ts';
import { assertSplitExact, sourcePosition, testStreams, untilStreamsAt } from '../helpers/stream-exact.ts';
import { WriteLoad } from '../helpers/write-load.ts';

const SHARDS = ['-55', '55-aa', 'aa-'];

/** Wall-clock ms, finer than Date.now(): comparable with the status's ISO times. */
const now = () => performance.timeOrigin + performance.now();

let c: TestCluster;

function layout(db: string) {
  return { keyspace: 'ks', sources: [{ shard: '0', dbName: db }], destinations: SHARDS.map((shard, instance) => ({ shard, instance, dbName: db })) };
}

/**
 * Tiny commits on the primary, one after another on a connection of its own (in a database no job copies): how many
 * per second, and the longest wait between two, over a window.
 */
class CommitProbe {
  #stop = false;
  #running: Promise<void> = Promise.resolve();
  #commits: number[] = [];

  start(at: Endpoint): void {
    this.#running = (async () => {
      const conn = await connect(at);
      try {
        await conn.query(
          'CREATE DATABASE IF NOT EXISTS snap_probe; CREATE TABLE IF NOT EXISTS snap_probe.p (id INT AUTO_INCREMENT PRIMARY KEY, at BIGINT) ENGINE=InnoDB',
        );
        while (!this.#stop) {
          await conn.query('INSERT INTO snap_probe.p (at) VALUES (?)', [Date.now()]);
          this.#commits.push(now());
        }
      } finally {
        await conn.end();
      }
    })();
  }

  /** Commits per second and the longest gap (ms) between two commits from `from` to `to`. */
  window(from: number, to: number): { perSecond: number; longestGapMs: number } {
    const inside = this.#commits.filter((t) => t >= from && t <= to);
    let gap = 0;
    let last = from;
    for (const t of inside) {
      gap = Math.max(gap, t - last);
      last = t;
    }
    gap = Math.max(gap, to - last);
    return { perSecond: Math.round((inside.length / (to - from)) * 1000), longestGapMs: Math.round(gap) };
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#running;
  }
}

/** Every tablet type the topology file showed while `watching` ran, sampled every 20 ms. */
async function typesSeen(topoFile: string, watching: Promise<unknown>): Promise<Set<string>> {
  const seen = new Set<string>();
  let done = false;
  void watching.finally(() => (done = true));
  while (!done) {
    for (const t of Object.values((await readTopologyFile(topoFile)).tablets)) seen.add(t.type);
    await sleep(20);
  }
  return seen;
}

describe('SplitClone --snapshot consistent', () => {
  before(async () => {
    c = await testCluster();
  });

  test('from the primary under a write load: it keeps taking writes, nothing marked worker, streams make it exact', async () => {
    const db = 'snap_e2e';
    await resetDestinations(c, db);
    const load = new WriteLoad(c.primary, db, 23);
    await load.seed(20_000);
    const topoFile = writeTopology(c, layout(db));
    const probe = new CommitProbe();
    probe.start(c.primary);
    load.start(1);
    await sleep(1000);
    const beforeFrom = now();
    const loadAtFrom = load.transactions;
    await sleep(3000);
    const beforeTo = now();
    const loadBefore = load.transactions;
    let jobs: JobController | null = null;
    const startedAt = now();
    const seen: { during: StatusSnapshot | null } = { during: null };
    const job = runJob(
      topoFile,
      {
        command: 'SplitClone',
        keyspace: 'ks',
        shard: '0',
        options: { snapshot: 'consistent', sourceTabletType: 'primary', minTableSizeForSplit: 0, minRowsPerChunk: 1000, sourceReaderCount: 4 },
      },
      (j) => (jobs = j),
    );
    const watch = typesSeen(topoFile, job);
    // The snapshot's age, as the status shows it while the copy runs.
    void (async () => {
      while (!seen.during) {
        const s = (jobs as JobController | null)?.snapshot();
        if (s?.snapshot && s.state === 'copying the data') seen.during = s;
        await sleep(50);
      }
    })().catch(() => {});
    const status = await job;
    const endedAt = now();
    const loadDuring = load.transactions;
    const types = await watch;
    assert.equal(status.state, 'done', status.error ?? '');
    assert.ok(!types.has('worker'), `a tablet was marked worker: ${[...types].join(', ')}`);
    const s = status.snapshot!;
    assert.ok(s, 'the status has the snapshot');
    assert.ok(s.closedAt, 'the snapshot was let go at cleanup');
    assert.equal(s.tablets.length, 1);
    assert.equal(s.tablets[0].tablet, 'zone1-100');
    const during = seen.during as StatusSnapshot | null;
    assert.ok(during?.snapshot, 'the status showed the snapshot while copying');
    assert.ok(during.snapshot.closedAt === null && during.snapshot.ageSeconds >= 0);
    // The position recorded is exactly the snapshot's.
    for (const d of c.dests) assert.equal(String((await sql(d, 'SELECT pos FROM _vt.blp_checkpoint'))[0].pos), s.position);

    const a = probe.window(beforeFrom, beforeTo);
    const b = probe.window(startedAt, endedAt);
    // Around the instant the snapshot was opened (commits held back), and the rest of the job.
    const opened = Date.parse(s.openedAt);
    const around = probe.window(opened - 1000, opened + 1000);
    const jobSeconds = (endedAt - startedAt) / 1000;
    console.log(
      `# consistent snapshot: commits held ${s.tablets[0].commitsHeldMs} ms; job ${jobSeconds.toFixed(1)} s; probe commits/s before ${a.perSecond}, during ${b.perSecond}; `
        + `longest probe commit gap before ${a.longestGapMs} ms, during ${b.longestGapMs} ms, within 1 s of the snapshot ${around.longestGapMs} ms; load transactions/s before ${Math.round((loadBefore - loadAtFrom) / 3)}, during ${Math.round((loadDuring - loadBefore) / jobSeconds)}; loadavg ${(
          await import('node:os')
        )
          .loadavg()
          .map((x) => x.toFixed(1))
          .join(' ')}`,
    );
    assert.ok(b.perSecond > 0 && loadDuring > loadBefore, 'the primary took writes during the job');
    // Generous on a shared, loaded machine: commits are held back for milliseconds, never for the copy.
    assert.ok(b.longestGapMs < (jobSeconds * 1000) / 2 && b.longestGapMs < 5000, `the primary stopped taking writes for ${b.longestGapMs} ms`);

    const manager = await testStreams(topoFile);
    await manager.open();
    try {
      await sleep(1000);
      await load.stop();
      await probe.stop();
      assert.deepEqual(load.errors, []);
      const target = await sourcePosition(c.primary);
      await untilStreamsAt(manager, target, 120_000, 3);
      await assertSplitExact(c.primary, c.dests, SHARDS, db);
    } finally {
      await manager.close();
      await load.stop();
      await probe.stop();
    }
  });

  test('a reader connection killed mid-copy fails the job with why, and the source is left as found', async () => {
    const db = 'snap_kill';
    await resetDestinations(c, db);
    const load = new WriteLoad(c.primary, db, 29);
    await load.seed(6000);
    const topoFile = writeTopology(c, layout(db));
    const before = await readTopologyFile(topoFile);
    // The layout has no replica tablet: refused by name, nothing changed. The kill runs on the rdonly below.
    const status = await runJob(topoFile, {
      command: 'SplitClone',
      keyspace: 'ks',
      shard: '0',
      options: { snapshot: 'consistent', sourceTabletType: 'replica' },
    });
    assert.equal(status.state, 'error');
    assert.match(status.error ?? '', /no healthy replica tablet in ks\/0/);
    assert.deepEqual(await readTopologyFile(topoFile), before);

    // 60 MB of wide rows behind writes held to --max-tps: the readers wait on the writers' bounded queues for
    // seconds, so the kill lands while reads remain, whatever the machine's speed.
    await sql(c.primary, `CREATE TABLE \`${db}\`.pad (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, v MEDIUMTEXT) ENGINE=InnoDB`);
    await sql(
      c.primary,
      `INSERT INTO \`${db}\`.pad SELECT seq, CAST(CONV(SUBSTR(MD5(seq), 1, 16), 16, 10) AS UNSIGNED), REPEAT('x', 10000) FROM \`${db}\`.seq_1_to_6000`,
    );
    await until(
      'the rdonly has the wide rows',
      async () => Number((await sql(c.rdonly, `SELECT COUNT(*) AS n FROM \`${db}\`.pad`).catch(() => [{ n: 0 }]))[0].n) === 6000,
      60_000,
    );
    let started: JobController | null = null;
    const killed = runJob(
      topoFile,
      {
        command: 'SplitClone',
        keyspace: 'ks',
        shard: '0',
        options: {
          snapshot: 'consistent',
          sourceTabletType: 'rdonly',
          minTableSizeForSplit: 0,
          minRowsPerChunk: 200,
          sourceReaderCount: 2,
          destinationWriterCount: 1,
          writeMethod: 'insert',
          writeQueryMaxRows: 20,
          maxTps: 10,
        },
      },
      (j) => (started = j),
    );
    await until(
      'copying from the snapshot',
      () => {
        const s = (started as JobController | null)?.snapshot();
        return s?.state === 'copying the data' && s.totals.rowsCopied > 0;
      },
      60_000,
    );
    // The readers' transactions are the ones open for more than a moment on the rdonly: all of them go.
    const readers = await sql(
      c.rdonly,
      `SELECT t.trx_mysql_thread_id AS id FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
      WHERE t.trx_started <= NOW() - INTERVAL 1 SECOND AND p.USER <> 'system user'`,
    );
    assert.ok(readers.length >= 1, 'the readers hold their transactions');
    for (const r of readers) await sql(c.rdonly, `KILL ${Number(r.id)}`);
    const ended = await killed;
    assert.equal(ended.state, 'error');
    assert.match(ended.error ?? '', /consistent snapshot .* was lost/);
    // Left as found: the rdonly still replicates, no tablet changed type, no transaction of the job left open.
    const after = await readTopologyFile(topoFile);
    assert.deepEqual(after.tablets, before.tablets);
    const repl = await sql(c.rdonly, 'SHOW SLAVE STATUS');
    assert.equal(repl[0].Slave_SQL_Running, 'Yes');
    // No connection of the job left holding a transaction: the readers not killed are closed with their sockets
    // (mysql/wire/discard.ts: a half-closed one paused mid-result would keep its snapshot until net_write_timeout).
    // Threads the test killed are the server's to reap (they leave the process list at once; their transaction
    // entries can take a while on a busy server); the rdonly's own replication threads are not the job's.
    const jobTransactions = `SELECT t.trx_mysql_thread_id AS thread, t.trx_query AS query, p.USER AS user, p.COMMAND AS command
      FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
      WHERE p.USER <> 'system user' AND p.COMMAND <> 'Killed' AND p.ID NOT IN (${readers.map((r) => Number(r.id)).join(', ')})`;
    await until('no transaction of the job left', async () => (await sql(c.rdonly, jobTransactions)).length === 0, 10_000).catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(await sql(c.rdonly, jobTransactions))}`);
    });
  });

  test('refusals: --resume with it, a bad value named, primary without it', async () => {
    const db = 'snap_refuse';
    const topoFile = writeTopology(c, layout(db));
    const request = (options: Record<string, unknown>) => ({ command: 'SplitClone' as const, keyspace: 'ks', shard: '0', options });
    const topo = await openTopology(`file:${topoFile}`);
    const { JobController: Controller } = await import('../../src/worker/controller.ts');
    const jobs = new Controller({ topo, credentials: {} }, { level: 'silent', destination: pino.destination('/dev/null') });
    await assert.rejects(
      jobs.start(request({ snapshot: 'consistent', resume: true })),
      /resume cannot be used with snapshot consistent: the snapshot lived in the interrupted job's transactions/,
    );
    await assert.rejects(jobs.start(request({ snapshot: 'consistant' })), /option snapshot: expected stop-replication or consistent, got "consistant"/);
    await assert.rejects(jobs.start(request({ sourceTabletType: 'primary' })), /sourceTabletType: primary only with snapshot consistent/);
    await assert.rejects(
      jobs.start({ command: 'SplitDiff', keyspace: 'ks', shard: '-55', options: { snapshot: 'consistent' } }),
      /option snapshot does not apply to SplitDiff/,
    );
  });
});
