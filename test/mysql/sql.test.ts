import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildChunkSelect,
  keyRangeCondition,
  encodeRow,
  encodeValue,
  encodingForType,
  insertPrefix,
  quoteId,
  quoteString,
  quoteTable,
} from '../../src/mysql/sql.ts';
import { parseShardName } from '../../src/keyrange/keyrange.ts';

test('identifiers are quoted, backticks doubled', () => {
  assert.equal(quoteId('a'), '`a`');
  assert.equal(quoteId('we`ird'), '`we``ird`');
  assert.equal(quoteId('select'), '`select`');
  assert.equal(quoteId('naïve 表'), '`naïve 表`');
  assert.equal(quoteTable('db', 't`x'), '`db`.`t``x`');
  assert.throws(() => quoteId('a\0b'), /NUL/);
});

test('string literals escape quotes, backslashes and control bytes', () => {
  assert.equal(quoteString("it's"), "'it\\'s'");
  assert.equal(quoteString('a\\b\n\r\0\x1a'), "'a\\\\b\\n\\r\\0\\Z'");
});

test('numeric types are written as sent, everything else as hex', () => {
  for (const t of ['tinyint', 'INT', 'bigint', 'decimal', 'float', 'double', 'year']) assert.equal(encodingForType(t), 'number');
  for (const t of ['varchar', 'blob', 'datetime', 'timestamp', 'enum', 'set', 'bit', 'json', 'longtext', 'date', 'time'])
    assert.equal(encodingForType(t), 'bytes');
  assert.equal(encodeValue(null, 'number'), 'NULL');
  assert.equal(encodeValue(null, 'bytes'), 'NULL');
  assert.equal(encodeValue(Buffer.from('18446744073709551615'), 'number'), '18446744073709551615');
  assert.equal(encodeValue(Buffer.from('-12.500000000000000000000000000001'), 'number'), '-12.500000000000000000000000000001');
  assert.equal(encodeValue(Buffer.from('1.7976931348623157e308'), 'number'), '1.7976931348623157e308');
  assert.equal(encodeValue(Buffer.from([0, 0xff, 0x27, 0x5c]), 'bytes'), "X'00ff275c'");
  assert.equal(encodeValue(Buffer.alloc(0), 'bytes'), "''");
  assert.equal(encodeValue(Buffer.from('😀'), 'bytes'), "X'f09f9880'");
  assert.throws(() => encodeValue(Buffer.from('1; DROP TABLE t'), 'number'), /not a number/);
  assert.throws(() => encodeValue(Buffer.alloc(0), 'number'), /not a number/);
});

test('rows and INSERT prefixes', () => {
  assert.equal(encodeRow([Buffer.from('1'), null, Buffer.from('a')], ['number', 'bytes', 'bytes']), "(1,NULL,X'61')");
  assert.equal(insertPrefix('d', 't', ['a', 'b`c']), 'INSERT INTO `d`.`t` (`a`,`b``c`) VALUES ');
});

test('chunk selects', () => {
  assert.equal(
    buildChunkSelect({ db: 'd', table: 't', selectList: ['`id`', 'CAST(`f` AS DOUBLE)'], chunk: '`id` < 10', orderBy: ['id'] }),
    'SELECT `id`,CAST(`f` AS DOUBLE) FROM `d`.`t` WHERE `id` < 10 ORDER BY `id`',
  );
  assert.equal(buildChunkSelect({ db: 'd', table: 't', selectList: ['`a`'], chunk: null, orderBy: [] }), 'SELECT `a` FROM `d`.`t`');
  assert.equal(
    buildChunkSelect({ db: 'd', table: 't', selectList: ['`a`'], chunk: null, orderBy: ['a'], after: '`a` > 3' }),
    'SELECT `a` FROM `d`.`t` WHERE `a` > 3 ORDER BY `a`',
  );
  assert.equal(
    buildChunkSelect({ db: 'd', table: 't', selectList: ['`a`'], chunk: '`a` >= 1', orderBy: [], after: '`a` > 3' }),
    'SELECT `a` FROM `d`.`t` WHERE `a` >= 1 AND `a` > 3',
  );
});

test('keyRangeCondition: the rows of a key range, as the padded comparison of DESIGN.md decides', () => {
  const u = (shard: string) => keyRangeCondition('keyspace_id', 'uint64', parseShardName(shard));
  assert.equal(u('-'), '');
  assert.equal(u('-80'), '`keyspace_id` < 9223372036854775808');
  assert.equal(u('80-'), '`keyspace_id` >= 9223372036854775808');
  assert.equal(u('40-8000'), '`keyspace_id` >= 4611686018427387904 AND `keyspace_id` < 9223372036854775808');
  assert.equal(u('8000000000000000-c0'), '`keyspace_id` >= 9223372036854775808 AND `keyspace_id` < 13835058055282163712');
  // Bytes beyond the eighth: an 8-byte id is at or above such a bound only when its first 8 bytes are above.
  assert.equal(u('800000000000000001-'), '`keyspace_id` >= 9223372036854775809');
  assert.equal(u('800000000000000000-'), '`keyspace_id` >= 9223372036854775808');
  assert.equal(u('-ffffffffffffffff01'), '');
  assert.equal(u('ffffffffffffffff01-'), 'FALSE');
  const b = (shard: string) => keyRangeCondition('ks', 'bytes', parseShardName(shard));
  assert.equal(b('-80'), "`ks` < X'80'");
  // `8000-` and `80-` are one bound; a 1-byte id 0x80 is in both (X'80' >= X'80').
  assert.equal(b('8000-'), "`ks` >= X'80'");
  assert.equal(b('0080-c0'), "`ks` >= X'0080' AND `ks` < X'c0'");
  // `00-` is the whole range (a start of zero bytes is the lowest).
  assert.equal(b('00-'), '');
});
