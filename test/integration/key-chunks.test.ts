// SplitClone of tables keyed by a case-insensitive string, binary, DATETIME(6) and a composite (VARCHAR, INT) key,
// each cut into several chunks of its whole key: byte-exact (and --verify clean), a source read killed inside such
// a chunk resumes after its last row, and a worker killed mid-copy is finished by --resume, which redoes the
// unfinished chunks by deleting their key ranges.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { onSource, resetDestinations, rowsOnDestinations, runJob, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { controller, until } from '../helpers/faults.ts';
import { assertKeyTableExact, KEY_TABLES, keyTablesSql } from '../helpers/key-tables.ts';
import { ENDED_STATES } from '../../src/worker/status.ts';

const ROWS = 1500;
const CHUNKED = { minTableSizeForSplit: 0, minRowsPerChunk: 250 };
// Slow enough to be mid-copy for seconds: batches of 20 rows (insert) or 16 KiB (bulk, whose batches are cut by
// size only: at 1 MiB they copied the whole table within a second) at 60 statements a second per destination.
const SLOW = { writeMethod: 'insert', writeQueryMaxRows: 20, writeQueryMaxSize: 16384, maxTps: 60, sourceReaderCount: 1, destinationWriterCount: 1 };

describe('tables chunked on a non-integer key', () => {
  let c: TestCluster;
  const db = 't_key_clone';
  before(async () => {
    c = await testCluster();
    await onSource(c, keyTablesSql(db, ROWS));
  });
  // The killed reads' 48 MB table is not left for the files that run next.
  after(async () => {
    await onSource(c, 'DROP DATABASE IF EXISTS t_key_killed');
    await resetDestinations(c, 't_key_killed');
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
  const assertAllExact = async (at = db) => {
    for (const { name } of KEY_TABLES) await assertKeyTableExact(c, at, name);
  };

  test('SplitClone --verify: several chunks a table, every row copied once, byte for byte', async () => {
    await resetDestinations(c, db);
    const final = await runJob(topology(), { command: 'SplitClone', keyspace: 'ks', shard: '0', options: { ...CHUNKED, verify: true } });
    assert.equal(final.state, 'done', final.error ?? '');
    for (const { name } of KEY_TABLES) {
      const t = final.tables.find((x) => x.name === name)!;
      assert.ok(t.chunksTotal >= 3, `${name}: ${t.chunksTotal} chunks`);
      assert.equal(t.chunksDone, t.chunksTotal, name);
      assert.match(t.diff?.summary ?? '', /rows? checked, no differences$/, name);
    }
    await assertAllExact();
  });

  // Rows read as text (insert) and in the binary protocol (bulk): the cursor's key comes from either.
  for (const writeMethod of ['insert', 'bulk'])
    test(`a source read killed inside a chunk of the composite key resumes after the last row it read (${writeMethod})`, async () => {
      // A database of c alone: every plan is made before the kill (a plan's query is not retried here).
      const only = 't_key_killed';
      await onSource(c, keyTablesSql(only, 12000, ['c']));
      await resetDestinations(c, only);
      const topoFile = writeTopology(c, {
        keyspace: 'ks',
        sources: [{ shard: '0', dbName: only }],
        destinations: [
          { shard: '-80', instance: 0, dbName: only },
          { shard: '80-', instance: 1, dbName: only },
        ],
      });
      const jobs = await controller(topoFile, 60_000);
      await jobs.start({ command: 'SplitClone', keyspace: 'ks', shard: '0', options: { ...CHUNKED, minRowsPerChunk: 1500, ...SLOW, writeMethod } });
      // The read of c (one query that cuts its chunks as the rows come) once some chunks are copied, which the slow
      // writers hold back: 48 MB of rows, more than the writers' queues (8 MiB a destination) and the sockets hold,
      // so the server is blocked sending it and the kill lands inside a chunk after the first. Rarely the server has
      // sent the last row just before the KILL arrives and the read ends cleanly: then another read is killed,
      // until the job records a retry or ends.
      const killed = new Set<number>();
      const retried = () => (jobs.snapshot().retries?.byTablet['zone1-101'] ?? 0) > 0;
      const deadline = Date.now() + 60_000;
      while (!ENDED_STATES.has(jobs.snapshot().state) && !retried() && Date.now() < deadline) {
        const readers = await sql(
          c.rdonly,
          `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND STATE = 'Writing to net' AND INFO LIKE 'SELECT %FROM \`${only}\`.\`c\`%'`,
        );
        const reader = readers.map((r) => Number(r.id)).find((id) => !killed.has(id));
        if (reader !== undefined && jobs.snapshot().totals.rowsCopied > 2000) {
          killed.add(reader);
          await sql(c.rdonly, `KILL ${reader}`).catch(() => undefined); // gone already: the next one is tried
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(killed.size > 0, 'no read of c was seen in flight');
      // The kill is in: the rest may go at full speed.
      if (!ENDED_STATES.has(jobs.snapshot().state)) jobs.tune({ maxTps: 0 });
      await jobs.settled();
      const final = jobs.snapshot();
      assert.equal(final.state, 'done', final.error ?? '');
      assert.ok(final.tables[0].chunksTotal >= 3, `${final.tables[0].chunksTotal} chunks`);
      assert.ok((final.retries?.byTablet['zone1-101'] ?? 0) > 0, `retries: ${JSON.stringify(final.retries)}`);
      assert.ok(final.log.some((l) => /read failed; resuming after the last row read/.test(l)));
      // Exactly once: the chunk read again from its start would have hit duplicate keys (and failed the job).
      await assertKeyTableExact(c, only, 'c');
    });

  test('the worker SIGKILLed mid-copy, then --resume: finished chunks skipped, the others redone, exact', async () => {
    await resetDestinations(c, db);
    const topoFile = topology();
    const slow = [
      '--write-method',
      'insert',
      '--write-query-max-rows',
      '20',
      '--max-tps',
      '40',
      '--min-table-size-for-split',
      '0',
      '--min-rows-per-chunk',
      '250',
      '--source-reader-count',
      '2',
      '--destination-writer-count',
      '2',
    ];
    const child = spawn(
      process.execPath,
      ['bin/shardworker.js', '--topo', `file:${topoFile}`, '--port', '0', '--log-level', 'warn', 'run', 'SplitClone', ...slow, 'ks/0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const copied = async () => {
      let n = 0;
      for (const { name } of KEY_TABLES) {
        const exists = await sql(c.dests[0], 'SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [db, name]);
        if (Number(exists[0].n)) n += await rowsOnDestinations(c, db, name);
      }
      return n;
    };
    try {
      await until('rows copied by the child', async () => (await copied()) >= 2000, 90_000);
    } finally {
      child.kill('SIGKILL');
    }
    assert.equal(await exited, 'SIGKILL');
    const resumed = await runJob(topoFile, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: { resume: true, writeMethod: 'insert', ...CHUNKED } });
    assert.equal(resumed.state, 'done', resumed.error ?? '');
    assert.ok(resumed.log.some((l) => /resuming an interrupted copy/.test(l)));
    let copiedAgain = 0;
    for (const { name } of KEY_TABLES) {
      const t = resumed.tables.find((x) => x.name === name)!;
      assert.equal(t.chunksDone, t.chunksTotal, name);
      copiedAgain += t.rowsCopied;
    }
    assert.ok(copiedAgain < KEY_TABLES.length * ROWS, `the resumed job copied ${copiedAgain} rows: finished chunks were not skipped`);
    await assertAllExact();
  });
});
