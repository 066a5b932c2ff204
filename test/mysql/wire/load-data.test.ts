import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadDataStatement, loadFieldEncoding } from '../../../src/mysql/wire/load-data.ts';
import { RawRow } from '../../../src/mysql/wire/raw-rows.ts';
import { rowPacket } from '../../helpers/packets.ts';

test('LOAD DATA statement: binary charset, hex terminators, quoted names, BIT through UNHEX', () => {
  assert.equal(
    loadDataStatement('d`b', 't', [
      { name: 'id', encoding: 'plain' },
      { name: 'b`it', encoding: 'hex' },
      { name: 's', encoding: 'escaped' },
    ]),
    "LOAD DATA LOCAL INFILE 'shardworker-batch' INTO TABLE `d``b`.`t` CHARACTER SET binary FIELDS TERMINATED BY X'09' ENCLOSED BY '' ESCAPED BY X'5C' LINES STARTING BY '' TERMINATED BY X'0A' (`id`,@shardworker_1,`s`) SET `b``it` = UNHEX(@shardworker_1)",
  );
});

test('field encodings by type', () => {
  for (const t of ['int', 'BIGINT', 'decimal', 'double', 'year', 'date', 'datetime', 'timestamp', 'time']) assert.equal(loadFieldEncoding(t), 'plain', t);
  for (const t of ['varchar', 'blob', 'json', 'enum', 'set', 'binary', 'geometry']) assert.equal(loadFieldEncoding(t), 'escaped', t);
  assert.equal(loadFieldEncoding('bit'), 'hex');
});

test('RawRow reads length-coded values and NULLs in place', () => {
  const long = Buffer.alloc(70000, 7);
  const mid = Buffer.alloc(300, 5);
  const packet = Buffer.concat([Buffer.from('head'), rowPacket(['12', null, '', mid, long])]);
  const row = new RawRow(5);
  row.parse(packet, 4, packet.length);
  assert.deepEqual(row.values(), [Buffer.from('12'), null, Buffer.alloc(0), mid, long]);
  assert.equal(row.isNull(1), true);
  assert.equal(row.buffer, packet);
  assert.throws(() => new RawRow(4).parse(packet, 4, packet.length), /does not hold 4 values/);
});
