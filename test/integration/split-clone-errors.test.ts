// Bad input and unusable targets: a clear error naming the bad thing, a non-zero exit, the source as it was.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { replicationStatus } from '../../src/sandbox/index.ts';
import { onSource, readTopologyFile, resetDestinations, runJob, sql, tempFile, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';

const DB = 't_errors';
const BIN = new URL('../../bin/shardworker.js', import.meta.url).pathname;

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('SplitClone refuses bad input', () => {
  let c: TestCluster;
  let topo: string;
  const layout = () => ({
    keyspace: 'ks',
    sources: [{ shard: '0', dbName: DB }],
    destinations: [
      { shard: '-80', instance: 0, dbName: DB },
      { shard: '80-', instance: 1, dbName: DB },
    ],
  });

  before(async () => {
    c = await testCluster();
    await onSource(
      c,
      `DROP DATABASE IF EXISTS ${DB}; CREATE DATABASE ${DB}; USE ${DB};
      CREATE TABLE good (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL);
      INSERT INTO good SELECT seq, seq * 1000000007 FROM seq_1_to_100;
      CREATE TABLE no_ksid (id INT PRIMARY KEY, name VARCHAR(10));
      INSERT INTO no_ksid VALUES (1, 'a');`,
    );
  });

  async function assertSourceUntouched(file: string) {
    const after = await readTopologyFile(file);
    assert.equal(after.tablets['zone1-101'].type, 'rdonly');
    assert.equal((await replicationStatus(c.rdonly)).running, true);
    assert.equal(Number((await sql(c.primary, `SELECT COUNT(*) AS n FROM ${DB}.good`))[0].n), 100);
  }

  test('unknown keyspace, unknown shard', async () => {
    topo = writeTopology(c, layout());
    let s = await runJob(topo, { command: 'SplitClone', keyspace: 'nope', shard: '0', options: {} });
    assert.equal(s.state, 'error');
    assert.match(s.error!, /nope/);
    s = await runJob(topo, { command: 'SplitClone', keyspace: 'ks', shard: '40-', options: {} });
    assert.equal(s.state, 'error');
    assert.match(s.error!, /40-/);
  });

  test('destinations that do not cover the source range', async () => {
    const file = writeTopology(c, { ...layout(), destinations: [{ shard: '-80', instance: 0, dbName: DB }] });
    const s = await runJob(file, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} });
    assert.equal(s.state, 'error');
    assert.match(s.error!, /gap|cover/);
    assert.match(s.error!, /80/);
    assert.equal((await readTopologyFile(file)).tablets['zone1-101'].type, 'rdonly');
  });

  test('a table without the sharding column is named, and the source tablet is given back', async () => {
    await resetDestinations(c, DB);
    const file = writeTopology(c, layout());
    const s = await runJob(file, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} });
    assert.equal(s.state, 'error');
    assert.match(s.error!, /no_ksid/);
    assert.match(s.error!, /keyspace_id/);
    await assertSourceUntouched(file);
  });

  test('no healthy rdonly tablet: not replicating, or unreachable', async () => {
    const file = writeTopology(c, layout());
    const raw = JSON.parse(readFileSync(file, 'utf8'));
    raw.tablets['zone1-101'].port = c.dests[2].port; // a server that replicates from nothing
    writeFileSync(file, JSON.stringify(raw));
    let s = await runJob(file, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} });
    assert.equal(s.state, 'error');
    assert.match(s.error!, /no healthy rdonly tablet in ks\/0/);
    assert.match(s.error!, /zone1-101/);
    raw.tablets['zone1-101'].port = 1; // nothing listens there
    writeFileSync(file, JSON.stringify(raw));
    s = await runJob(file, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} });
    assert.equal(s.state, 'error');
    assert.match(s.error!, /no healthy rdonly tablet in ks\/0/);
    assert.equal((await readTopologyFile(file)).tablets['zone1-101'].type, 'rdonly');
  });

  test('an unreachable destination primary', async () => {
    const file = writeTopology(c, layout());
    const raw = JSON.parse(readFileSync(file, 'utf8'));
    raw.tablets['zone1-300'].port = 1;
    writeFileSync(file, JSON.stringify(raw));
    const s = await runJob(file, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: { excludeTables: ['no_ksid'] } });
    assert.equal(s.state, 'error');
    assert.match(s.error!, /80-/);
    await assertSourceUntouched(file);
  });

  test('CLI: unknown strategy flag, unknown option, malformed topology, exit codes', async () => {
    const file = writeTopology(c, layout());
    let r = cli(['--topo', `file:${file}`, '--port', '0', 'run', 'SplitClone', '--strategy', '-populate_blp_checkpoint -frobnicate', 'ks/0']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown strategy flag "-frobnicate"/);
    r = cli(['--topo', `file:${file}`, '--port', '0', 'run', 'SplitClone', '--chunk-size', '3', 'ks/0']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown option --chunk-size/);
    r = cli(['--topo', `file:${file}`, '--port', '0', 'run', 'SplitClone', '--source-reader-count', 'many', 'ks/0']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--source-reader-count/);
    const bad = tempFile('topo.json', '{"keyspaces": {"ks": {"shards": {"zz": {}}}}, "tablets": {}}');
    r = cli(['--topo', `file:${bad}`, '--port', '0', 'run', 'SplitClone', 'ks/0']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /topo\.json/);
    assert.match(r.stderr, /zz/);
    const broken = tempFile('topo.json', '{"keyspaces": ');
    r = cli(['--topo', `file:${broken}`, '--port', '0', 'run', 'SplitClone', 'ks/0']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /invalid JSON/);
    // a failing job exits 1 with the reason on stderr
    r = cli(['--topo', `file:${file}`, '--port', '0', '--log-level', 'silent', 'run', 'SplitClone', 'ks/0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no_ksid/);
    assert.match(r.stdout, /status page: http:\/\/127\.0\.0\.1:\d+\/status/);
    await assertSourceUntouched(file);
  });

  test('CLI: a successful run exits 0 and prints the status', async () => {
    await resetDestinations(c, DB);
    const file = writeTopology(c, layout());
    const r = cli(['--topo', `file:${file}`, '--port', '0', '--log-level', 'warn', 'run', 'SplitClone', '--exclude-tables', 'no_ksid', 'ks/0']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /SplitClone ks\/0: done/);
    assert.match(r.stdout, /good\s+done\s+100\/100/);
    const counts = await Promise.all([0, 1].map(async (i) => Number((await sql(c.dests[i], `SELECT COUNT(*) AS n FROM ${DB}.good`))[0].n)));
    assert.equal(counts[0] + counts[1], 100);
  });
});
