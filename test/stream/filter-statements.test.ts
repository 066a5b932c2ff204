// The pure parts of a stream: which rows a destination takes and as what (filter.ts), and the SQL text they
// become (statements.ts), compared as strings.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseShardName } from '../../src/keyrange/keyrange.ts';
import type { BinlogValue } from '../../src/mysql/wire/binlog/events.ts';
import type { TableShape } from '../../src/stream/changes.ts';
import { keyspaceIdOf, routeRows, streamsTable, type RowsEvent, type StreamScope } from '../../src/stream/filter.ts';
import { batchOrder, deleteSql, describeKey, insertSql, planInOrder, planStatements, updateSql } from '../../src/stream/statements.ts';
import { ddlTouches } from '../../src/stream/stream.ts';

const shape: TableShape = {
  database: 'dst',
  name: 't`x',
  columns: [
    { name: 'id', generated: false, charset: null },
    { name: 'keyspace_id', generated: false, charset: null },
    { name: 'name', generated: false, charset: 'utf8mb4' },
    { name: 'g', generated: true, charset: null },
  ],
  keyIndexes: [0, 2],
  hasPrimaryKey: true,
  shardingIndex: 1,
};
const binTable = { database: 'src', table: 't`x', columns: [] };
const row = (id: bigint, ksid: bigint, name: string | null = 'a'): BinlogValue[] => [id, ksid, name === null ? null : Buffer.from(name), 99n];
const scope = (shard: string): StreamScope => ({
  sourceDatabase: 'src',
  tables: new Set(['t`x']),
  keyRange: parseShardName(shard),
  shardingColumnType: 'uint64',
});
const ev = (change: RowsEvent['change'], rows: RowsEvent['rows']): RowsEvent => ({ type: 'rows', change, table: binTable, rows, timestamp: 0 });

describe('filter', () => {
  test('tables of the source database in the scope only', () => {
    assert.equal(streamsTable(scope('-80'), 'src', 't`x'), true);
    assert.equal(streamsTable(scope('-80'), 'src', 'other'), false);
    assert.equal(streamsTable(scope('-80'), 'other_db', 't`x'), false);
  });

  test('keyspace ids: uint64 big-endian, bytes raw; NULL and wrong types refused naming the column', () => {
    assert.equal(keyspaceIdOf('uint64', 0x8000000000000000n, 'k').toString('hex'), '8000000000000000');
    assert.equal(keyspaceIdOf('uint64', 18446744073709551615n, 'k').toString('hex'), 'ffffffffffffffff');
    assert.equal(keyspaceIdOf('bytes', Buffer.from([0x80]), 'k').toString('hex'), '80');
    assert.throws(() => keyspaceIdOf('uint64', null, 'k'), /sharding column k holds NULL/);
    assert.throws(() => keyspaceIdOf('uint64', -1n, 'k'), /outside the unsigned 64-bit range/);
    assert.throws(() => keyspaceIdOf('bytes', 5n, 'k'), /not bytes/);
  });

  test('rows of the range; range edges 80 vs 7fff…; updates across ranges become a delete or an insert', () => {
    const low = 0x7fffffffffffffffn;
    const high = 0x8000000000000000n;
    assert.deepEqual(
      routeRows(scope('-80'), shape, ev('insert', [{ after: row(1n, low) }, { after: row(2n, high) }])).map((c) => c.kind),
      ['insert'],
    );
    assert.deepEqual(
      routeRows(scope('80-'), shape, ev('insert', [{ after: row(1n, low) }, { after: row(2n, high) }])).map((c) => (c.kind === 'insert' ? c.after[0] : null)),
      [2n],
    );
    const moves = ev('update', [
      { before: row(1n, low), after: row(1n, high) },
      { before: row(2n, high), after: row(2n, low) },
      { before: row(3n, low), after: row(3n, 0n) },
      { before: row(4n, high), after: row(4n, high) },
    ]);
    assert.deepEqual(
      routeRows(scope('-80'), shape, moves).map((c) => `${c.kind} ${(c.kind === 'insert' ? c.after : c.before)[0]}`),
      ['delete 1', 'insert 2', 'update 3'],
    );
    assert.deepEqual(
      routeRows(scope('80-'), shape, moves).map((c) => `${c.kind} ${(c.kind === 'insert' ? c.after : c.before)[0]}`),
      ['insert 1', 'delete 2', 'update 4'],
    );
    assert.deepEqual(routeRows(scope('80-'), shape, ev('delete', [{ before: row(1n, low) }, { before: row(2n, high) }])).length, 1);
    // The full range (and a vertical stream) takes every row.
    assert.equal(routeRows({ ...scope('-80'), keyRange: null }, shape, moves).length, 4);
    assert.equal(routeRows(scope('-'), shape, moves).length, 4);
  });
});

