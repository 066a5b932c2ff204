// With the default counts, a table's rows reach each destination in primary-key order: one reader per table reads
// its chunks in order and one lane per (table, destination) writes its batches in order (docs/performance.md). The
// destinations' own binlogs (ROW format, in the sandbox) are the witness: the order of their row events is the order
// the rows were inserted.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Endpoint } from '../../src/sandbox/index.ts';
import { onSource, resetDestinations, runJob, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';

const run = promisify(execFile);
const db = 't_key_order';

/** Where `at`'s binlog ends now: rows written later are after it. */
async function binlogEnd(at: Endpoint): Promise<{ file: string; pos: number }> {
  const [s] = await sql(at, 'SHOW MASTER STATUS');
  return { file: String(s.File), pos: Number(s.Position) };
}

/** The first column (`@1`, the key here) of every row inserted into `db`.`table` on `at` since `from`, in binlog order. */
async function insertedKeys(at: Endpoint, from: { file: string; pos: number }, table: string): Promise<number[]> {
  const logs = await sql(at, 'SHOW BINARY LOGS');
  const files = logs.map((l) => String(l.Log_name)).filter((f) => f >= from.file);
  const { stdout } = await run(
    'mariadb-binlog',
    [
      '--read-from-remote-server',
      '--host=127.0.0.1',
      `--port=${at.port}`,
      '--user=root',
      '--base64-output=decode-rows',
      '--verbose',
      `--start-position=${from.pos}`,
      ...files,
    ],
    { maxBuffer: 512 * 1024 * 1024 },
  );
  const keys: number[] = [];
  let inTable = false;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('### INSERT INTO ')) inTable = line === `### INSERT INTO \`${db}\`.\`${table}\``;
    else if (inTable && line.startsWith('###   @1=')) {
      keys.push(Number(line.slice('###   @1='.length)));
      inTable = false;
    }
  }
  return keys;
}

function outOfOrder(keys: number[]): number {
  let n = 0;
  for (let i = 1; i < keys.length; i++) if (keys[i] <= keys[i - 1]) n++;
  return n;
}

describe('rows reach each destination in key order', () => {
  let c: TestCluster;
  before(async () => {
    c = await testCluster();
    // Two tables copied at once, each of many chunks; keyspace ids unrelated to the keys, so both destinations get
    // keys from the whole range.
    await onSource(
      c,
      `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db};
      CREATE TABLE a (id BIGINT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, v VARCHAR(40) NOT NULL, KEY v (v));
      INSERT INTO a SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), MD5(seq) FROM seq_1_to_20000;
      CREATE TABLE b (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, v INT NOT NULL);
      INSERT INTO b SELECT seq * 3, CAST(CONV(SUBSTRING(MD5(seq * 3),1,16),16,10) AS UNSIGNED), seq FROM seq_1_to_15000;`,
    );
  });

  for (const writeMethod of ['auto', 'load-data'] as const) {
    test(`default counts, ${writeMethod} writes: every table's keys arrive ascending on every destination`, async () => {
      await resetDestinations(c, db);
      const topo = writeTopology(c, {
        keyspace: 'ks',
        sources: [{ shard: '0', dbName: db }],
        destinations: [
          { shard: '-80', instance: 0, dbName: db },
          { shard: '80-', instance: 1, dbName: db },
        ],
      });
      const dests = c.dests.slice(0, 2);
      const from = await Promise.all(dests.map(binlogEnd));
      // Small chunks and batches: many of each per table, so that order between them is what is tested.
      const final = await runJob(topo, {
        command: 'SplitClone',
        keyspace: 'ks',
        shard: '0',
        options: { writeMethod, minTableSizeForSplit: 0, minRowsPerChunk: 1000, writeQueryMaxSize: 16 * 1024 },
      });
      assert.equal(final.state, 'done', final.error ?? '');
      // About 20 (the chunk count follows InnoDB's row estimate, which varies by a few percent).
      const chunks = final.tables.find((t) => t.name === 'a')?.chunksTotal ?? 0;
      assert.ok(chunks >= 10, `a: ${chunks} chunks`);
      for (const [table, total] of [
        ['a', 20000],
        ['b', 15000],
      ] as const) {
        let seen = 0;
        for (const [i, d] of dests.entries()) {
          const keys = await insertedKeys(d, from[i], table);
          seen += keys.length;
          assert.ok(keys.length > 1000, `${table} on destination ${i}: ${keys.length} rows in its binlog`);
          assert.equal(outOfOrder(keys), 0, `${table} on destination ${i}: keys out of order`);
        }
        assert.equal(seen, total, `${table}: every row inserted once`);
      }
    });
  }
});
