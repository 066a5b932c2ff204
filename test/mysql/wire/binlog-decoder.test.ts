// The binlog decoder's pure parts on bytes made here: MySQL's binary DECIMAL (the example of strings/decimal.c),
// temporal values, integers by signedness, CHAR lengths, and the event frame's CRC32.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { T } from '../../../src/mysql/wire/binlog/column-types.ts';
import { BinlogFormatError, readEvent } from '../../../src/mysql/wire/binlog/event-header.ts';
import { decodeDecimal, resolveStringType, valueDecoder, type Cursor } from '../../../src/mysql/wire/binlog/row-values.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function decode(type: number, meta: number, bytes: Buffer, unsigned = false): unknown {
  const c: Cursor = { buf: bytes, pos: 0 };
  const v = valueDecoder({ type, meta, unsigned })(c);
  assert.equal(c.pos, bytes.length, 'the decoder consumed the whole value');
  return v;
}

test('binary DECIMAL: the example of decimal.c (DECIMAL(14,4)), negative, and groups of every width', () => {
  assert.equal(decodeDecimal(hex('81 0D FB 38 D2 04 D2'), 0, 14, 4), '1234567890.1234');
  assert.equal(decodeDecimal(hex('7E F2 04 C7 2D FB 2D'), 0, 14, 4), '-1234567890.1234');
  assert.equal(decode(T.NEWDECIMAL, 14 | (4 << 8), hex('81 0D FB 38 D2 04 D2')), '1234567890.1234');
  // DECIMAL(5,5): no integer digits; 0.00001 is 1 in a 3-byte group of 5 digits.
  assert.equal(decodeDecimal(hex('80 00 01'), 0, 5, 5), '0.00001');
  // DECIMAL(1,0): zero and -9.
  assert.equal(decodeDecimal(hex('80'), 0, 1, 0), '0');
  assert.equal(decodeDecimal(hex('76'), 0, 1, 0), '-9');
});

test('temporal values: DATETIME2 and TIME2 with fractions, negative times, zero dates', () => {
  // DATETIME(0) 2024-03-10 02:30:00: (2024*13+3)<<22 | 10<<17 | 2<<12 | 30<<6, offset by 2^39.
  const packed = (BigInt(2024 * 13 + 3) << 22n) | (10n << 17n) | (2n << 12n) | (30n << 6n);
  const dt = Buffer.alloc(5);
  dt.writeUIntBE(Number(packed + 0x8000000000n), 0, 5);
  assert.equal(decode(T.DATETIME2, 0, dt), '2024-03-10 02:30:00');
  assert.equal(decode(T.DATETIME2, 6, Buffer.concat([dt, hex('01 E2 40')])), '2024-03-10 02:30:00.123456');
  assert.equal(decode(T.DATETIME2, 0, hex('80 00 00 00 00')), '0000-00-00 00:00:00');
  // TIME(0) -00:00:01 and TIME(6) -00:00:00.5 (the fraction borrows a second from the integer part).
  assert.equal(decode(T.TIME2, 0, hex('7F FF FF')), '-00:00:01');
  assert.equal(decode(T.TIME2, 6, hex('7F FF FF F8 5E E0')), '-00:00:00.500000');
  assert.equal(decode(T.TIME2, 2, hex('7F FF FF CE')), '-00:00:00.50');
  // TIMESTAMP2(3): seconds big-endian, then milliseconds as 2 bytes of 1/10000 units.
  const ts = Buffer.alloc(6);
  ts.writeUInt32BE(Date.UTC(2024, 2, 10, 2, 30, 48) / 1000, 0);
  ts.writeUInt16BE(1230, 4);
  assert.equal(decode(T.TIMESTAMP2, 3, ts), '2024-03-10 02:30:48.123');
  assert.equal(decode(T.TIMESTAMP2, 0, hex('00 00 00 00')), '0000-00-00 00:00:00');
  assert.equal(decode(T.DATE, 0, Buffer.from([0x6a, 0x30, 0x0f])), '1944-03-10');
});

test('integers by signedness, YEAR, BIT as bytes, ENUM/SET as numbers, CHAR of more than 255 bytes', () => {
  assert.equal(decode(T.LONGLONG, 0, hex('FF FF FF FF FF FF FF FF'), true), 18446744073709551615n);
  assert.equal(decode(T.LONGLONG, 0, hex('FF FF FF FF FF FF FF FF')), -1n);
  assert.equal(decode(T.INT24, 0, hex('00 00 80')), -8388608n);
  assert.equal(decode(T.YEAR, 0, hex('00')), 0n);
  assert.equal(decode(T.YEAR, 0, hex('01')), 1901n);
  assert.deepEqual(decode(T.BIT, 4 | (1 << 8), hex('08 01')), hex('08 01'));
  assert.equal(decode(T.SET, 8, hex('01 00 00 00 00 00 00 80')), 0x8000000000000001n);
  // CHAR(100) utf8mb4: 400 bytes, so its length keeps two bits in the type byte (0xfe ^ 0x10 → real type STRING).
  const { type, meta } = resolveStringType(T.STRING, 0xee | (0x90 << 8));
  assert.equal(type, T.STRING);
  assert.equal(meta, 400);
  assert.deepEqual(decode(type, meta, hex('03 00 61 62 63')), Buffer.from('abc'));
  assert.deepEqual(resolveStringType(T.STRING, T.ENUM | (1 << 8)), { type: T.ENUM, meta: 1 });
  assert.equal(decode(T.FLOAT, 0, hex('CD CC CC 3D')), Math.fround(0.1));
});

test('an event whose CRC32 does not match is refused; a good one is stripped of it', () => {
  // A 19-byte header (XID, type 16) with an 8-byte body and its checksum.
  const body = Buffer.alloc(19 + 8 + 4);
  body.writeUInt32LE(1700000000, 0);
  body[4] = 16;
  body.writeUInt32LE(100, 5);
  body.writeUInt32LE(body.length, 9);
  body.writeUInt32LE(4242, 13);
  body.writeUInt32LE(crc32(body.subarray(0, 27)), 27);
  const format = { postHeader: new Uint8Array(256), checksum: true };
  const ev = readEvent(body, format);
  assert.equal(ev.bodyEnd, 27);
  assert.equal(ev.type, 16);
  assert.equal(ev.serverId, 100);
  body[20] ^= 1;
  assert.throws(
    () => readEvent(body, format),
    (err: Error) => err instanceof BinlogFormatError && /CRC32/.test(err.message),
  );
});
