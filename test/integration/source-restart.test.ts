// The source tablet killed and started again mid-read (at the first attempt to read a chunk, by a hook: no sleep).
// A restarted replica starts replicating by itself; the job checks every new connection to it (snapshotGuard):
// with nothing new on the primary it is still at the snapshot, and the copy goes on to `done`, byte for byte; with
// writes on the primary it has moved, and the job fails naming both positions, its tablet given back.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { replicationStatus, waitForCatchUp, type InstanceSpec } from '../../src/sandbox/index.ts';
import { onSource, readTopologyFile, resetDestinations, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { assertHalvesExact, controller, instanceAt, kill, killAt, restart } from '../helpers/faults.ts';

const ROWS = 3000;
const OPTIONS = { minTableSizeForSplit: 0, minRowsPerChunk: 500, sourceReaderCount: 1 };

describe('the source tablet restarting mid-copy', () => {
  let c: TestCluster;
  let rdonly: InstanceSpec;
  const db = 't_src_restart';
  before(async () => {
    c = await testCluster();
    rdonly = await instanceAt(c.rdonly.port);
  });
  after(async () => {
    await restart(rdonly);
    await sql(c.rdonly, 'START SLAVE');
  });
  const topology = () =>
    writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: db }],
      destinations: [
        { shard: '-80', instance: 0, dbName: db },
        { shard: '80-', instance: 1, dbName: db },
      ],
    });
  // Reset per test: the second one writes on the source primary.
  const seed = `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db};
    CREATE TABLE t (id BIGINT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, body VARBINARY(64));
    INSERT INTO t SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), UNHEX(MD5(seq)) FROM seq_1_to_${ROWS};
    ANALYZE TABLE t;`;

  test('no writes on the primary: the read is retried, the tablet is still at the snapshot, the job ends done, byte-exact', async () => {
    await onSource(c, seed);
    await resetDestinations(c, db);
    const topoFile = topology();
    const fault = killAt(rdonly, 'zone1-101', /^reading t \(chunk 2\)$/);
    const jobs = await controller(topoFile, 60_000, fault.hook);
    await jobs.start({ command: 'SplitClone', keyspace: 'ks', shard: '0', options: OPTIONS });
    await jobs.settled();
    await fault.restarted();
    const final = jobs.snapshot();
    assert.equal(fault.hit(), 'reading t (chunk 2)');
    assert.equal(final.state, 'done', final.error ?? '');
    assert.ok((final.retries?.byTablet['zone1-101'] ?? 0) > 0, `retries: ${JSON.stringify(final.retries)}`);
    const lines = readFileSync(topoFile + '.log', 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(
      lines.some(
        (r) =>
          r.msg === 'read failed; resuming after the last row read'
          && r.tablet === 'zone1-101'
          && r.doing === 'reading t (chunk 2)'
          && r.table === 't'
          && r.chunk === 2,
      ),
    );
    // The status page's log line too.
    assert.ok(
      final.log.some((l) => /WARN read failed; resuming after the last row read table=t chunk=2 tablet=zone1-101 doing=reading t \(chunk 2\)/.test(l)),
      final.log.join('\n'),
    );
    await assertHalvesExact(c, db);
    assert.equal((await readTopologyFile(topoFile)).tablets['zone1-101'].type, 'rdonly');
    assert.equal((await replicationStatus(c.rdonly)).running, true);
  });

  test('writes on the primary and the replica replicating again by itself: the job fails naming the moved position, the tablet is given back', async () => {
    await onSource(c, seed);
    await resetDestinations(c, db);
    const topoFile = topology();
    let moved = '';
    const jobs = await controller(topoFile, 60_000, async (tablet, doing) => {
      if (moved || tablet !== 'zone1-101' || doing !== 'reading t (chunk 2)') return;
      moved = doing;
      await kill(rdonly);
      await sql(c.primary, `UPDATE \`${db}\`.t SET body = 'changed' WHERE id = 1`);
      // Started again, it replicates by itself (no skip-slave-start) and applies the change before the job reconnects.
      await restart(rdonly);
      await waitForCatchUp(c.primary, c.rdonly, 30_000);
    });
    await jobs.start({ command: 'SplitClone', keyspace: 'ks', shard: '0', options: OPTIONS });
    await jobs.settled();
    const final = jobs.snapshot();
    assert.equal(moved, 'reading t (chunk 2)');
    assert.equal(final.state, 'error');
    assert.match(
      final.error ?? '',
      /^source tablet zone1-101: it moved from the snapshot position MariaDB\/\S+ to MariaDB\/\S+ \(it restarted and replicated by itself\): the snapshot is gone/,
    );
    const [from, to] = /position (MariaDB\/\S+) to (MariaDB\/\S+) /.exec(final.error ?? '')!.slice(1);
    assert.notEqual(from, to);
    // Cleanup gave the tablet back: its type restored, replicating again.
    assert.equal((await readTopologyFile(topoFile)).tablets['zone1-101'].type, 'rdonly');
    assert.equal((await replicationStatus(c.rdonly)).running, true);
  });
});
