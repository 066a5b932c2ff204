// The binlog reader against a real mariadbd: changes made to the type-torture table (inserts, updates, deletes,
// multi-row and multi-statement transactions, a DDL) read back from a GTID position and written into a twin table
// with binlogValueLiteral, which must then equal the original byte for byte; positions that resume exactly; idle
// heartbeats; abort and close; the settings refused by name; a restarted server as a `connection` failure.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import pino from 'pino';
import type { Connection } from 'mysql2/promise';
import type { TabletRef } from '../../../src/mysql/connection.ts';
import { binlogValueLiteral, type BinlogEvent, type BinlogSource } from '../../../src/mysql/wire/binlog/events.ts';
import { binlogPreconditionProblem } from '../../../src/mysql/wire/binlog/preconditions.ts';
import { openBinlogSource } from '../../../src/mysql/wire/binlog/source.ts';
import { classifyError } from '../../../src/mysql/retry.ts';
import { connect, type Endpoint } from '../../../src/sandbox/index.ts';
import { TORTURE_COLUMNS, TORTURE_ROWS } from '../../helpers/binlog-torture.ts';
import { testCluster, type TestCluster } from '../../helpers/cluster.ts';
import { instanceAt, kill, restart } from '../../helpers/faults.ts';

const DB = 'binlog_src';
const TWIN = 'binlog_twin';
const logger = pino({ level: 'silent' });
let c: TestCluster;
let conn: Connection;

function tabletAt(at: Endpoint, alias = 'zone1-100'): TabletRef {
  return { alias, tablet: { keyspace: 'ks', shard: '0', type: 'primary', host: '127.0.0.1', port: at.port, dbName: DB, user: 'root' } };
}

async function session(at: Endpoint): Promise<Connection> {
  const s = await connect(at);
  await s.query("SET SESSION time_zone = '+00:00', sql_mode = 'NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES'");
  return s;
}

async function gtidPos(s: Connection): Promise<string> {
  const [rows] = await s.query('SELECT @@GLOBAL.gtid_binlog_pos AS p');
  return `MariaDB/${String((rows as { p: string }[])[0].p)}`;
}

function open(position: string, signal = new AbortController().signal, heartbeatMs = 1000): Promise<BinlogSource> {
  return openBinlogSource({ tablet: tabletAt(c.primary), credentials: {}, position, signal, logger, heartbeatMs });
}

/** The events from `position` until a commit or ddl reaches `until`, of this test's database. */
async function readUntil(position: string, until: string): Promise<BinlogEvent[]> {
  const source = await open(position);
  const out: BinlogEvent[] = [];
  try {
    for await (const ev of source) {
      if (ev.type === 'idle') {
        if (ev.position === until) break;
        continue;
      }
      out.push(ev);
      if ((ev.type === 'commit' || ev.type === 'ddl') && ev.position === until) break;
    }
  } finally {
    await source.close();
  }
  return out;
}

before(async () => {
  c = await testCluster();
  conn = await session(c.primary);
  await conn.query(`DROP DATABASE IF EXISTS ${DB}`);
  await conn.query(`DROP DATABASE IF EXISTS ${TWIN}`);
  await conn.query(`CREATE DATABASE ${DB}`);
  await conn.query(`CREATE DATABASE ${TWIN}`);
  await conn.query(`CREATE TABLE ${DB}.t ${TORTURE_COLUMNS}`);
  await conn.query(`CREATE TABLE ${TWIN}.t ${TORTURE_COLUMNS}`);
});

after(async () => {
  await conn.query(`DROP DATABASE IF EXISTS ${DB}`);
  await conn.query(`DROP DATABASE IF EXISTS ${TWIN}`);
  await conn.end();
});

