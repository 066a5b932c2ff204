// A stream refuses a destination table with a trigger (applying the source's row events would fire it there: a
// BEFORE trigger rewrites the applied values, an AFTER trigger writes rows the source's binlog already carries):
// it stops in error naming the table and the trigger, and writes nothing, at session start and after a DDL it ran.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import pino from 'pino';
import { openTopology } from '../../src/topology/server.ts';
import { Stream, type StreamDeps } from '../../src/stream/stream.ts';
import { sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { until } from '../helpers/faults.ts';
import { binlogTable, insert, SyntheticBinlog } from '../helpers/synthetic-binlog.ts';

const SRC_DB = 'sttrig_src';
const DB = 'sttrig';
const t = binlogTable(SRC_DB, 't', ['id', 'keyspace_id', 'name']);
const LOW = 0x10n << 56n; // in -80

let c: TestCluster;
let topoFile: string;
const streams: Stream[] = [];

async function resetDestination(pos: string, extra = ''): Promise<void> {
  await sql(
    c.dests[0],
    `DROP DATABASE IF EXISTS ${DB}; DROP DATABASE IF EXISTS _vt; CREATE DATABASE ${DB}; USE ${DB};
    CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, name VARCHAR(40));
    CREATE TABLE audit (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, t_id BIGINT NOT NULL);
    ${extra}
    CREATE DATABASE _vt; CREATE TABLE _vt.blp_checkpoint (source_shard_uid INT UNSIGNED NOT NULL PRIMARY KEY, pos VARBINARY(64000), max_tps BIGINT NOT NULL,
      max_replication_lag BIGINT NOT NULL, time_updated BIGINT UNSIGNED NOT NULL, transaction_timestamp BIGINT UNSIGNED NOT NULL, flags VARBINARY(250));
    INSERT INTO _vt.blp_checkpoint VALUES (0, '${pos}', 9223372036854775807, 9223372036854775807, 0, 0, '')`,
  );
}

function startStream(binlog: SyntheticBinlog, extra: Partial<StreamDeps> = {}, tables: string[] = []): Promise<Stream> {
  return openTopology(`file:${topoFile}`).then((topo) => {
    const s = new Stream(
      { keyspace: 'ks', shard: '-80', source: { uid: 0, keyspace: 'ks', shard: '0', keyRange: '-', tables } },
      { topo, credentials: {}, openBinlog: binlog.open, log: pino({ level: 'silent' }), retryDuration: 20_000, ...extra },
    );
    streams.push(s);
    s.start();
    return s;
  });
}

async function state(): Promise<{ rows: unknown[]; audit: number; pos: string }> {
  return {
    rows: await sql(c.dests[0], `SELECT CAST(id AS CHAR) id, name FROM ${DB}.t ORDER BY id`),
    audit: Number((await sql(c.dests[0], `SELECT COUNT(*) n FROM ${DB}.audit`))[0].n),
    pos: String((await sql(c.dests[0], 'SELECT pos FROM _vt.blp_checkpoint WHERE source_shard_uid = 0'))[0].pos),
  };
}

describe('streams refuse destination tables with triggers', () => {
  before(async () => {
    c = await testCluster();
    topoFile = writeTopology(c, { keyspace: 'ks', sources: [{ shard: '0', dbName: SRC_DB }], destinations: [{ shard: '-80', instance: 0, dbName: DB }] });
  });
  beforeEach(async () => {
    for (const s of streams.splice(0)) await s.stop();
  });
  after(async () => {
    for (const s of streams.splice(0)) await s.stop();
    await sql(c.dests[0], `DROP DATABASE IF EXISTS ${DB}; DROP DATABASE IF EXISTS _vt`);
  });

  test('a trigger on a streamed table: the stream stops in error naming it, the destination unchanged', async () => {
    const binlog = new SyntheticBinlog();
    await resetDestination(
      binlog.position,
      `
      CREATE TRIGGER t_rewrite BEFORE INSERT ON t FOR EACH ROW SET NEW.name = 'rewritten';
      CREATE TRIGGER t_audit AFTER INSERT ON t FOR EACH ROW INSERT INTO audit (t_id) VALUES (NEW.id);`,
    );
    const start = binlog.position;
    binlog.transaction(insert(t, [1n, LOW, Buffer.from('one')]));
    binlog.transaction(insert(t, [2n, LOW, Buffer.from('two')]));
    const s = await startStream(binlog);
    await until('error', () => s.state === 'error');
    const message = s.snapshot().lastError ?? '';
    assert.match(message, /the streamed table t on .* has trigger t_audit \(AFTER INSERT\), and more \(t_audit on t, t_rewrite on t\)/);
    assert.match(message, /silent divergence/);
    assert.match(message, /drop them on the destination \(DROP TRIGGER\) and create them again at cutover/);
    assert.equal(s.snapshot().retries, 0, 'a refusal is final, not retried');
    assert.deepEqual(await state(), { rows: [], audit: 0, pos: start });
  });

  test('a trigger on a table the stream does not carry is no obstacle', async () => {
    const binlog = new SyntheticBinlog();
    await resetDestination(binlog.position, 'CREATE TRIGGER audit_bi BEFORE INSERT ON audit FOR EACH ROW SET NEW.t_id = NEW.t_id + 1;');
    const pos = binlog.transaction(insert(t, [1n, LOW, Buffer.from('one')]));
    // The entry narrows the streamed tables to `t`: `audit`'s trigger is not the stream's business.
    const s = await startStream(binlog, {}, ['t']);
    await until(`at ${pos} (${s.state}: ${s.snapshot().lastError})`, () => s.state !== 'error' && s.snapshot().position === pos);
    assert.deepEqual((await state()).rows, [{ id: '1', name: 'one' }]);
  });

  test('--on-ddl exec: a CREATE TRIGGER the stream ran stops it before the next change', async () => {
    const binlog = new SyntheticBinlog();
    await resetDestination(binlog.position);
    binlog.transaction(insert(t, [1n, LOW, Buffer.from('one')]));
    const afterDdl = binlog.ddl(SRC_DB, "CREATE TRIGGER t_late BEFORE INSERT ON t FOR EACH ROW SET NEW.name = 'late'");
    binlog.transaction(insert(t, [2n, LOW, Buffer.from('two')]));
    const s = await startStream(binlog, { onDdl: 'exec' });
    await until('error', () => s.state === 'error');
    assert.match(s.snapshot().lastError ?? '', /the streamed table t on .* has trigger t_late \(BEFORE INSERT\)/);
    assert.deepEqual(await state(), { rows: [{ id: '1', name: 'one' }], audit: 0, pos: afterDdl });
  });
});
