// The copy's row reader against a real mariadbd: rows cut out of the socket's chunks by the framer (packets split
// across chunks, a row longer than one 16 MiB packet, NULLs), a sink that holds the reading now and then, an error
// in the middle of a result, the connection taken back by mysql2 after each result, and binary-protocol rows that
// hold the very values the text protocol sends.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ByteArena } from '../../../src/mysql/wire/byte-arena.ts';
import { openPool, queryOn, TabletError, type Pool, type TabletRef } from '../../../src/mysql/connection.ts';
import { scanRows, type RawRow } from '../../../src/mysql/wire/raw-rows.ts';
import { onSource, rdonlyRef, testCluster, type TestCluster } from '../../helpers/cluster.ts';

let c: TestCluster;
let pool: Pool;
let ref: TabletRef;
const signal = new AbortController().signal;

before(async () => {
  c = await testCluster();
  ref = rdonlyRef(c);
  pool = openPool(ref, {}, { connectionLimit: 1, withDatabase: false });
});

after(async () => {
  await pool.end();
});

/** Each row as a digest of its values (NULL distinct from every string), in order. */
function digestSink(out: string[], hold: (n: number) => boolean, staged?: { arena: ByteArena; rows: number }) {
  return (row: RawRow) => {
    if (staged && row.memory === staged.arena.memory) staged.rows++;
    const h = createHash('sha1');
    for (let i = 0; i < row.columns; i++) {
      const v = row.value(i);
      h.update(v === null ? 'N' : `V${v.length}:`);
      if (v) h.update(v);
    }
    out.push(h.digest('hex'));
    if (hold(out.length)) return new Promise<void>((resolve) => setTimeout(resolve, 1));
  };
}

test('rows of every length, split across chunks, and one of 17 MiB in two packets, read exactly while the sink holds, as text and as binary rows', async () => {
  // Lengths around each length-prefix boundary, NULLs, and many rows so that packets straddle socket chunks.
  const query = `SELECT seq, IF(seq % 7 = 0, NULL, REPEAT(CHAR(65 + seq % 26), CASE seq % 5 WHEN 0 THEN 0 WHEN 1 THEN 250 WHEN 2 THEN 251 WHEN 3 THEN 65536 ELSE seq % 300 END)),
    IF(seq = 1500, REPEAT('z', 17 * 1024 * 1024), 'tail') FROM mysql.seq_1_to_3000`;
  // The reference: the same rows through mysql2's own reader.
  const reference: string[] = [];
  const conn = await pool.getConnection();
  try {
    const [rows] = await conn.query({ sql: query, rowsAsArray: true, typeCast: false });
    for (const r of rows as (Buffer | null)[][]) {
      const h = createHash('sha1');
      for (const v of r) {
        h.update(v === null ? 'N' : `V${v.length}:`);
        if (v) h.update(v);
      }
      reference.push(h.digest('hex'));
    }
  } finally {
    conn.release();
  }
  assert.equal(reference.length, 3000);
  // Text rows, and binary ones (a prepared statement; value() gives their text form, so the digests match); read
  // straight from the socket's chunks, or staged in an arena (where each chunk overwrites the one before, and the
  // 17 MiB row is carried past the staging), or with an arena too small to stage in.
  const arena = new ByteArena(1 << 20);
  const tiny = new ByteArena(64 * 1024);
  const cases = [
    [0, false, null],
    [3, false, null],
    [97, false, null],
    [0, true, null],
    [97, true, null],
    [0, false, arena],
    [3, false, arena],
    [97, true, arena],
    [5, true, tiny],
  ] as const;
  for (const [holdEvery, binary, staging] of cases) {
    const got: string[] = [];
    const label = `hold every ${holdEvery}, binary ${binary}, arena ${staging?.capacity ?? 'none'}`;
    const staged = staging ? { arena: staging, rows: 0 } : undefined;
    const count = await scanRows(
      pool,
      ref,
      'reading test rows',
      query,
      digestSink(got, (n) => holdEvery > 0 && n % holdEvery === 0, staged),
      { signal, binary, arena: staging ?? undefined },
    );
    assert.equal(count, 3000, label);
    assert.deepEqual(got, reference, label);
    // Most rows come from the staging where there is room for it; none where there is not.
    if (staged) assert.ok(staging === tiny ? staged.rows === 0 : staged.rows > 2500, `${label}: ${staged.rows} rows staged`);
    assert.equal(staging?.outstanding ?? 0, 0, `${label}: the staging went back to its arena`);
  }
  // The connection went back to mysql2 and serves ordinary queries.
  const again = await pool.getConnection();
  try {
    const [rows] = await again.query('SELECT 41 + 1 AS n');
    assert.deepEqual(rows, [{ n: 42 }]);
  } finally {
    again.release();
  }
});