test('every value of the type-torture table survives the binlog byte for byte: written back to a twin it equals the original', async () => {
  const start = await gtidPos(conn);
  // Multi-row insert, one transaction.
  await conn.query(`INSERT INTO ${DB}.t VALUES ${TORTURE_ROWS.join(',')}`);
  // A multi-statement transaction: updates (to other rows' values), an insert and a delete.
  await conn.query('BEGIN');
  await conn.query(
    `UPDATE ${DB}.t SET dec65 = '42.000000000000000000000000000001', ts6 = '2024-03-10 07:00:00.5', tm6 = '-01:02:03.000004', b64 = b'1', f = -0.0, dbl = -2.5e-300, lat = X'FF', e = 'a', st = 'y' WHERE id = 3`,
  );
  await conn.query(
    `INSERT INTO ${DB}.t SELECT id + 10, dec65, dec_small, udec, dt6, dt0, dt3, ts6, ts0, dte, tm6, tm0, tm2, tm4, yr, b64, b3, b12, ubig, sbig, ti, uti, si, usi, mi, umi, i, ui, j, vb, bin4, lat, u8, chl, chu, txt, blb, mblb, f, dbl, e, st, g, pt FROM ${DB}.t WHERE id IN (1, 2)`,
  );
  await conn.query(`UPDATE ${DB}.t SET u8 = CONCAT(u8, '✓'), yr = 2000, sbig = sbig DIV 2 WHERE id IN (11, 12)`);
  await conn.query(`DELETE FROM ${DB}.t WHERE id = 4`);
  await conn.query('COMMIT');
  // A DDL (its own transaction), then more rows after it.
  // `database` is the session's default database (the statement's own qualifiers are in its text).
  await conn.query(`USE ${DB}`);
  await conn.query('CREATE TABLE other (k INT PRIMARY KEY)');
  await conn.query(`INSERT INTO ${DB}.t (id, ubig, txt) VALUES (20, 18446744073709551614, 'after ddl'), (21, NULL, NULL)`);
  await conn.query(`DELETE FROM ${DB}.t WHERE id = 21`);
  const end = await gtidPos(conn);

  const events = (await readUntil(start, end)).filter((ev) => ev.type !== 'rows' || ev.table.database === DB);
  // One statement's rows may come in several rows events (binlog_row_event_max_size): counted as one here.
  const kinds = events.map((ev) => (ev.type === 'rows' ? `rows:${ev.change}` : ev.type)).filter((k, i, all) => !(k.startsWith('rows:') && all[i - 1] === k));
  assert.deepEqual(kinds, [
    'begin',
    'rows:insert',
    'commit',
    'begin',
    'rows:update',
    'rows:insert',
    'rows:update',
    'rows:delete',
    'commit',
    'ddl',
    'begin',
    'rows:insert',
    'commit',
    'begin',
    'rows:delete',
    'commit',
  ]);
  const ddl = events.find((ev) => ev.type === 'ddl');
  assert.ok(ddl && ddl.type === 'ddl');
  assert.equal(ddl.database, DB);
  assert.match(ddl.statement, /^CREATE TABLE .*other/);

  // The values as the contract says, for a few that libraries get wrong.
  const first = events[1];
  assert.ok(first.type === 'rows');
  // The first transaction's rows, over however many events they came in.
  const inserted = events
    .slice(
      1,
      events.findIndex((ev) => ev.type === 'commit'),
    )
    .flatMap((ev) => (ev.type === 'rows' ? ev.rows : []));
  assert.equal(inserted.length, 4);
  assert.equal(first.table.table, 't');
  assert.deepEqual(
    first.table.columns.slice(0, 3).map((col) => col.name),
    ['id', 'dec65', 'dec_small'],
  );
  const names = first.table.columns.map((col) => col.name!);
  const row1 = Object.fromEntries(names.map((n, i) => [n, inserted[0].after![i]]));
  assert.equal(row1.dec65, '-12345678901234567890123456789012345.123456789012345678901234567890');
  assert.equal(row1.dt6, '2024-03-10 02:30:00.123456');
  assert.equal(row1.ts6, '2024-03-10 07:30:00.000001');
  assert.equal(row1.dte, '0000-00-00');
  assert.equal(row1.tm6, '-838:59:59.000000');
  assert.equal(row1.tm2, '-12:00:00.01');
  assert.equal(row1.yr, 1901n);
  assert.deepEqual(row1.b64, Buffer.alloc(8, 0xff));
  assert.deepEqual(row1.b12, Buffer.from([0x08, 0x01]));
  assert.equal(row1.ubig, 18446744073709551615n);
  assert.equal(row1.sbig, -9223372036854775808n);
  assert.equal(row1.uti, 255n);
  assert.equal(row1.f, Math.fround(3.40282e38));
  assert.equal(row1.e, 3n);
  assert.equal(row1.st, 5n);
  assert.deepEqual(row1.lat, Buffer.from([0xe9, 0xe8, 0xff]));
  const row2 = Object.fromEntries(names.map((n, i) => [n, inserted[1].after![i]]));
  assert.equal(row2.dt6, '0000-00-00 00:00:00.000000');
  assert.equal(row2.ts0, '0000-00-00 00:00:00');
  assert.equal(row2.tm6, '-00:00:00.500000');
  assert.equal(row2.yr, 2155n);
  assert.equal(row2.dbl, 5e-324);
  const row3 = Object.fromEntries(names.map((n, i) => [n, inserted[2].after![i]]));
  assert.equal(row3.yr, 0n);
  assert.equal(
    inserted[3].after!.slice(1).every((v) => v === null),
    true,
  );

  await assertTwinEqual(events, 't', names, new Set(['j', 'vb', 'bin4', 'lat', 'u8', 'chl', 'chu', 'txt', 'blb', 'mblb', 'g', 'pt', 'b64', 'b3', 'b12']));
});

