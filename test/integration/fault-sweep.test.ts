// The fault sweep: a SplitClone with --verify of a keyspace of several tables and a view, once per phase of the job,
// with a destination primary killed and started again in that phase (the phase chosen by a hook at the first
// statement of it, not by a sleep). Every run must end `done` with the destinations equal to the source byte for
// byte, the retry logged naming the tablet and what was being done, and counted.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { InstanceSpec } from '../../src/sandbox/index.ts';
import { onSource, resetDestinations, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { assertHalvesExact, controller, instanceAt, killAt, restart } from '../helpers/faults.ts';

const db = 't_sweep';
const TABLES = ['a', 'b', 'c'];

describe('fault sweep: a destination primary restarting in each phase of a SplitClone --verify', () => {
  let c: TestCluster;
  let dest0: InstanceSpec;
  before(async () => {
    c = await testCluster();
    dest0 = await instanceAt(c.dests[0].port);
    await onSource(
      c,
      `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db};
      CREATE TABLE a (id BIGINT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, body VARBINARY(200), note VARCHAR(40) CHARACTER SET utf8mb4, KEY note (note));
      INSERT INTO a SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), UNHEX(MD5(seq)), CONCAT('row ', seq, ' ✓') FROM seq_1_to_1200;
      CREATE TABLE b (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, v INT NOT NULL, KEY v (v));
      INSERT INTO b SELECT seq, CAST(CONV(SUBSTRING(MD5(seq + 7),1,16),16,10) AS UNSIGNED), seq % 7 FROM seq_1_to_600;
      CREATE TABLE c (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, d DATETIME(6) NULL);
      INSERT INTO c SELECT seq, CAST(CONV(SUBSTRING(MD5(seq + 11),1,16),16,10) AS UNSIGNED), IF(seq % 5, '2026-03-08 02:30:00.123456' + INTERVAL seq MINUTE, NULL) FROM seq_1_to_300;
      CREATE VIEW vb AS SELECT id, v FROM b;
      ANALYZE TABLE a, b, c;`,
    );
  });
  // A topology file per run: the job's log goes next to it.
  const topology = () =>
    writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: db }],
      destinations: [
        { shard: '-80', instance: 0, dbName: db },
        { shard: '80-', instance: 1, dbName: db },
      ],
    });
  after(async () => {
    await restart(dest0);
  });

  // Each phase by the first statement of it the destination zone1-200 is about to run.
  const phases: [string, RegExp][] = [
    ['tables being created', /^creating tables a to c$/],
    ['rows copying', /^writing rows into a \(chunk 1\)$/],
    ['chunk marks being written', /^writing _vt\.copy_state for b$/],
    ['a delayed ALTER running', /^adding delayed indexes to a$/],
    ['_vt.blp_checkpoint being written', /^writing _vt\.blp_checkpoint$/],
    ['the schema being compared', /^reading the table list$/],
    ['the verify diff reading', /^reading b to diff it$/],
  ];
  for (const [name, phase] of phases) {
    test(`killed and restarted while ${name}`, async () => {
      await resetDestinations(c, db);
      const fault = killAt(dest0, 'zone1-200', phase);
      const topoFile = topology();
      const jobs = await controller(topoFile, 60_000, fault.hook);
      await jobs.start({
        command: 'SplitClone',
        keyspace: 'ks',
        shard: '0',
        options: {
          verify: true,
          strategy: '-populate_blp_checkpoint -delay_secondary_indexes',
          minTableSizeForSplit: 0,
          minRowsPerChunk: 300,
          sourceReaderCount: 2,
          destinationWriterCount: 2,
          writeQueryMaxRows: 200,
        },
      });
      await jobs.settled();
      await fault.restarted();
      const final = jobs.snapshot();
      assert.equal(fault.hit() !== null, true, `the phase never came: ${phase}`);
      assert.equal(final.state, 'done', final.error ?? '');
      assert.ok((final.retries?.byTablet['zone1-200'] ?? 0) > 0, `retries: ${JSON.stringify(final.retries)}`);
      // The job's pino log names the tablet and what was being done on each retry.
      const retries = readFileSync(topoFile + '.log', 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((r) => r.tablet === 'zone1-200' && r.doing === fault.hit() && typeof r.attempt === 'number');
      assert.ok(retries.length > 0, `no retry logged for ${fault.hit()}`);
      for (const t of TABLES) await assertHalvesExact(c, db, t);
    });
  }
});
