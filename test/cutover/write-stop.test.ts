// How a cutover stops writes, on a real mariadbd, with an application user's transaction in flight: read_only (a
// horizontal split) ends the open write transaction, whose COMMIT then fails on the client (never acknowledged,
// never in the binlog); the deny triggers (a vertical split) wait for it to commit (acknowledged, and in the binlog
// before the position read after them), then refuse every application write to the table, while shardworker's own
// sessions and the other tables write on; an open transaction past the timeout fails the step.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mysql, { type Connection } from 'mysql2/promise';
import { TabletLink, type TabletClient } from '../../src/mysql/tablet-client.ts';
import { allowTableWrites, binlogPosition, denyTableWrites, denyTriggerName, denyWritesSql, setReadOnly, stopWrites } from '../../src/mysql/write-control.ts';
import { sql, testCluster, type TestCluster } from '../helpers/cluster.ts';
import { positionOf } from '../helpers/cutover.ts';
import { APP_USER, createAppUser } from '../helpers/routed-load.ts';

const DB = 'cut_wstop';
let c: TestCluster;
let client: TabletClient;
let at: { port: number };

function appConn(): Promise<Connection> {
  return mysql.createConnection({ host: '127.0.0.1', port: at.port, user: APP_USER, password: '', database: DB });
}

async function refusal(p: Promise<unknown>): Promise<string | null> {
  return p.then(
    () => null,
    (err: unknown) => String((err as { code?: string }).code ?? (err as Error).message),
  );
}

describe('stopping writes for a cutover', () => {
  before(async () => {
    c = await testCluster();
    at = c.dests[2];
    await createAppUser([at]);
    await sql(
      at,
      `SET GLOBAL read_only = 0; DROP DATABASE IF EXISTS \`${DB}\`; CREATE DATABASE \`${DB}\`; CREATE TABLE \`${DB}\`.moved (id INT PRIMARY KEY, v VARCHAR(10)); CREATE TABLE \`${DB}\`.stays (id INT PRIMARY KEY)`,
    );
    const ref = {
      alias: 'zone1-990',
      tablet: { keyspace: 'ks', shard: '0', type: 'primary' as const, host: '127.0.0.1', port: at.port, dbName: DB, user: 'root' },
    };
    client = new TabletLink({ ref, credentials: {}, policy: () => null, signal: new AbortController().signal, counted: () => {} }).client(3, false);
  });

  after(async () => {
    await sql(at, `SET GLOBAL read_only = 0; DROP DATABASE IF EXISTS \`${DB}\``);
    await client.close();
  });

  test('read_only ends a write transaction in flight: its COMMIT fails, the row is nowhere', async () => {
    const app = await appConn();
    await app.query('BEGIN');
    await app.query("INSERT INTO moved VALUES (1, 'inflight')");
    const { killed } = await stopWrites(client, { graceMs: 200, timeoutMs: 5000 });
    assert.equal(killed, 1);
    assert.notEqual(await refusal(app.query('COMMIT')), null, 'the COMMIT of the ended transaction fails on the client');
    await app.end().catch(() => {});
    const later = await appConn();
    assert.equal(await refusal(later.query("INSERT INTO moved VALUES (2, 'after')")), 'ER_OPTION_PREVENTS_STATEMENT');
    await later.end();
    assert.deepEqual(await sql(at, `SELECT id FROM \`${DB}\`.moved`), []);
    await setReadOnly(client, false);
  });

  test('deny triggers wait for the open transaction, then refuse application writes to that table alone', async () => {
    const app = await appConn();
    await app.query('BEGIN');
    await app.query("INSERT INTO moved VALUES (3, 'inflight')");
    const denying = denyTableWrites(client, ['moved'], 'shardworker: table moved to dst/0 (MigrateServedTypes); write it there', 5000);
    await new Promise((r) => setTimeout(r, 300));
    await app.query('COMMIT');
    const committed = await positionOf(at.port);
    await denying;
    const position = await binlogPosition(client, 'MariaDB');
    assert.equal(position, committed, 'the acknowledged write is in the binlog before the position read after the triggers');
    assert.equal(await refusal(app.query("INSERT INTO moved VALUES (4, 'late')")), 'ER_SIGNAL_EXCEPTION');
    assert.match(
      (await app.query('UPDATE moved SET v = NULL').catch((e: Error) => e.message)) as string,
      /table moved to dst\/0 \(MigrateServedTypes\); write it there/,
    );
    assert.equal(await refusal(app.query('DELETE FROM moved')), 'ER_SIGNAL_EXCEPTION');
    await app.query('INSERT INTO stays VALUES (1)');
    // shardworker's own sessions (the streams) pass.
    await client.query('a stream write', `INSERT INTO \`${DB}\`.moved VALUES (5, 'stream')`);
    assert.deepEqual(
      (await sql(at, `SELECT id FROM \`${DB}\`.moved ORDER BY id`)).map((r) => r.id),
      [3, 5],
    );
    assert.equal((await positionOf(at.port)) !== position, true, 'the triggers are not binlogged, the writes after them are');
    const triggers = await sql(at, 'SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY 1', [DB]);
    assert.deepEqual(
      triggers.map((r) => r.n),
      ['_sw_deny_d_moved', '_sw_deny_i_moved', '_sw_deny_u_moved'],
    );
    await allowTableWrites(client, ['moved']);
    await app.query("INSERT INTO moved VALUES (6, 'again')");
    await app.end();
  });

  test('an open transaction past the timeout fails the step; nothing is left refusing', async () => {
    const app = await appConn();
    await app.query('BEGIN');
    await app.query("INSERT INTO moved VALUES (7, 'long')");
    const failed = await refusal(denyTableWrites(client, ['moved'], 'moved', 1000));
    assert.match(failed ?? 'no error', /Lock wait timeout/);
    await allowTableWrites(client, ['moved']);
    await app.query('COMMIT');
    await app.query("INSERT INTO moved VALUES (8, 'fine')");
    await app.end();
  });

  test('the trigger text: quoted names, the message cut to 128 characters, a hashed name for a long table', () => {
    assert.equal(
      denyWritesSql('d`b', "t'1", "it's moved")[0],
      "CREATE OR REPLACE TRIGGER `d``b`.`_sw_deny_i_t'1` BEFORE INSERT ON `d``b`.`t'1` FOR EACH ROW BEGIN IF @shardworker IS NULL THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'it\\'s moved'; END IF; END",
    );
    assert.match(denyWritesSql('db', 't', 'x'.repeat(200))[2], new RegExp(`BEFORE DELETE ON \`db\`.\`t\` .* MESSAGE_TEXT = '${'x'.repeat(128)}';`));
    const long = denyTriggerName('t'.repeat(60), 'UPDATE');
    assert.match(long, /^_sw_deny_u_[0-9a-f]{40}$/);
    assert.ok(long.length <= 64);
  });
});