test('an error in the middle of a result fails the scan with the server message, and the pool serves the next', async () => {
  const got: string[] = [];
  // A scalar subquery that returns two rows errs at row 2500, after the server has sent the rows before it.
  const query = `SELECT seq, IF(seq = 2500, (SELECT seq FROM mysql.seq_1_to_2), seq) FROM mysql.seq_1_to_5000`;
  const arena = new ByteArena(1 << 20);
  await assert.rejects(
    scanRows(
      pool,
      ref,
      'reading test rows',
      query,
      digestSink(got, (n) => n % 50 === 0),
      { signal, arena },
    ),
    (err: unknown) => {
      assert.ok(err instanceof TabletError, String(err));
      assert.match(err.message, /Subquery returns more than 1 row/);
      return true;
    },
  );
  assert.ok(got.length >= 1 && got.length < 2500, `${got.length} rows before the error`);
  assert.equal(arena.outstanding, 0, 'the staging went back to its arena');
  const count = await scanRows(
    pool,
    ref,
    'reading test rows',
    'SELECT seq FROM mysql.seq_1_to_10',
    digestSink([], () => false),
    { signal },
  );
  assert.equal(count, 10);
});

test('binary rows (a prepared statement) hold the values text rows do, every type, NULLs across the bitmap', async () => {
  const db = `t_binary_rows_${process.pid}`;
  await onSource(
    c,
    `SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+00:00'; DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db};
    CREATE TABLE ${db}.t (id INT PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT, mu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
      bi BIGINT, bu BIGINT UNSIGNED, dec65 DECIMAL(65,30), d DATE, dt DATETIME, dt3 DATETIME(3), dt6 DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME, tm6 TIME(6),
      yr YEAR, s VARCHAR(20), b VARBINARY(300), bit9 BIT(9), en ENUM('a','b'), st SET('x','y'), js JSON);
    INSERT INTO ${db}.t VALUES
      (1, -128, 255, -32768, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615, '-1.5', '0000-00-00', '0000-00-00 00:00:00',
        '2026-03-08 02:30:00.5', '2026-03-08 02:30:00.000001', '1970-01-01 00:00:01', '-838:59:59', '-00:00:00.000001', 0, '😀 é', REPEAT(X'FF', 300), b'100000001', 'b', 'x,y', '[1]'),
      (2, 127, 0, 32767, 8388607, 0, 2147483647, 0, 9223372036854775807, 0, '99999999999999999999999999999999999.999999999999999999999999999999', '9999-12-31',
        '9999-12-31 23:59:59', '1000-01-01 00:00:00.999', '2026-11-01 01:30:00', '2038-01-19 03:14:07.999999', '838:59:59', '123:00:00.5', 2155, '', X'', b'0', 'a', '', '{}'),
      (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (4, 0, NULL, 0, NULL, 1, NULL, 2, NULL, 3, NULL, '2024-02-29', NULL, '2024-02-29 00:00:00', NULL, NULL, '00:00:00', NULL, 1999, NULL, X'00', NULL, 'a', NULL, 'null')`,
  );
  const query = `SELECT * FROM ${db}.t ORDER BY id`;
  const read = async (binary: boolean) => {
    const rows: (string | null)[][] = [];
    let binaryRows = 0;
    await scanRows(
      pool,
      ref,
      'reading test rows',
      query,
      (row) => {
        if (row.layout) binaryRows++;
        rows.push(Array.from({ length: row.columns }, (_, i) => row.value(i)?.toString('hex') ?? null));
      },
      { signal, binary },
    );
    return { rows, binaryRows };
  };
  try {
    const text = await read(false);
    const binary = await read(true);
    assert.equal(text.binaryRows, 0);
    assert.equal(binary.binaryRows, 4, 'read through a prepared statement');
    assert.equal(binary.rows.length, 4);
    for (const [r, values] of binary.rows.entries()) {
      for (const [i, v] of values.entries()) {
        const want = text.rows[r][i];
        assert.equal(
          v,
          want,
          `row ${r + 1} column ${i}: ${v === null ? 'NULL' : Buffer.from(v, 'hex').toString('latin1')} read binary, ${want === null ? 'NULL' : Buffer.from(want, 'hex').toString('latin1')} as text`,
        );
      }
    }
  } finally {
    await onSource(c, `DROP DATABASE IF EXISTS ${db}`);
  }
});

