// Stream ownership on etcd (DESIGN.md "Many daemons", docs/many-daemons.md "Stream ownership"): two real
// `shardworker serve --topo etcd://…` daemons on the suite's three-member etcd, a SplitClone 1→3 whose streams run
// under a write load. One daemon runs every stream (it holds each stream's lock on its lease); the other shows them
// as `elsewhere`, naming the owner, and refuses to stop them (409). The owner is SIGKILLed: within the lease TTL the
// other takes every stream and resumes it from its checkpoint; once the load stops and the streams reach the
// source's position, every destination table equals the source's key range byte for byte, and the API and the
// page name the new owner. Then the new owner is frozen (SIGSTOP) past its lease: a third daemon takes the streams;
// woken, the frozen one stops them (lost lease) and shows them elsewhere; the destinations stay exact.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { StreamSnapshot } from '../../src/stream/status.ts';
import { openTopology, type TopologyServer } from '../../src/topology/server.ts';
import { streamLockName } from '../../src/topology/coordination.ts';
import type { StatusSnapshot } from '../../src/worker/status.ts';
import { api, BIN, startDaemon, type Daemon } from '../helpers/daemon.ts';
import { resetDestinations, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { freshEtcdSpec } from '../helpers/etcd.ts';
import { sleep, until } from '../helpers/faults.ts';
import { assertSplitExact, reached, sourcePosition } from '../helpers/stream-exact.ts';
import { WriteLoad } from '../helpers/write-load.ts';

const DB = 'st_owner';
const SHARDS = ['-55', '55-aa', 'aa-'];
const LEASE_TTL = 3;
const run = promisify(execFile);

function startServe(spec: string): Promise<Daemon> {
  return startDaemon(['serve', '--topo', spec, '--port', '0', '--log-level', 'warn']);
}

async function streamsOf(d: Daemon): Promise<StreamSnapshot[]> {
  return ((await api(d, 'GET', '/api/status')).json as unknown as StatusSnapshot & { streams?: StreamSnapshot[] }).streams ?? [];
}

/** Every one of the three streams runs in `owner` (here on `d` when `d` is the owner, elsewhere otherwise). */
function ownedBy(streams: StreamSnapshot[], owner: Daemon, d: Daemon): boolean {
  const here = owner === d;
  return (
    streams.length === SHARDS.length
    && streams.every((s) => s.owner?.pid === owner.proc.pid && s.owner?.here === here && s.state === (here ? 'running' : 'elsewhere'))
  );
}

describe('stream ownership on etcd', () => {
  let c: TestCluster;
  let spec: string;
  let topo: TopologyServer;
  const daemons: Daemon[] = [];
  let load: WriteLoad;

  before(async () => {
    c = await testCluster();
    await resetDestinations(c, DB);
    load = new WriteLoad(c.primary, DB, 31);
    await load.seed(1000, c.rdonly);
    const file = writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: DB }],
      destinations: SHARDS.map((shard, instance) => ({ shard, instance, dbName: DB })),
    });
    spec = freshEtcdSpec(`?lease-ttl=${LEASE_TTL}`);
    await run(process.execPath, [BIN, '--topo', spec, 'topo', 'import', file]);
    topo = await openTopology(spec);
    daemons.push(await startServe(spec), await startServe(spec));
  });

  after(async () => {
    await load?.stop();
    for (const d of daemons) if (d.proc.exitCode === null) d.proc.kill('SIGKILL');
    await topo?.close();
  });

  test('one daemon runs the streams, the other shows them elsewhere; the owner SIGKILLed, the other takes them over within the TTL and they stay exact', async (t) => {
    const [d1, d2] = daemons;
    load.start(1);
    const clone = await api(d1, 'POST', '/api/jobs', { command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} });
    assert.equal(clone.status, 202, JSON.stringify(clone.json));
    await until(
      'the clone ends',
      async () => ['done', 'error', 'canceled'].includes(((await api(d1, 'GET', '/api/status')).json as unknown as StatusSnapshot).state),
      120_000,
    );
    assert.equal(((await api(d1, 'GET', '/api/status')).json as unknown as StatusSnapshot).state, 'done');

    // The daemon that ran the clone takes its streams at once; the other sees them at its next topology read.
    await until('d1 runs every stream', async () => ownedBy(await streamsOf(d1), d1, d1), 20_000);
    await until('d2 shows every stream as run by d1', async () => ownedBy(await streamsOf(d2), d1, d2), 20_000);
    const lock = await topo.locks.holder(streamLockName('ks', '-55', 0));
    assert.equal(lock?.pid, d1.proc.pid, 'the lock is on d1');
    const refused = await api(d2, 'POST', '/api/streams/stop', { keyspace: 'ks', shard: '-55' });
    assert.equal(refused.status, 409);
    assert.match(
      refused.json.error as string,
      new RegExp(`^stream ks/0 -> ks/-55 runs in the daemon with pid ${d1.proc.pid} on \\S+ \\(since [^)]+\\); stop or start it there$`),
    );
    const page = await (await fetch(d2.url + '/status')).text();
    assert.ok(page.includes(`<td class="s-owner">pid ${d1.proc.pid} on ${lock!.host}</td>`), 'the page names the owner');
    assert.ok((await fetch(d1.url + '/status').then((r) => r.text())).includes(`<td class="s-owner">pid ${d1.proc.pid} on ${lock!.host} (this daemon)</td>`));

    await sleep(1500); // the streams carry the load for a while
    d1.proc.kill('SIGKILL');
    await d1.exited;
    const killedAt = Date.now();
    await until('d2 runs every stream', async () => ownedBy(await streamsOf(d2), d2, d2), (LEASE_TTL + 5) * 1000);
    const tookOver = Date.now() - killedAt;
    assert.ok(tookOver < (LEASE_TTL + 4) * 1000, `taken over ${tookOver} ms after the kill`);
    t.diagnostic(`streams taken over ${tookOver} ms after the owner was killed (lease TTL ${LEASE_TTL} s)`);
    assert.equal((await topo.locks.holder(streamLockName('ks', 'aa-', 0)))?.pid, d2.proc.pid);

    await sleep(1500);
    await load.stop();
    assert.deepEqual(load.errors, []);
    const target = await sourcePosition(c.primary);
    await until(
      `streams at ${target}`,
      async () => {
        const streams = await streamsOf(d2);
        if (streams.some((s) => s.state === 'error')) throw new Error(`stream in error: ${streams.map((s) => s.lastError).join('; ')}`);
        return streams.every((s) => reached(s.position, target));
      },
      120_000,
    );
    await assertSplitExact(c.primary, c.dests, SHARDS, DB);
    assert.ok(
      (await streamsOf(d2)).every((s) => s.owner?.pid === d2.proc.pid && s.owner?.here === true),
      'the API names the new owner',
    );

    // Stopping and starting still works on the owner.
    const stopped = await api(d2, 'POST', '/api/streams/stop', { keyspace: 'ks', shard: '55-aa' });
    assert.equal(stopped.status, 200, JSON.stringify(stopped.json));
    assert.deepEqual(
      (stopped.json.streams as StreamSnapshot[]).map((s) => [s.state, s.owner?.pid]),
      [['stopped', d2.proc.pid]],
    );
    const started = await api(d2, 'POST', '/api/streams/start', { keyspace: 'ks', shard: '55-aa' });
    assert.deepEqual(
      (started.json.streams as StreamSnapshot[]).map((s) => s.state),
      ['running'],
    );
    assert.doesNotMatch(d2.log(), /"level":50/, 'd2 logged no error');
  });

  test('an owner frozen past its lease: another daemon takes its streams; woken, it stops them; still exact', async () => {
    const d2 = daemons[1];
    const d3 = await startServe(spec);
    daemons.push(d3);
    await until('d3 shows every stream as run by d2', async () => ownedBy(await streamsOf(d3), d2, d3), 20_000);
    load.start(1);
    await sleep(1000);
    d2.proc.kill('SIGSTOP');
    try {
      await until('d3 runs every stream', async () => ownedBy(await streamsOf(d3), d3, d3), (LEASE_TTL + 8) * 1000);
      await sleep(1000);
    } finally {
      d2.proc.kill('SIGCONT');
    }
    await until('d2, woken, shows every stream as run by d3', async () => ownedBy(await streamsOf(d2), d3, d2), 20_000);
    assert.match(d2.log(), /lost the stream lock: stopping the stream/);
    await sleep(1000);
    await load.stop();
    assert.deepEqual(load.errors, []);
    const target = await sourcePosition(c.primary);
    await until(
      `streams at ${target}`,
      async () => {
        const streams = await streamsOf(d3);
        if (streams.some((s) => s.state === 'error')) throw new Error(`stream in error: ${streams.map((s) => s.lastError).join('; ')}`);
        return streams.every((s) => reached(s.position, target));
      },
      120_000,
    );
    await assertSplitExact(c.primary, c.dests, SHARDS, DB);
  });
});