/**
 * Writes the rows events of `table` back into the twin database's table of that name (through binlogValueLiteral, by
 * primary key `id`, in the order read) and checks the twin equals the original: CHECKSUM TABLE, and column by column
 * so that a failure names what differs (`bytes` columns compared as bytes, the rest by value, exactly).
 */
async function assertTwinEqual(events: BinlogEvent[], table: string, names: string[], bytes: Set<string>): Promise<void> {
  const twin = await session(c.primary);
  try {
    for (const ev of events) {
      if (ev.type !== 'rows' || ev.table.database !== DB || ev.table.table !== table) continue;
      for (const row of ev.rows) {
        if (row.before) await twin.query(`DELETE FROM ${TWIN}.${table} WHERE id = ${binlogValueLiteral(row.before[0])}`);
        if (row.after) await twin.query(`INSERT INTO ${TWIN}.${table} VALUES (${row.after.map(binlogValueLiteral).join(', ')})`);
      }
    }
    const cols = names.slice(1);
    const [diff] = await twin.query(
      `SELECT a.id, ${cols.map((n) => `${bytes.has(n) ? `BINARY a.${n} <=> BINARY b.${n}` : `a.${n} <=> b.${n}`} AS ${n}`).join(', ')}
       FROM ${DB}.${table} a LEFT JOIN ${TWIN}.${table} b USING (id) ORDER BY a.id`,
    );
    const differing = (diff as Record<string, unknown>[]).flatMap((r) => cols.filter((n) => Number(r[n]) !== 1).map((n) => `id ${r.id}: ${n}`));
    assert.deepEqual(differing, []);
    const [[counts]] = (await twin.query(`SELECT (SELECT COUNT(*) FROM ${DB}.${table}) AS a, (SELECT COUNT(*) FROM ${TWIN}.${table}) AS b`)) as unknown as [
      [{ a: number; b: number }],
    ];
    assert.equal(Number(counts.b), Number(counts.a));
    const [sums] = await twin.query(`CHECKSUM TABLE ${DB}.${table}, ${TWIN}.${table} EXTENDED`);
    const [a, b] = (sums as { Checksum: number | string }[]).map((r) => String(r.Checksum));
    assert.equal(b, a);
  } finally {
    await twin.end();
  }
}

