// TabletClient against a real mariadbd: a statement whose connection is killed after it took effect is recognised on
// the repeat by its rule (duplicate key, the server's error, a check), a retry is logged and counted naming the
// tablet and what was being done, and without a policy (nothing changed yet) the first failure is final.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import type { TabletRef } from '../../src/mysql/connection.ts';
import { TabletLink, withTablet, type TabletClient } from '../../src/mysql/tablet-client.ts';
import { sql, testCluster, type TestCluster } from '../helpers/cluster.ts';
import { until } from '../helpers/faults.ts';

const db = 't_tablet_client';

describe('TabletClient', () => {
  let c: TestCluster;
  let ref: TabletRef;
  const counted: string[] = [];
  const logged: Record<string, unknown>[] = [];
  let link: TabletLink;
  let client: TabletClient;
  before(async () => {
    c = await testCluster();
    await sql(c.dests[2], `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; CREATE TABLE ${db}.k (id INT PRIMARY KEY, v INT, KEY v (v))`);
    ref = { alias: 'zone1-400', tablet: { keyspace: 'ks', shard: '-', type: 'primary', host: '127.0.0.1', port: c.dests[2].port, dbName: db, user: 'root' } };
    const log = pino({ level: 'info' }, { write: (line: string) => logged.push(JSON.parse(line) as Record<string, unknown>) });
    link = new TabletLink({
      ref,
      credentials: {},
      policy: () => ({ durationMs: 20_000, initialDelayMs: 50 }),
      signal: new AbortController().signal,
      log,
      counted: (t) => counted.push(t),
    });
    client = link.client(2);
  });
  after(async () => {
    await link.close();
    await sql(c.dests[2], `DROP DATABASE IF EXISTS ${db}`);
  });

  /** Runs `statement` then a SLEEP on one connection, and kills that connection during the sleep. */
  async function landedThenKilled(marker: string, statement: string, run: (sqlText: string) => Promise<unknown>): Promise<void> {
    const sleeping = run(`${statement}; SELECT SLEEP(30) AS '${marker}'`);
    let id = 0;
    await until('the statement landed and its connection sleeps', async () => {
      const rows = await sql(c.dests[2], `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE '%${marker}%' AND ID <> CONNECTION_ID()`);
      if (rows.length) id = Number(rows[0].id);
      return rows.length > 0;
    });
    await sql(c.dests[2], `KILL CONNECTION ${id}`);
    await sleeping;
  }

  test('an INSERT that landed before its connection died: the repeat meets its duplicate key and counts as done', async () => {
    counted.length = 0;
    await landedThenKilled('dup-marker', `INSERT INTO ${db}.k VALUES (1, 1)`, (text) =>
      client.query('writing k', text, undefined, { repeat: { kind: 'duplicate-key' } }),
    );
    assert.equal(Number((await sql(c.dests[2], `SELECT COUNT(*) AS n FROM ${db}.k`))[0].n), 1);
    assert.deepEqual(counted, ['zone1-400']);
    assert.ok(logged.some((r) => r.msg === 'statement failed; retrying' && r.tablet === 'zone1-400' && r.doing === 'writing k' && r.kind === 'connection'));
  });

  test('a CREATE TABLE that landed: the repeat meets "table exists" and counts as done', async () => {
    await landedThenKilled('create-marker', `CREATE TABLE ${db}.made (id INT PRIMARY KEY)`, (text) =>
      client.query('creating table made', text, undefined, { repeat: { kind: 'error', errnos: [1050] } }),
    );
    assert.equal((await sql(c.dests[2], `SHOW TABLES FROM ${db} LIKE 'made'`)).length, 1);
  });

  test('an ALTER that took effect is recognised by its check and not run again', async () => {
    let checks = 0;
    const landed = async () => {
      checks++;
      const keys = await client.query<unknown[]>('reading k', `SHOW INDEX FROM ${db}.k WHERE Key_name = 'w'`);
      return keys.length > 0;
    };
    await landedThenKilled('alter-marker', `ALTER TABLE ${db}.k ADD KEY w (v, id)`, (text) =>
      client.query('adding delayed indexes to k', text, undefined, { repeat: { kind: 'check', landed } }),
    );
    assert.equal(checks, 1);
    assert.ok(logged.some((r) => r.msg === 'an earlier attempt had taken effect' && r.doing === 'adding delayed indexes to k'));
  });

  test('without a policy (the job has changed nothing yet) an unreachable tablet fails at once, naming it', async () => {
    const started = Date.now();
    const nowhere: TabletRef = { alias: 'zone1-999', tablet: { ...ref.tablet, port: 1 } };
    await assert.rejects(
      withTablet(nowhere, {}, undefined, (cl) => cl.query('checking read_only', 'SELECT 1')),
      /checking read_only on zone1-999 \(127\.0\.0\.1:1\/t_tablet_client\): .*ECONNREFUSED/,
    );
    assert.ok(Date.now() - started < 5000);
  });

  test("a read-only refusal (1290, a failover): the shard's primary is looked up again and the statement runs there", async () => {
    const before = counted.length;
    const promoted: TabletRef = { alias: 'zone1-401', tablet: { ...ref.tablet, port: c.dests[1].port, dbName: '' } };
    const primary = new TabletLink({
      ref: { ...ref, tablet: { ...ref.tablet, dbName: '' } },
      credentials: {},
      policy: () => ({ durationMs: 20_000, initialDelayMs: 50 }),
      signal: new AbortController().signal,
      counted: (t) => counted.push(t),
      resolvePrimary: async () => promoted,
    });
    try {
      const cl = primary.client(1);
      // The old primary refuses (as a demoted one would); the new one answers with its port.
      const refuse = "SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1290, MESSAGE_TEXT = 'The MariaDB server is running with the --read-only option'";
      const rows = await cl.attempt('writing k', (ch) => ch.query<{ p: number }[]>('writing k', ch.ref.alias === 'zone1-400' ? refuse : 'SELECT @@port AS p'));
      assert.equal(Number(rows[0].p), c.dests[1].port);
      assert.equal(cl.ref.alias, 'zone1-401');
      assert.deepEqual(counted.slice(before), ['zone1-400']);
      // A tablet that is no shard's primary is not looked up again: read-only is final there.
      await assert.rejects(client.query('writing k', refuse), /read-only option/);
    } finally {
      await primary.close();
    }
  });
});
