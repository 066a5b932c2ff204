// Many daemons on one etcd (DESIGN.md "Many daemons"): two real `shardworker serve --topo etcd://…` processes on
// the test suite's three-member etcd. Same shards: one job runs, the other gets 409 naming the holder; other
// shards (a second small sandbox, so each job has a source replica of its own): both copy side by side; the etcd
// leader killed mid-job: both end done, byte-exact; a daemon killed: its shard locks are free again once its lease
// expires.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { replicationStatus, sandboxDown, sandboxUp, waitForCatchUp, type Endpoint } from '../../src/sandbox/index.ts';
import { openTopology, type TopologyServer } from '../../src/topology/server.ts';
import type { StatusSnapshot } from '../../src/worker/status.ts';
import { api, BIN, startDaemon, type Daemon } from '../helpers/daemon.ts';
import {
  onSource,
  readTopologyFile,
  resetDestinations,
  sql,
  TEST_BASE_PORT,
  TEST_SANDBOX_DIR,
  testCluster,
  writeTopology,
  type TestCluster,
} from '../helpers/cluster.ts';
import { etcdLeader, freshEtcdSpec, killEtcdMember, restartEtcdMember } from '../helpers/etcd.ts';
import { readRows } from '../helpers/rows.ts';

const DB = 't_daemons';
const SIDE_DB = 't_side';
// The second sandbox: a source primary, its rdonly replica and one destination, 20 ports above the suite's.
const SIDE_DIR = `${TEST_SANDBOX_DIR}-side`;
const SIDE_BASE_PORT = TEST_BASE_PORT + 20;
const LEASE_TTL = 4;
const run = promisify(execFile);

function startServe(spec: string): Promise<Daemon> {
  return startDaemon(['serve', '--topo', spec, '--port', '0', '--log-level', 'warn']);
}