const SPREAD = `(id INT PRIMARY KEY, d1 DECIMAL(5,5), d2 DECIMAL(9,0), d3 DECIMAL(18,9), d4 DECIMAL(19,10) UNSIGNED, d5 DECIMAL(30,15),
  d6 DECIMAL(1,0), d7 DECIMAL(65,0), t1 TIME(1), t3 TIME(3), t5 TIME(5), t6 TIME(6), dt1 DATETIME(1), dt4 DATETIME(4), dt6 DATETIME(6),
  ts2 TIMESTAMP(2) NULL, ts5 TIMESTAMP(5) NULL, f FLOAT, dbl DOUBLE, bits BIT(17), m MEDIUMINT, um MEDIUMINT UNSIGNED, yr YEAR)`;

test('decimals, times and floats over 2,000 spread values (every precision and fraction width) survive byte for byte', async () => {
  await conn.query(`CREATE TABLE ${DB}.spread ${SPREAD}`);
  await conn.query(`CREATE TABLE ${TWIN}.spread ${SPREAD}`);
  const start = await gtidPos(conn);
  const sign = (m: number) => `IF(seq % ${m} = 0, -1, 1)`;
  await conn.query(`INSERT INTO ${DB}.spread SELECT seq,
    ${sign(2)} * ((seq * 7919) % 100000) / 100000,
    ${sign(3)} * ((seq * 104729) % 1000000000),
    ${sign(2)} * CAST((seq * 2654435761) % 999999999999999999 AS DECIMAL(18,0)) / 1000000000,
    CAST((seq * 2654435761) % 9999999999999999999 AS DECIMAL(19,0)) / 10000000000,
    CAST(CONCAT(IF(seq % 2, '-', ''), seq * 7, '.', LPAD((seq * 13) % 1000000000000000, 15, '0')) AS DECIMAL(30,15)),
    ${sign(5)} * (seq % 10),
    CAST(CONCAT(IF(seq % 2, '-', ''), REPEAT(seq % 10, 1 + seq % 64)) AS DECIMAL(65,0)),
    SEC_TO_TIME(${sign(2)} * ((seq * 37) % 3000000 + (seq % 10) / 10)),
    SEC_TO_TIME(${sign(3)} * ((seq * 41) % 3000000 + (seq % 1000) / 1000)),
    SEC_TO_TIME(${sign(2)} * ((seq * 43) % 3000000 + (seq * 7 % 100000) / 100000)),
    SEC_TO_TIME(${sign(4)} * ((seq * 47) % 3000000 + (seq * 7919 % 1000000) / 1000000)),
    TIMESTAMP('1000-01-01') + INTERVAL seq * 4000003 SECOND + INTERVAL (seq % 10) * 100000 MICROSECOND,
    TIMESTAMP('1970-01-01') + INTERVAL seq * 86399 SECOND + INTERVAL (seq * 123 % 10000) * 100 MICROSECOND,
    TIMESTAMP('2024-03-10 02:00:00') + INTERVAL seq SECOND + INTERVAL (seq * 7919 % 1000000) MICROSECOND,
    FROM_UNIXTIME(1 + seq * 1000003) + INTERVAL (seq % 100) * 10000 MICROSECOND,
    FROM_UNIXTIME(1 + seq * 1070003) + INTERVAL (seq * 7 % 100000) * 10 MICROSECOND,
    ${sign(2)} * seq * 1.1e-3 * POW(10, seq % 30),
    ${sign(3)} * seq * PI() * POW(10, (seq % 600) - 300),
    (seq * 37) % 131072,
    ${sign(2)} * ((seq * 7919) % 8388608),
    (seq * 7919) % 16777216,
    IF(seq % 256 = 0, 0, 1901 + seq % 255)
    FROM (SELECT CAST(seq AS SIGNED) AS seq FROM ${DB}.seq_1_to_2000) s`);
  await conn.query(`UPDATE ${DB}.spread SET d5 = -d5, t6 = SEC_TO_TIME(-TIME_TO_SEC(t6)), f = -f WHERE id % 7 = 0`);
  const end = await gtidPos(conn);
  const events = await readUntil(start, end);
  const names = (events.find((ev) => ev.type === 'rows' && ev.table.table === 'spread') as { table: { columns: { name: string | null }[] } }).table.columns.map(
    (col) => col.name!,
  );
  await assertTwinEqual(events, 'spread', names, new Set(['bits']));
});

