import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TabletError } from '../../src/mysql/connection.ts';
import { KeyCursor, keyCursorProblem } from '../../src/mysql/key-cursor.ts';
import { binaryLayout } from '../../src/mysql/wire/binary-row.ts';
import { RawRow } from '../../src/mysql/wire/raw-rows.ts';
import { binaryRowPacket, rowPacket } from '../helpers/packets.ts';
import { classifyError, isDuplicateKey, RetriesExhaustedError, withRetry } from '../../src/mysql/retry.ts';
import type { TableDefinition } from '../../src/mysql/schema.ts';

const ref = { alias: 'zone1-200', tablet: { keyspace: 'k', shard: '-80', type: 'primary' as const, host: '127.0.0.1', port: 1, dbName: 'd', user: 'root' } };
const mysqlError = (errno: number, code = 'ER_X', message = `error ${errno}`) => Object.assign(new Error(message), { errno, code });

describe('classifyError', () => {
  test('connection lost, refused, gone away, server shutdown, killed: connection', () => {
    for (const errno of [2002, 2006, 2013, 1053, 1927]) assert.equal(classifyError(mysqlError(errno)), 'connection', String(errno));
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'PROTOCOL_CONNECTION_LOST', 'ETIMEDOUT', 'EPIPE']) {
      assert.equal(classifyError(Object.assign(new Error(code), { code })), 'connection', code);
    }
    assert.equal(classifyError(new Error("Can't add new command when connection is in closed state")), 'connection');
  });
  test('read-only after a failover; deadlock and lock wait timeout are rolled back', () => {
    assert.equal(classifyError(mysqlError(1290)), 'read-only');
    assert.equal(classifyError(mysqlError(1213)), 'rolled-back');
    assert.equal(classifyError(mysqlError(1205)), 'rolled-back');
  });
  test('everything else is fatal: syntax, duplicate key, unknown table, plain errors', () => {
    for (const errno of [1064, 1062, 1146, 1054, 1366]) assert.equal(classifyError(mysqlError(errno)), 'fatal', String(errno));
    assert.equal(classifyError(new Error('boom')), 'fatal');
    assert.equal(classifyError('boom'), 'fatal');
    assert.equal(classifyError(undefined), 'fatal');
  });
  test('looks through TabletError to the mysql2 error', () => {
    const wrapped = new TabletError(ref, 'writing rows into t', mysqlError(2013));
    assert.equal(classifyError(wrapped), 'connection');
    assert.ok(isDuplicateKey(new TabletError(ref, 'x', mysqlError(1062))));
    assert.ok(!isDuplicateKey(wrapped));
  });
});

describe('withRetry', () => {
  const policy = { durationMs: 1000, initialDelayMs: 1, maxDelayMs: 5 };
  test('retries transient failures, reports each, then succeeds', async () => {
    const seen: string[] = [];
    let n = 0;
    const result = await withRetry(
      'x',
      async () => {
        if (++n < 3) throw mysqlError(n === 1 ? 2013 : 1213);
        return 'ok';
      },
      { policy, signal: new AbortController().signal, onRetry: (e) => seen.push(`${e.attempt}:${e.kind}`) },
    );
    assert.equal(result, 'ok');
    assert.deepEqual(seen, ['1:connection', '2:rolled-back']);
  });
  test('a fatal failure is thrown at once', async () => {
    let n = 0;
    await assert.rejects(
      withRetry(
        'x',
        async () => {
          n++;
          throw mysqlError(1064, 'ER_PARSE_ERROR', 'You have an error in your SQL syntax');
        },
        { policy, signal: new AbortController().signal },
      ),
      /SQL syntax/,
    );
    assert.equal(n, 1);
  });
  test('gives up after the duration, naming the last error', async () => {
    const started = Date.now();
    await assert.rejects(
      withRetry(
        'writing rows into t',
        async () => {
          throw mysqlError(2002, 'ECONNREFUSED', 'connect ECONNREFUSED');
        },
        { policy: { durationMs: 100, initialDelayMs: 10, maxDelayMs: 20 }, signal: new AbortController().signal },
      ),
      (err: unknown) => {
        assert.ok(err instanceof RetriesExhaustedError);
        assert.match(err.message, /writing rows into t: still failing after \d+ attempts .*ECONNREFUSED/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 1000);
  });
  test('an abort stops the waiting', async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error('canceled')), 20);
    await assert.rejects(
      withRetry(
        'x',
        async () => {
          throw mysqlError(2013);
        },
        { policy: { durationMs: 60_000, initialDelayMs: 10_000 }, signal: abort.signal },
      ),
      /canceled/,
    );
  });
});