test('a scan aborted mid-result gives its staging back only once no read can land in it, and the pool serves the next', async () => {
  const arena = new ByteArena(1 << 20);
  const abort = new AbortController();
  let rows = 0;
  // Long rows, many of them: the server is still sending when the scan stops.
  const query = 'SELECT seq, REPEAT(CHAR(65 + seq % 26), 1000) FROM mysql.seq_1_to_200000';
  await assert.rejects(
    scanRows(
      pool,
      ref,
      'reading test rows',
      query,
      () => {
        if (++rows === 2000) abort.abort(new Error('stop here'));
      },
      { signal: abort.signal, binary: true, arena },
    ),
    /stop here/,
  );
  // Whatever the staging is given back (at once, or when the connection has closed), a buffer cut from the arena
  // afterwards is never written by the dropped connection.
  const deadline = Date.now() + 10_000;
  while (arena.outstanding > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(arena.outstanding, 0, 'the staging went back to its arena');
  const reused = arena.take(256 * 1024)!;
  reused.fill(0x5a);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.ok(
    reused.every((b) => b === 0x5a),
    'no read landed in memory given back',
  );
  arena.give(reused);
  const count = await scanRows(pool, ref, 'reading test rows', 'SELECT seq FROM mysql.seq_1_to_10', () => {}, { signal, arena });
  assert.equal(count, 10);
});

/** The server's prepared statements, all sessions. */
async function preparedStatements(): Promise<number> {
  const rows = await queryOn<{ Value: string }[]>(pool, ref, 'counting statements', "SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'");
  return Number(rows[0].Value);
}

test('a binary read closes its prepared statement once (mysql2’s unprepare sends two), in one socket write with the next scan', async () => {
  const conn = await pool.getConnection();
  const core = conn.connection as unknown as { stream: { write(chunk: Buffer, ...rest: unknown[]): boolean; writableCorked: number } };
  const write = core.stream.write;
  let closes = 0;
  let corkedCloses = 0;
  // Every packet written on the connection: a COM_STMT_CLOSE is a 4-byte header, 0x19 and the statement id.
  core.stream.write = function (this: typeof core.stream, chunk: Buffer, ...rest: unknown[]) {
    if (chunk.length === 9 && chunk[4] === 0x19) {
      closes++;
      // Corked: held until the next command's packet is written, then both leave in one writev.
      if (this.writableCorked > 0) corkedCloses++;
    }
    return write.call(this, chunk, ...rest);
  };
  conn.release();
  const scan = async (sql: string) => {
    const rows: string[] = [];
    return scanRows(
      pool,
      ref,
      'reading seq',
      sql,
      digestSink(rows, () => false),
      { signal, binary: true },
    );
  };
  try {
    const before = await preparedStatements();
    assert.equal(await scan('SELECT seq FROM mysql.seq_1_to_10'), 10);
    // Left prepared until the connection's next scan (the pool has one connection): no write of its own.
    assert.equal(closes, 0);
    assert.equal(await preparedStatements(), before + 1);
    assert.equal(await scan('SELECT seq FROM mysql.seq_1_to_5'), 5);
    assert.equal(closes, 1);
    assert.equal(corkedCloses, 1);
    assert.equal(await preparedStatements(), before + 1, 'the first statement is gone from the server, the second left');
  } finally {
    core.stream.write = write;
  }
});