test('a table without numeric columns (whose table map has no signedness) is read too', async () => {
  await conn.query(`CREATE TABLE ${DB}.words (w VARCHAR(20) CHARACTER SET utf8mb4 PRIMARY KEY, d DATE)`);
  const start = await gtidPos(conn);
  await conn.query(`INSERT INTO ${DB}.words VALUES ('één', '2024-02-29'), ('two', NULL)`);
  const end = await gtidPos(conn);
  const rows = (await readUntil(start, end)).flatMap((ev) => (ev.type === 'rows' ? ev.rows.map((r) => r.after) : []));
  assert.deepEqual(rows, [
    [Buffer.from('één'), '2024-02-29'],
    [Buffer.from('two'), null],
  ]);
});

test('a row event longer than one protocol packet (16 MiB) arrives whole', async () => {
  await conn.query(`CREATE TABLE ${DB}.huge (id INT PRIMARY KEY, body LONGBLOB)`);
  const start = await gtidPos(conn);
  // 17 MiB of bytes that vary (a repeated pattern would hide a misplaced packet boundary).
  await conn.query('SET SESSION group_concat_max_len = 67108864');
  await conn.query(`INSERT INTO ${DB}.huge SELECT 1, GROUP_CONCAT(UNHEX(SHA2(seq, 256)) SEPARATOR '') FROM ${DB}.seq_1_to_557056`);
  const [[want]] = (await conn.query(`SELECT LENGTH(body) AS n, SHA2(body, 256) AS h FROM ${DB}.huge`)) as unknown as [[{ n: number; h: string }]];
  assert.ok(Number(want.n) > 16 * 1024 * 1024);
  const end = await gtidPos(conn);
  const bodies = (await readUntil(start, end)).flatMap((ev) => (ev.type === 'rows' ? ev.rows.map((r) => r.after![1] as Buffer) : []));
  assert.equal(bodies.length, 1);
  assert.equal(bodies[0].length, Number(want.n));
  assert.equal(createHash('sha256').update(bodies[0]).digest('hex'), want.h);
});

test('reading again from a commit position yields exactly the transactions after it', async () => {
  await conn.query(`CREATE TABLE IF NOT EXISTS ${DB}.p (k INT PRIMARY KEY, v INT)`);
  const start = await gtidPos(conn);
  for (let k = 1; k <= 5; k++) await conn.query(`INSERT INTO ${DB}.p VALUES (${k}, ${k})`);
  const end = await gtidPos(conn);
  const all = await readUntil(start, end);
  const commits = all.filter((ev) => ev.type === 'commit').map((ev) => (ev as { position: string }).position);
  const begins = all.filter((ev) => ev.type === 'begin').map((ev) => (ev as { gtid: string }).gtid);
  assert.equal(commits.length, 5);
  assert.equal(commits.at(-1), end);
  // Each commit's position is its own transaction's GTID (the sandbox has one replication domain).
  assert.deepEqual(
    commits,
    begins.map((g) => `MariaDB/${g}`),
  );
  const again = await readUntil(commits[1], end);
  const keys = again.flatMap((ev) => (ev.type === 'rows' ? ev.rows.map((r) => r.after![0]) : []));
  assert.deepEqual(keys, [3n, 4n, 5n]);
  assert.deepEqual(
    again.filter((ev) => ev.type === 'begin').map((ev) => (ev as { gtid: string }).gtid),
    begins.slice(2),
  );
});