function table(pk: string[], columns: { name: string; dataType: string; charset?: string | null }[]): TableDefinition {
  return {
    name: 't',
    kind: 'table',
    createSql: '',
    rowsEstimate: 0,
    dataLength: 0,
    indexLength: 0,
    primaryKey: pk,
    columns: columns.map((c) => ({ ...c, columnType: c.dataType, encoding: 'bytes' as const })),
    selectList: columns.map((c) => c.name),
  };
}

/** A raw row from values (latin1 text), as a packet's payload. */
function rawRow(values: (string | null)[]): RawRow {
  const parts: Buffer[] = [];
  for (const v of values) {
    if (v === null) parts.push(Buffer.from([0xfb]));
    else {
      const b = Buffer.from(v, 'latin1');
      parts.push(Buffer.from([b.length]), b);
    }
  }
  const buf = Buffer.concat(parts);
  const row = new RawRow(values.length);
  row.parse(buf, 0, buf.length);
  return row;
}

describe('KeyCursor', () => {
  test('integer key: the digits', () => {
    const c = new KeyCursor(
      table(
        ['id'],
        [
          { name: 'v', dataType: 'varchar', charset: 'utf8mb4' },
          { name: 'id', dataType: 'bigint' },
        ],
      ),
    );
    assert.equal(c.afterLast(), null);
    c.track(rawRow(['x', '41']));
    c.track(rawRow(['y', '-42']));
    assert.equal(c.afterLast(), '`id` > -42');
  });
  test('composite key of a string (in its charset), binary and datetime', () => {
    const c = new KeyCursor(
      table(
        ['a', 'b', 'c'],
        [
          { name: 'a', dataType: 'varchar', charset: 'latin1' },
          { name: 'b', dataType: 'varbinary' },
          { name: 'c', dataType: 'datetime' },
        ],
      ),
    );
    c.track(rawRow(["é'", '\x00\xff', '2026-01-02 03:04:05']));
    assert.equal(c.afterLast(), "(`a` > _latin1 X'e927' OR (`a` = _latin1 X'e927' AND (`b` > X'00ff' OR (`b` = X'00ff' AND `c` > '2026-01-02 03:04:05'))))");
  });
  test('a binary row (a prepared statement): the key in text form, as the literals need it', () => {
    const c = new KeyCursor(
      table(
        ['id', 'at'],
        [
          { name: 'v', dataType: 'varchar', charset: 'utf8mb4' },
          { name: 'id', dataType: 'bigint' },
          { name: 'at', dataType: 'datetime' },
        ],
      ),
    );
    const layout = binaryLayout([
      { columnType: 253, flags: 0, decimals: 0 },
      { columnType: 8, flags: 0, decimals: 0 },
      { columnType: 12, flags: 0, decimals: 6 },
    ]);
    const id = Buffer.alloc(8);
    id.writeBigInt64LE(-42n);
    const packet = binaryRowPacket([Buffer.from([1, 0x79]), id, Buffer.from([7, 0xea, 0x07, 1, 2, 3, 4, 5])]);
    const row = new RawRow(3, layout);
    row.parse(packet, 0, packet.length);
    c.track(row);
    // The row's bytes do not outlive its call (a staged read overwrites them): the cursor kept its own copy.
    packet.fill(0x55);
    assert.equal(c.afterLast(), "(`id` > -42 OR (`id` = -42 AND `at` > '2026-01-02 03:04:05.000000'))");
  });
  test("a long key grows the cursor's buffer; the key outlives the row's bytes", () => {
    const c = new KeyCursor(
      table(
        ['a', 'b'],
        [
          { name: 'a', dataType: 'varbinary' },
          { name: 'b', dataType: 'bigint' },
        ],
      ),
    );
    const packet = rowPacket([Buffer.alloc(300, 0xab), '7']);
    const row = new RawRow(2);
    row.parse(packet, 0, packet.length);
    c.track(row);
    packet.fill(0);
    assert.equal(c.afterLast(), `(\`a\` > X'${'ab'.repeat(300)}' OR (\`a\` = X'${'ab'.repeat(300)}' AND \`b\` > 7))`);
  });
  test('keys whose order a literal cannot follow: no cursor, and why', () => {
    assert.match(keyCursorProblem(table([], [{ name: 'a', dataType: 'int' }]))!, /no primary key/);
    assert.match(keyCursorProblem(table(['e'], [{ name: 'e', dataType: 'enum' }]))!, /enum/);
    assert.match(keyCursorProblem(table(['f'], [{ name: 'f', dataType: 'float' }]))!, /float/);
    assert.match(keyCursorProblem(table(['s'], [{ name: 's', dataType: 'varchar', charset: null }]))!, /varchar/);
  });
});