async function waitFor(d: Daemon, done: (s: StatusSnapshot) => boolean, timeoutMs = 90_000): Promise<StatusSnapshot> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = (await api(d, 'GET', '/api/status')).json as unknown as StatusSnapshot;
    if (done(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out; last status: ${JSON.stringify(s).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ended = (s: StatusSnapshot) => ['done', 'error', 'canceled'].includes(s.state);
// A copy that lasts some seconds: small INSERTs at a capped rate.
const SLOW = { writeMethod: 'insert', writeQueryMaxRows: 20, maxTps: 8, destinationWriterCount: 2 };
const CLONE = { command: 'SplitClone', keyspace: 'ks', shard: '0' };

describe('many daemons on one etcd', () => {
  let c: TestCluster;
  let spec: string;
  let topo: TopologyServer;
  const daemons: Daemon[] = [];

  let side: { primary: Endpoint; rdonly: Endpoint; dest: Endpoint };

  before(async () => {
    const sideUp = sandboxUp({ dir: SIDE_DIR, basePort: SIDE_BASE_PORT, destinations: 1, seedRows: 1 }).then((r) => ({
      primary: { port: r.instances.primary.port },
      rdonly: { port: r.instances.rdonly.port },
      dest: { port: r.instances.destinations[0].port },
    }));
    c = await testCluster();
    await onSource(
      c,
      `DROP DATABASE IF EXISTS ${DB}; CREATE DATABASE ${DB}; USE ${DB};
      CREATE TABLE customer (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, email VARCHAR(40), note VARBINARY(16));
      INSERT INTO customer SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), CONCAT('c', seq, '@x'), UNHEX(MD5(seq)) FROM seq_1_to_2000;`,
    );
    side = await sideUp;
    await sql(
      side.primary,
      `DROP DATABASE IF EXISTS ${SIDE_DB}; CREATE DATABASE ${SIDE_DB}; USE ${SIDE_DB};
      CREATE TABLE customer (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, email VARCHAR(40), note VARBINARY(16));
      INSERT INTO customer SELECT seq, CAST(CONV(SUBSTRING(MD5(seq + 5),1,16),16,10) AS UNSIGNED), CONCAT('s', seq, '@y'), UNHEX(MD5(seq + 5)) FROM seq_1_to_1500;`,
    );
    await waitForCatchUp(side.primary, side.rdonly, 60_000);
    const file = writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: DB }],
      destinations: [
        { shard: '-80', instance: 0, dbName: DB },
        { shard: '80-', instance: 1, dbName: DB },
      ],
    });
    // A second keyspace on other shards and other servers: the side sandbox's source, destinations on its
    // destination and on the suite's third one.
    const other = await readTopologyFile(
      writeTopology(
        { primary: side.primary, rdonly: side.rdonly, dests: [side.dest, c.dests[2]] },
        {
          keyspace: 'ks2',
          sources: [{ shard: '0', dbName: SIDE_DB }],
          destinations: [
            { shard: '-80', instance: 0, dbName: SIDE_DB },
            { shard: '80-', instance: 1, dbName: SIDE_DB },
          ],
        },
      ),
    );
    const merged = await readTopologyFile(file);
    merged.keyspaces = { ...merged.keyspaces, ...other.keyspaces };
    for (const [alias, t] of Object.entries(other.tablets)) merged.tablets[`zone2-${alias.slice(6)}`] = t;
    await writeFile(file, JSON.stringify(merged));
    spec = freshEtcdSpec(`?lease-ttl=${LEASE_TTL}`);
    // The exact operator line: the file goes into etcd, the daemons read it there.
    const imported = await run(process.execPath, [BIN, '--topo', spec, 'topo', 'import', file]);
    assert.match(imported.stdout, /imported 2 keyspaces and 8 tablets into etcd:\/\//);
    topo = await openTopology(spec);
    daemons.push(await startServe(spec), await startServe(spec));
  });

  after(async () => {
    for (const d of daemons) if (d.proc.exitCode === null) d.proc.kill('SIGKILL');
    await topo?.close();
    await sandboxDown(SIDE_DIR, { purge: true });
  });

  async function assertByteExact(source: Endpoint, dests: Endpoint[], db: string): Promise<void> {
    const want = await readRows(source, db, 'customer');
    const got = new Map<string, string>();
    for (const d of dests) for (const [k, v] of await readRows(d, db, 'customer')) got.set(k, v);
    assert.equal(got.size, want.size);
    assert.deepEqual(got, want);
  }

  test('same shards: one daemon runs the job, the other answers 409 naming the holder; other shards copy side by side; the etcd leader killed mid-job, both end done, byte-exact', async () => {
    const [d1, d2] = daemons;
    await resetDestinations(c, DB);
    const started = await api(d1, 'POST', '/api/jobs', { ...CLONE, options: SLOW });
    assert.equal(started.status, 202, JSON.stringify(started.json));
    const refused = await api(d2, 'POST', '/api/jobs', { ...CLONE, options: {} });
    assert.equal(refused.status, 409);
    const holder = refused.json.holder as { host: string; pid: number; jobId: string };
    assert.equal(holder.pid, d1.proc.pid);
    assert.match(
      refused.json.error as string,
      new RegExp(`^cannot start SplitClone on ks/0: shard ks/(-80|0|80-) is locked by job ${holder.jobId} \\(pid ${d1.proc.pid} on ${holder.host}, since `),
    );
    assert.equal((await topo.locks.holder('shard ks/80-'))?.jobId, holder.jobId, 'the destinations are locked too');
    // Which daemon holds what: on /api/status and /status.
    const running = (await api(d1, 'GET', '/api/status')).json as unknown as StatusSnapshot;
    assert.deepEqual(running.locks, { names: ['shard ks/-80', 'shard ks/0', 'shard ks/80-'], holder });
    const page = await (await fetch(d1.url + '/status')).text();
    assert.ok(
      page.includes(`<dd id="locks">shard ks/-80, shard ks/0, shard ks/80- (this daemon: pid ${d1.proc.pid} on ${holder.host})</dd>`),
      'the status page names the locks',
    );

    // Other shards: accepted while the first job holds its own, and both copy at once.
    await sql(side.dest, `DROP DATABASE IF EXISTS ${SIDE_DB}; DROP DATABASE IF EXISTS _vt`);
    await sql(c.dests[2], `DROP DATABASE IF EXISTS ${SIDE_DB}; DROP DATABASE IF EXISTS _vt`);
    const sideJob = await api(d2, 'POST', '/api/jobs', { command: 'SplitClone', keyspace: 'ks2', shard: '0', options: SLOW });
    assert.equal(sideJob.status, 202, JSON.stringify(sideJob.json));
    await waitFor(d2, (s) => s.totals.rowsCopied > 0 || ended(s));
    const first = (await api(d1, 'GET', '/api/status')).json as unknown as StatusSnapshot;
    assert.equal(first.state, 'copying the data', 'both jobs copy at the same time');
    assert.equal((await topo.locks.holder('shard ks2/0'))?.pid, d2.proc.pid);

    const leader = await etcdLeader();
    await killEtcdMember(leader);
    try {
      for (const d of [d1, d2]) {
        const s = await waitFor(d, ended);
        assert.equal(s.state, 'done', s.error ?? '');
      }
    } finally {
      await restartEtcdMember(leader);
    }
    await assertByteExact(c.rdonly, [c.dests[0], c.dests[1]], DB);
    await assertByteExact(side.rdonly, [side.dest, c.dests[2]], SIDE_DB);
    assert.equal((await topo.read()).tablets['zone1-101'].type, 'rdonly');
    assert.equal((await replicationStatus(c.rdonly)).running, true);

    // Ended: their locks are given back.
    assert.equal(await topo.locks.holder('shard ks/0'), undefined);
    assert.equal(await topo.locks.holder('shard ks2/-80'), undefined);
    assert.equal((await api(d1, 'POST', '/api/reset')).status, 200);
    assert.equal((await api(d2, 'POST', '/api/reset')).status, 200);
    await sql(c.dests[2], `DROP DATABASE IF EXISTS ${SIDE_DB}; DROP DATABASE IF EXISTS _vt`);
  });

  test("a daemon that loses its lease (frozen past the TTL) aborts its job: its shards may be someone else's", async () => {
    const [d1] = daemons;
    await resetDestinations(c, DB);
    assert.equal((await api(d1, 'POST', '/api/jobs', { ...CLONE, options: SLOW })).status, 202);
    await waitFor(d1, (s) => s.totals.rowsCopied > 0);
    d1.proc.kill('SIGSTOP');
    try {
      const frozenAt = Date.now();
      while (await topo.locks.holder('shard ks/0')) {
        assert.ok(Date.now() - frozenAt < (LEASE_TTL + 5) * 1000, 'the frozen daemon still holds ks/0');
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      d1.proc.kill('SIGCONT');
    }
    const s = await waitFor(d1, ended);
    assert.equal(s.state, 'error');
    assert.match(s.error ?? '', /lost this process's lease/);
    assert.equal((await topo.read()).tablets['zone1-101'].type, 'rdonly', 'cleanup still ran');
    assert.equal((await replicationStatus(c.rdonly)).running, true);
    assert.equal((await api(d1, 'POST', '/api/reset')).status, 200);
  });

  test('a daemon killed mid-job: its locks are free once its lease expires', async () => {
    const [d1, d2] = daemons;
    await resetDestinations(c, DB);
    assert.equal((await api(d1, 'POST', '/api/jobs', { ...CLONE, options: SLOW })).status, 202);
    await waitFor(d1, (s) => s.totals.rowsCopied > 0);
    d1.proc.kill('SIGKILL');
    await d1.exited;
    const killedAt = Date.now();
    assert.equal(
      (await api(d2, 'POST', '/api/jobs', { command: 'SplitDiff', keyspace: 'ks', shard: '-80', options: {} })).status,
      409,
      'held until the lease expires',
    );
    for (;;) {
      if (!(await topo.locks.holder('shard ks/0'))) break;
      assert.ok(Date.now() - killedAt < (LEASE_TTL + 5) * 1000, 'the dead daemon still holds ks/0');
      await new Promise((r) => setTimeout(r, 100));
    }
    // The dead job left its source tablet taken: give it back as an operator would.
    const recovered = await run(process.execPath, [BIN, '--topo', spec, 'recover', 'ks/0']);
    assert.match(recovered.stdout, /zone1-101/);
    assert.equal((await replicationStatus(c.rdonly)).running, true);
    assert.equal((await topo.read()).tablets['zone1-101'].type, 'rdonly');
    await sql(c.dests[0], 'SELECT 1');
  });
});