test('a consumer that is behind pauses the socket: the read-ahead stays bounded, and every row still arrives', async () => {
  await conn.query(`CREATE TABLE IF NOT EXISTS ${DB}.big (k INT PRIMARY KEY, body VARBINARY(5000))`);
  const start = await gtidPos(conn);
  const batch = Array.from({ length: 100 }, () => `INSERT INTO ${DB}.big VALUES (@k := @k + 1, RANDOM_BYTES(1024))`).join('; ');
  await conn.query('SET @k = (SELECT COALESCE(MAX(k), 0) FROM ' + DB + '.big)');
  // 2,000 transactions of a 4 KiB row: about 9 MB of binlog, 140 times the read-ahead.
  for (let i = 0; i < 20; i++) await conn.query(batch.replaceAll('RANDOM_BYTES(1024)', 'REPEAT(RANDOM_BYTES(1024), 4)'));
  const end = await gtidPos(conn);
  const lines: string[] = [];
  const debugLogger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
  const readAheadBytes = 64 * 1024;
  const source = await openBinlogSource({
    tablet: tabletAt(c.primary),
    credentials: {},
    position: start,
    signal: new AbortController().signal,
    logger: debugLogger,
    readAheadBytes,
  });
  let rows = 0;
  let events = 0;
  for await (const ev of source) {
    if (ev.type === 'rows' && ev.table.database === DB && ev.table.table === 'big') rows += ev.rows.length;
    // A slow consumer: a pause every few events, so the source is always ahead.
    if (++events % 20 === 0) await new Promise((r) => setTimeout(r, 2));
    if (ev.type === 'commit' && ev.position === end) break;
  }
  assert.equal(rows, 2000);
  const closed = lines.map((l) => JSON.parse(l) as { msg: string; peakQueuedBytes?: number; pauses?: number }).find((l) => l.msg === 'binlog dump closed');
  assert.ok(closed, 'the source logs its read-ahead when it closes');
  assert.ok(closed.pauses! > 0, 'the socket was paused');
  // At most the read-ahead, plus what one socket chunk already held when the limit was reached.
  assert.ok(closed.peakQueuedBytes! <= readAheadBytes + 256 * 1024, `read-ahead peaked at ${closed.peakQueuedBytes} bytes`);
});

test('an idle source yields idle events at its position; close() ends the iteration and the dump', async () => {
  const position = await gtidPos(conn);
  const source = await open(position, new AbortController().signal, 200);
  const idles: BinlogEvent[] = [];
  const started = Date.now();
  for await (const ev of source) {
    if (ev.type !== 'idle') continue;
    idles.push(ev);
    if (idles.length === 3) await source.close();
  }
  assert.equal(idles.length, 3);
  assert.ok(Date.now() - started < 5000);
  for (const ev of idles) assert.equal((ev as { position: string }).position, position);
  await waitForDumps(0);
});

test('aborting the signal ends a waiting iteration with its reason and closes the dump', async () => {
  const ac = new AbortController();
  const source = await open(await gtidPos(conn), ac.signal, 500);
  await waitForDumps(1);
  const reading = (async () => {
    for await (const ev of source) void ev;
  })();
  setTimeout(() => ac.abort(new Error('stop now')), 100);
  await assert.rejects(reading, /stop now/);
  await waitForDumps(0);
});

