// Brings a real sandbox up in a temp dir, checks replication, topology and demo data, then tears it down.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import type { Topology } from '../../src/topology/types.ts';
import {
  MariadbMissingError,
  findFreePortBlock,
  instanceRunning,
  portInUse,
  replicationStatus,
  sandboxDown,
  sandboxStatus,
  sandboxUp,
  splitShardNames,
  tableRowCounts,
  waitForCatchUp,
  withConnection,
  type SandboxUpResult,
} from '../../src/sandbox/index.ts';

const ROWS = 2000;
let dir: string;
let basePort: number;
let up: SandboxUpResult;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'shardworker-sandbox-test-'));
  basePort = await findFreePortBlock(17400, 4);
  up = await sandboxUp({ dir, basePort, seedRows: ROWS, destinations: 2 });
});

after(async () => {
  // Whatever failed above, leave no mariadbd behind.
  if (dir) await sandboxDown(dir, { purge: true });
});

test('splitShardNames splits the range evenly on the first byte', () => {
  assert.deepEqual(splitShardNames(1), ['-']);
  assert.deepEqual(splitShardNames(2), ['-80', '80-']);
  assert.deepEqual(splitShardNames(3), ['-55', '55-aa', 'aa-']);
  assert.deepEqual(splitShardNames(4), ['-40', '40-80', '80-c0', 'c0-']);
  assert.throws(() => splitShardNames(0));
});

test('the missing-binary error says how to install mariadb', () => {
  assert.match(new MariadbMissingError('mariadbd').message, /apt-get install -y mariadb-server/);
});

test('sandboxUp seeds the primary and the rdonly replica catches up', async () => {
  assert.equal(up.seeded?.rows.customer, ROWS);
  const onPrimary = await tableRowCounts(up.instances.primary, 'commerce');
  const onReplica = await tableRowCounts(up.instances.rdonly, 'commerce');
  assert.deepEqual(onPrimary, { corder: ROWS, customer: ROWS, product: 100 });
  assert.deepEqual(onReplica, onPrimary);

  const repl = await replicationStatus(up.instances.rdonly);
  assert.equal(repl.running, true, `replication not running: ${repl.lastIoError || repl.lastSqlError}`);
  assert.equal(repl.masterPort, basePort);

  // A new write on the primary reaches the replica.
  await withConnection(up.instances.primary, (c) =>
    c.query("INSERT INTO commerce.product (product_id, keyspace_id, sku, name, price) VALUES (1000, 18446744073709551615, 'X', 'edge', 1)"),
  );
  await waitForCatchUp(up.instances.primary, up.instances.rdonly, 10_000);
  const ks = await withConnection(up.instances.rdonly, async (c) => {
    const [rows] = await c.query<RowDataPacket[]>('SELECT keyspace_id AS k FROM commerce.product WHERE product_id = 1000');
    return String(rows[0]?.k);
  });
  assert.equal(ks, '18446744073709551615');
});

test('keyspace ids spread over the whole uint64 range; the view exists', async () => {
  await withConnection(up.instances.primary, async (c) => {
    const [rows] = await c.query<RowDataPacket[]>('SELECT SUM(keyspace_id >= 9223372036854775808) AS high, COUNT(*) AS n FROM commerce.customer');
    const high = Number(rows[0]?.high) / Number(rows[0]?.n);
    assert.ok(high > 0.4 && high < 0.6, `upper half holds ${high} of the ids`);
    const [views] = await c.query<RowDataPacket[]>("SELECT TABLE_NAME AS t FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'commerce'");
    assert.deepEqual(
      views.map((v) => v.t),
      ['customer_emails'],
    );
  });
});

test('topology.json, credentials.json and status describe the four instances', async () => {
  const topo = JSON.parse(readFileSync(path.join(dir, 'topology.json'), 'utf8')) as Topology;
  assert.deepEqual(Object.keys(topo.tablets).sort(), ['zone1-100', 'zone1-101', 'zone1-200', 'zone1-300']);
  assert.equal(topo.tablets['zone1-100']?.port, basePort);
  assert.equal(topo.tablets['zone1-101']?.type, 'rdonly');
  assert.equal(topo.tablets['zone1-300']?.shard, '80-');
  const ks = topo.keyspaces.commerce!;
  assert.equal(ks.shardingColumnName, 'keyspace_id');
  assert.equal(ks.shardingColumnType, 'uint64');
  assert.deepEqual(ks.shards['0']?.servedTypes, ['primary', 'replica', 'rdonly']);
  assert.deepEqual(ks.shards['-80'], { servedTypes: [], sourceShards: [] });
  assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'credentials.json'), 'utf8')), { root: '' });

  const status = await sandboxStatus(dir);
  assert.equal(status.instances.length, 4);
  assert.ok(status.instances.every((i) => i.running));
  const rdonly = status.instances.find((i) => i.role === 'rdonly');
  assert.ok(rdonly?.replication && 'running' in rdonly.replication && rdonly.replication.running);
});

test('sandboxUp again reuses the running instances without re-seeding', async () => {
  const again = await sandboxUp({ dir, basePort });
  assert.equal(again.seeded, undefined);
  assert.equal(again.topologyWritten, false);
  assert.equal(again.instances.primary.pid, up.instances.primary.pid);
  assert.deepEqual(
    again.instances.destinations.map((d) => d.pid),
    up.instances.destinations.map((d) => d.pid),
  );
});

test('sandboxDown stops exactly the recorded instances', async () => {
  const all = [up.instances.primary, up.instances.rdonly, ...up.instances.destinations];
  const stopped = await sandboxDown(dir);
  assert.deepEqual(
    stopped.map((s) => s.stopped),
    [true, true, true, true],
  );
  for (const inst of all) {
    assert.equal(instanceRunning(inst), false, `${inst.name} still runs`);
    const cmdline = existsSync(`/proc/${inst.pid}/cmdline`) ? readFileSync(`/proc/${inst.pid}/cmdline`, 'utf8') : '';
    assert.ok(!cmdline.includes(inst.dataDir), `pid ${inst.pid} still runs on ${inst.dataDir}`);
    assert.equal(await portInUse(inst.port), false, `port ${inst.port} still open`);
  }
  const status = await sandboxStatus(dir);
  assert.ok(status.instances.every((i) => !i.running));
});