describe('statements', () => {
  test('INSERT skips generated columns, quotes names, writes values exactly', () => {
    assert.equal(
      insertSql(shape, [row(1n, 5n, "it's"), [2n, 18446744073709551615n, null, null]]),
      "INSERT INTO `dst`.`t``x` (`id`,`keyspace_id`,`name`) VALUES (1,5,X'69742773'),(2,18446744073709551615,NULL)",
    );
  });

  test('UPDATE and DELETE by the key from the before image; a string key in its charset', () => {
    assert.equal(
      updateSql(shape, row(1n, 5n, 'a'), row(1n, 6n, 'b')),
      "UPDATE `dst`.`t``x` SET `id`=1,`keyspace_id`=6,`name`=X'62' WHERE `id` = 1 AND `name` = _utf8mb4 X'61'",
    );
    assert.equal(deleteSql(shape, row(7n, 5n, 'z')), "DELETE FROM `dst`.`t``x` WHERE `id` = 7 AND `name` = _utf8mb4 X'7a'");
    const noPk: TableShape = { ...shape, keyIndexes: [0, 1, 2], hasPrimaryKey: false };
    assert.equal(deleteSql(noPk, row(7n, 5n, null)), 'DELETE FROM `dst`.`t``x` WHERE `id` = 7 AND `keyspace_id` = 5 AND `name` <=> NULL LIMIT 1');
    assert.equal(describeKey(shape, row(7n, 5n, 'z')), 'id=7, name="z"');
  });

  test('consecutive inserts into one table share an INSERT; anything between ends it', () => {
    const other: TableShape = { ...shape, name: 'o' };
    const planned = planInOrder(
      [
        { kind: 'insert', table: shape, after: row(1n, 1n) },
        { kind: 'insert', table: shape, after: row(2n, 1n) },
        { kind: 'insert', table: other, after: row(3n, 1n) },
        { kind: 'delete', table: shape, before: row(1n, 1n) },
        { kind: 'insert', table: shape, after: row(4n, 1n) },
        { kind: 'insert', table: shape, after: row(5n, 1n) },
        { kind: 'insert', table: shape, after: row(6n, 1n) },
      ],
      2,
    );
    assert.deepEqual(
      planned.map((p) => [p.sql.split(' ')[0] + ' ' + p.sql.match(/(?:INTO|FROM) (\S+)/)![1], p.expectedRows]),
      [
        ['INSERT `dst`.`t``x`', 2],
        ['INSERT `dst`.`o`', 1],
        ['DELETE `dst`.`t``x`', 1],
        ['INSERT `dst`.`t``x`', 2],
        ['INSERT `dst`.`t``x`', 1],
      ],
    );
  });

  test('consecutive deletes by primary key share a DELETE; a repeated key or a table without one does not', () => {
    const single: TableShape = { ...shape, keyIndexes: [0] };
    const planned = planInOrder([
      { kind: 'delete', table: single, before: row(1n, 1n) },
      { kind: 'delete', table: single, before: row(2n, 1n) },
      { kind: 'delete', table: single, before: row(1n, 1n) },
      { kind: 'delete', table: shape, before: row(3n, 1n, 'q') },
      { kind: 'delete', table: shape, before: row(4n, 1n, 'r') },
      { kind: 'delete', table: { ...shape, hasPrimaryKey: false }, before: row(5n, 1n) },
    ]);
    assert.deepEqual(planned, [
      { sql: 'DELETE FROM `dst`.`t``x` WHERE `id` IN (1,2)', expectedRows: 2 },
      { sql: 'DELETE FROM `dst`.`t``x` WHERE `id` = 1', expectedRows: 1 },
      { sql: "DELETE FROM `dst`.`t``x` WHERE (`id` = 3 AND `name` = _utf8mb4 X'71') OR (`id` = 4 AND `name` = _utf8mb4 X'72')", expectedRows: 2 },
      { sql: "DELETE FROM `dst`.`t``x` WHERE `id` = 5 AND `name` = _utf8mb4 X'61' LIMIT 1", expectedRows: 1 },
    ]);
  });

  test('updates that keep their number key share a joined UPDATE; a key change or a string key goes alone', () => {
    const num: TableShape = { ...shape, keyIndexes: [0] };
    const planned = planInOrder([
      { kind: 'update', table: num, before: row(1n, 1n, 'a'), after: row(1n, 2n, 'b') },
      { kind: 'update', table: num, before: row(2n, 1n, 'a'), after: row(2n, 3n, null) },
      { kind: 'update', table: num, before: row(3n, 1n), after: row(4n, 1n) },
      { kind: 'update', table: shape, before: row(5n, 1n), after: row(5n, 2n) },
    ]);
    assert.deepEqual(planned, [
      {
        sql: "UPDATE `dst`.`t``x` AS `_t` JOIN (SELECT 1 AS `k0`,2 AS `c1`,X'62' AS `c2` UNION ALL SELECT 2,3,NULL) AS `_v` ON `_t`.`id` = `_v`.`k0` SET `_t`.`keyspace_id`=`_v`.`c1`,`_t`.`name`=`_v`.`c2`",
        expectedRows: 2,
      },
      { sql: "UPDATE `dst`.`t``x` SET `id`=4,`keyspace_id`=1,`name`=X'61' WHERE `id` = 3", expectedRows: 1 },
      { sql: "UPDATE `dst`.`t``x` SET `id`=5,`keyspace_id`=2,`name`=X'61' WHERE `id` = 5 AND `name` = _utf8mb4 X'61'", expectedRows: 1 },
    ]);
  });

  test('a group is reordered into epochs of distinct keys: deletes, updates, inserts, by table; a repeated key or a table without a primary key cuts it', () => {
    const num: TableShape = { ...shape, keyIndexes: [0] };
    const other: TableShape = { ...num, name: 'o' };
    const noPk: TableShape = { ...num, name: 'n', hasPrimaryKey: false };
    const ins = (t: TableShape, id: bigint) => ({ kind: 'insert' as const, table: t, after: row(id, 1n) });
    const upd = (t: TableShape, id: bigint, to = id) => ({ kind: 'update' as const, table: t, before: row(id, 1n), after: row(to, 2n) });
    const del = (t: TableShape, id: bigint) => ({ kind: 'delete' as const, table: t, before: row(id, 1n) });
    const show = (cs: ReturnType<typeof batchOrder>) =>
      cs.map((c) => `${c.kind[0]}${c.table === num ? 't' : c.table.name}${String((c.kind === 'insert' ? c.after : c.before)[0])}`);
    // Epoch 1: i t1, u o2, i o3, d t4, u t5, i t6 (all keys distinct) → deletes, updates, inserts, each by table
    // in order of first appearance (t, then o).
    // Then u t1 touches t1 again: epoch 2, until the table without a primary key, which stands alone.
    assert.deepEqual(
      show(
        batchOrder([
          ins(num, 1n),
          upd(other, 2n),
          ins(other, 3n),
          del(num, 4n),
          upd(num, 5n),
          ins(num, 6n),
          upd(num, 1n),
          del(other, 3n),
          ins(noPk, 7n),
          ins(num, 8n),
          del(num, 8n),
        ]),
      ),
      ['dt4', 'ut5', 'uo2', 'it1', 'it6', 'io3', 'do3', 'ut1', 'in7', 'it8', 'dt8'],
    );
    // An update that changes its key touches both keys: an insert of its new key waits for the next epoch.
    assert.deepEqual(show(batchOrder([upd(num, 1n, 2n), ins(num, 2n), del(num, 3n)])), ['ut1', 'dt3', 'it2']);
    // Batched after reordering: one statement per kind and table.
    assert.equal(planStatements([ins(num, 1n), del(num, 4n), ins(num, 2n), del(num, 5n)]).length, 2);
  });

  test('a DDL stops a stream when it names a streamed table, as a word', () => {
    const s: StreamScope = { ...scope('-80'), tables: new Set(['orders', 'items']) };
    const ddl = (statement: string, database = 'src') => ({
      type: 'ddl' as const,
      gtid: '0-1-2',
      database,
      statement,
      position: 'MariaDB/0-1-2',
      timestamp: 0,
    });
    assert.equal(ddlTouches(s, ddl('ALTER TABLE `orders` ADD c INT')), true);
    assert.equal(ddlTouches(s, ddl('drop table items')), true);
    assert.equal(ddlTouches(s, ddl('CREATE TABLE orders_archive (id INT)')), false);
    assert.equal(ddlTouches(s, ddl('ALTER TABLE src.orders ADD c INT', 'other')), true);
    assert.equal(ddlTouches(s, ddl('ALTER TABLE orders ADD c INT', 'other')), false);
  });
});