test('a source without row events, full images or full metadata is refused naming the variable; MySQL is not supported yet', async () => {
  const base = new Map([
    ['version', '10.11.6-MariaDB'],
    ['log_bin', 'ON'],
    ['binlog_format', 'ROW'],
    ['binlog_row_image', 'FULL'],
    ['binlog_row_metadata', 'FULL'],
  ]);
  const variant = (k: string, v: string) => new Map([...base, [k, v]]);
  assert.equal(binlogPreconditionProblem(base), null);
  assert.match(binlogPreconditionProblem(variant('log_bin', 'OFF'))!, /^log_bin is OFF/);
  assert.match(binlogPreconditionProblem(variant('binlog_format', 'MIXED'))!, /^binlog_format is MIXED, must be ROW/);
  assert.match(binlogPreconditionProblem(variant('binlog_row_image', 'MINIMAL'))!, /^binlog_row_image is MINIMAL, must be FULL/);
  assert.match(binlogPreconditionProblem(variant('binlog_row_metadata', 'MINIMAL'))!, /^binlog_row_metadata is MINIMAL, must be FULL/);
  assert.match(binlogPreconditionProblem(variant('version', '8.0.36'))!, /MySQL 8 binlog streaming is not supported yet/);
  const older = new Map(base);
  older.delete('binlog_row_metadata');
  assert.equal(binlogPreconditionProblem(older), null, 'a server without the variable (before 10.5) is not asked for it');

  // Against a live server: a destination's global setting changed for a moment.
  const dest = await session(c.dests[2]);
  try {
    for (const [name, bad, good] of [
      ['binlog_format', 'STATEMENT', 'ROW'],
      ['binlog_row_image', 'MINIMAL', 'FULL'],
      ['binlog_row_metadata', 'MINIMAL', 'FULL'],
    ]) {
      await dest.query(`SET GLOBAL ${name} = '${bad}'`);
      try {
        await assert.rejects(
          openBinlogSource({
            tablet: tabletAt(c.dests[2], 'zone1-400'),
            credentials: {},
            position: await gtidPos(dest),
            signal: new AbortController().signal,
            logger,
          }),
          (err: Error) => {
            assert.equal(err.name, 'BinlogPreconditionError');
            assert.match(err.message, new RegExp(`zone1-400 \\(127\\.0\\.0\\.1:${c.dests[2].port}/${DB}\\): ${name} is ${bad}, must be ${good}`));
            assert.equal(classifyError(err), 'fatal');
            return true;
          },
        );
      } finally {
        await dest.query(`SET GLOBAL ${name} = '${good}'`);
      }
    }
  } finally {
    await dest.end();
  }
  await assert.rejects(open('MySQL56/3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5'), /MySQL 8 binlog streaming is not supported yet/);
});

test('a restarted source surfaces as an error that retry classifies as connection, naming the tablet', async () => {
  const at = c.dests[2];
  const spec = await instanceAt(at.port);
  const s = await session(at);
  const position = await gtidPos(s);
  await s.end();
  const source = await openBinlogSource({
    tablet: tabletAt(at, 'zone1-400'),
    credentials: {},
    position,
    signal: new AbortController().signal,
    logger,
    heartbeatMs: 500,
  });
  try {
    // Settled into a value at once: the failure comes while the kill is still being awaited.
    const failure = (async () => {
      for await (const ev of source) void ev;
    })().then(
      () => null,
      (err: Error) => err,
    );
    await new Promise((r) => setTimeout(r, 300));
    await kill(spec);
    const err = await failure;
    assert.ok(err, 'the iteration ended without an error');
    assert.equal(classifyError(err), 'connection');
    assert.match(err.message, /reading the binlog on zone1-400 \(127\.0\.0\.1:\d+\/binlog_src\)/);
  } finally {
    await source.close();
    await restart(spec);
  }
});

/** Waits until the primary has `n` binlog dump threads of root (ours; the rdonly replicates as repl). A closed dump
 * ends on the server at its next write (a heartbeat). */
async function waitForDumps(n: number): Promise<void> {
  for (let i = 0; ; i++) {
    const [rows] = await conn.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump' AND USER = 'root'");
    const have = Number((rows as { n: number }[])[0].n);
    if (have === n) return;
    if (i > 200) assert.fail(`expected ${n} binlog dump threads on the primary, found ${have}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
