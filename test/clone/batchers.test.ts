import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BulkBatcher } from '../../src/clone/bulk-batcher.ts';
import { ByteBuilder, copyInto, firstSpecial } from '../../src/mysql/wire/byte-builder.ts';
import type { Batch, BatchColumn } from '../../src/clone/batch.ts';
import { InsertBatcher } from '../../src/clone/insert-batcher.ts';
import { LoadDataBatcher } from '../../src/clone/load-data-batcher.ts';
import { tableFlags, AUTO_DELAY_MIN_ROWS } from '../../src/clone/schema-copy.ts';
import { parseStrategy } from '../../src/clone/strategy-flags.ts';
import { binaryLayout } from '../../src/mysql/wire/binary-row.ts';
import { ByteArena } from '../../src/mysql/wire/byte-arena.ts';
import { RawRow } from '../../src/mysql/wire/raw-rows.ts';
import type { TableDefinition } from '../../src/mysql/schema.ts';
import { binaryRowPacket, rowPacket } from '../helpers/packets.ts';

const COLUMNS: BatchColumn[] = [
  { name: 'id', dataType: 'bigint', encoding: 'number' },
  { name: 's', dataType: 'varbinary', encoding: 'bytes' },
  { name: 'b', dataType: 'bit', encoding: 'bytes' },
];

function row(values: (Buffer | string | null)[]): RawRow {
  const r = new RawRow(values.length);
  const p = rowPacket(values);
  r.parse(p, 0, p.length);
  return r;
}

test('escaping: every byte value survives, only \\\\ TAB LF NUL are escaped', () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const b = new ByteBuilder(16);
  b.reserve(600);
  b.escaped(all, 0, all.length);
  const out = Buffer.from(b.buffer.subarray(0, b.length));
  assert.equal(out.length, 256 + 4);
  assert.deepEqual([...out.subarray(0, 2)], [0x5c, 0x30]);
  assert.deepEqual([...out.subarray(10, 14)], [0x5c, 0x74, 0x5c, 0x6e]);
  assert.equal(out.indexOf(Buffer.from([0x5c, 0x5c])), 0x5c + 3);
});

test('firstSpecial agrees with a byte-by-byte scan at every alignment', () => {
  const specials = [0x00, 0x09, 0x0a, 0x5c];
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let trial = 0; trial < 5000; trial++) {
    const big = Buffer.alloc(100);
    for (let i = 0; i < big.length; i++) big[i] = rnd() < 0.02 ? specials[Math.floor(rnd() * 4)] : 1 + Math.floor(rnd() * 255);
    const off = Math.floor(rnd() * 4);
    const src = big.subarray(off, off + 90);
    const s = Math.floor(rnd() * 90);
    const e = s + Math.floor(rnd() * (90 - s + 1));
    let naive = s;
    while (naive < e && !specials.includes(src[naive])) naive++;
    assert.equal(firstSpecial(src, s, e), naive);
  }
});

test('LOAD DATA batches: tab-separated lines, \\N for NULL, BIT as hex, cut by size at a row boundary', () => {
  const b = new LoadDataBatcher('db', 't', COLUMNS, { maxRows: 1, maxSize: 40 });
  const batches: Batch[] = [];
  for (const values of [
    ['1', 'a\tb', Buffer.from([1])],
    ['2', null, Buffer.from([0xff, 0])],
    ['-3', 'x'.repeat(30), Buffer.from([0])],
  ]) {
    const full = b.add(row(values));
    if (full) batches.push(full);
  }
  const last = b.take();
  if (last) batches.push(last);
  assert.equal(b.take(), null);
  const text = batches.map((x) => (x.kind === 'load-data' ? x.data.toString('latin1') : ''));
  assert.deepEqual(text, ['1\ta\\tb\t01\n2\t\\N\tFF00\n', `-3\t${'x'.repeat(30)}\t00\n`]);
  assert.deepEqual(
    batches.map((x) => x.rows),
    [2, 1],
  );
  assert.match(batches[0].sql, /^LOAD DATA LOCAL INFILE/);
  for (const x of batches) if (x.kind === 'load-data') x.release();
});

test('LOAD DATA lines: rows copied in one piece encode exactly as value by value', () => {
  // Columns without BIT take the one-copy path when no value is NULL, 251 bytes or longer, or needs escaping.
  const columns: BatchColumn[] = [
    { name: 'id', dataType: 'bigint', encoding: 'number' },
    { name: 's', dataType: 'varchar', encoding: 'bytes' },
    { name: 't', dataType: 'varbinary', encoding: 'bytes' },
    { name: 'd', dataType: 'datetime', encoding: 'number' },
  ];
  let seed = 11;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  const value = (): Buffer | null => {
    const kind = rnd(10);
    if (kind === 0) return null;
    const len = kind === 1 ? 251 + rnd(300) : kind === 2 ? 0 : rnd(60);
    // Mostly letters; now and then a byte that must be escaped.
    return Buffer.from(Array.from({ length: len }, () => (rnd(40) === 0 ? [0x00, 0x09, 0x0a, 0x5c][rnd(4)] : 0x61 + rnd(26))));
  };
  // What each line must be, built the slow and obvious way.
  const expected = (values: (Buffer | null)[]) =>
    Buffer.concat([
      ...values.flatMap((v, i) => {
        const field =
          v === null
            ? Buffer.from('\\N')
            : Buffer.from(
                v.toString('latin1').replace(/[\\\0\t\n]/g, (c) => '\\' + ({ '\\': '\\', '\0': '0', '\t': 't', '\n': 'n' } as Record<string, string>)[c]),
                'latin1',
              );
        return i ? [Buffer.from('\t'), field] : [field];
      }),
      Buffer.from('\n'),
    ]);
  const b = new LoadDataBatcher('db', 't', columns, { maxRows: 1_000_000, maxSize: 1 << 20 });
  const want: Buffer[] = [];
  let compact = 0;
  for (let n = 0; n < 3000; n++) {
    const values = [Buffer.from(String(rnd(1e9))), value(), value(), Buffer.from('2024-03-10 02:30:00.000001')];
    const r = row(values);
    if (r.compact) compact++;
    want.push(expected(values));
    assert.equal(b.add(r), null);
  }
  const batch = b.take()!;
  assert.equal(batch.kind, 'load-data');
  if (batch.kind !== 'load-data') return;
  assert.ok(compact > 500 && compact < 2900, `both paths are exercised (${compact} of 3000 rows compact)`);
  assert.ok(batch.data.equals(Buffer.concat(want)));
  batch.release();
});

test('bulk batches: the command, blob types, then per value an indicator and the value with its length prefix', () => {
  const b = new BulkBatcher('db', 't', COLUMNS, { maxRows: 1, maxSize: 60_000 });
  // Lengths at each boundary of the length prefix: 1 byte below 251, then 0xFC + 2, then 0xFD + 3.
  const sizes = [0, 250, 251, 65535, 65536];
  const values = sizes.map((n, i) => Buffer.alloc(n, 0x61 + i));
  const batches: Batch[] = [];
  for (const [i, v] of values.entries()) {
    const full = b.add(row([String(i), v, i === 1 ? null : Buffer.from([0xff])]));
    if (full) batches.push(full);
  }
  batches.push(b.take()!);
  // Cut by size at row boundaries: the 65,535- and 65,536-byte rows each close the batch before them.
  assert.deepEqual(
    batches.map((x) => x.rows),
    [3, 1, 1],
  );
  const lengthPrefix = (n: number) => (n < 251 ? [n] : n < 65536 ? [0xfc, n & 255, n >> 8] : [0xfd, n & 255, (n >> 8) & 255, n >> 16]);
  const expectedRow = (i: number) =>
    Buffer.concat([Buffer.from([0, 1, 0x30 + i]), Buffer.from([0, ...lengthPrefix(sizes[i])]), values[i], Buffer.from(i === 1 ? [1] : [0, 1, 0xff])]);
  const prefix = Buffer.from([0xfa, 0, 0, 0, 0, 128, 0, 0xfc, 0, 0xfc, 0, 0xfc, 0]);
  const firstRow = [0, 3, 4];
  for (const [k, x] of batches.entries()) {
    assert.equal(x.kind, 'bulk');
    if (x.kind !== 'bulk') continue;
    assert.equal(x.sql, 'INSERT INTO `db`.`t` (`id`,`s`,`b`) VALUES (?,?,?)');
    const rows = Array.from({ length: x.rows }, (_, j) => expectedRow(firstRow[k] + j));
    assert.ok(x.packet.subarray(4).equals(Buffer.concat([prefix, ...rows])), `batch ${k}`);
    assert.equal(x.bytes, x.packet.length);
    x.release();
  }
});

test('bulk batches of binary rows: each column bound by its own type, values copied as the source sent them', () => {
  // BIGINT, BIGINT UNSIGNED, VARCHAR, DATETIME(6), MEDIUMINT UNSIGNED, YEAR, then eight nullable TINYINTs so that
  // the NULL bitmap spans two bytes.
  const fields = [
    { columnType: 8, flags: 0, decimals: 0 },
    { columnType: 8, flags: 32, decimals: 0 },
    { columnType: 253, flags: 0, decimals: 0 },
    { columnType: 12, flags: 0, decimals: 6 },
    { columnType: 9, flags: 32, decimals: 0 },
    { columnType: 13, flags: 32, decimals: 0 },
    ...Array.from({ length: 8 }, () => ({ columnType: 1, flags: 0, decimals: 0 })),
  ];
  const layout = binaryLayout(fields);
  const int64 = (v: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, v));
    return b;
  };
  const datetime = Buffer.from([11, 0xea, 0x07, 3, 8, 2, 30, 0, 0x40, 0xe2, 0x01, 0]); // 2026-03-08 02:30:00.123456
  const values = [
    int64(-5n),
    int64(18446744073709551615n),
    Buffer.from([3, 0x61, 0x62, 0x63]),
    datetime,
    Buffer.from([0xff, 0xff, 0xff, 0]),
    Buffer.from([0x6b, 0x08]),
    Buffer.from([0x80]),
    null,
    Buffer.from([1]),
    null,
    null,
    Buffer.from([0x7f]),
    null,
    Buffer.from([2]),
  ];
  const packet = binaryRowPacket(values);
  const r = new RawRow(fields.length, layout);
  r.parse(packet, 0, packet.length);
  assert.deepEqual(
    Array.from({ length: fields.length }, (_, i) => r.value(i)?.toString('latin1') ?? null),
    ['-5', '18446744073709551615', 'abc', '2026-03-08 02:30:00.123456', '16777215', '2155', '-128', null, '1', null, null, '127', null, '2'],
  );

  const b = new BulkBatcher(
    'db',
    't',
    fields.map((_, i) => ({ name: `c${i}`, dataType: 'bigint', encoding: 'number' as const })),
    { maxRows: 100, maxSize: 1 << 20 },
  );
  assert.equal(b.add(r), null);
  // A text row next (a read retried as text, say) cannot share the batch's types: it starts a batch of its own.
  const text = row(['1', '2', 'x', '2026-03-08 02:30:00', '3', '2000', '1', null, '1', null, null, '1', null, '1']);
  const typed = b.add(text);
  const last = b.take();
  assert.ok(typed?.kind === 'bulk' && last?.kind === 'bulk');
  if (typed?.kind !== 'bulk' || last?.kind !== 'bulk') return;
  assert.deepEqual([typed.rows, last.rows], [1, 1]);
  const types = (x: typeof typed) => [...x.packet.subarray(4 + 7, 4 + 7 + 2 * fields.length)];
  // LONGLONG, LONGLONG unsigned, blob, DATETIME, LONG unsigned (MEDIUMINT has no parameter type), SHORT unsigned
  // (nor has YEAR), TINY × 8.
  assert.deepEqual(types(typed), [8, 0, 8, 0x80, 0xfc, 0, 12, 0, 3, 0x80, 2, 0x80, ...Array.from({ length: 8 }, () => [1, 0]).flat()]);
  assert.deepEqual(types(last), Array.from({ length: fields.length }, () => [0xfc, 0]).flat());
  const expectedRow = Buffer.concat(values.map((v) => (v === null ? Buffer.from([1]) : Buffer.concat([Buffer.from([0]), v]))));
  assert.ok(typed.packet.subarray(4 + 7 + 2 * fields.length).equals(expectedRow));
  typed.release();
  last.release();
  // Text writers refuse binary rows outright.
  assert.throws(() => new InsertBatcher('db', 't', COLUMNS, { maxRows: 2, maxSize: 1 << 20 }).add(r), /binary-protocol row/);
});

test('INSERT batches: numbers as text, bytes as hex literals, bounded in rows and bytes', () => {
  const b = new InsertBatcher('db', 't', COLUMNS, { maxRows: 2, maxSize: 1 << 20 });
  assert.equal(b.add(row(['1', "it's", null])), null);
  const full = b.add(row(['-2.5e3', '', Buffer.from([1])]));
  assert.equal(full?.kind === 'insert' && full.sql, "INSERT INTO `db`.`t` (`id`,`s`,`b`) VALUES (1,X'69742773',NULL),(-2.5e3,'',X'01')");
  assert.equal(b.take(), null);
  const small = new InsertBatcher('db', 't', COLUMNS, { maxRows: 100, maxSize: 60 });
  assert.equal(small.add(row(['1', 'a', null])), null);
  const cut = small.add(row(['2', 'b', null]));
  assert.equal(cut?.kind === 'insert' && cut.sql, "INSERT INTO `db`.`t` (`id`,`s`,`b`) VALUES (1,X'61',NULL)");
  assert.equal((small.take() as { sql: string }).sql, "INSERT INTO `db`.`t` (`id`,`s`,`b`) VALUES (2,X'62',NULL)");
  assert.throws(() => small.add(row(['1)', 'a', null])), /not a number/);
});

test('secondary indexes are delayed for big tables, unless a foreign key or FULLTEXT index needs them', () => {
  const flags = parseStrategy('-populate_blp_checkpoint');
  const table = (rowsEstimate: number, extra = ''): TableDefinition => ({
    name: 't',
    kind: 'table',
    columns: [],
    selectList: [],
    primaryKey: ['id'],
    rowsEstimate,
    dataLength: 0,
    indexLength: 0,
    createSql: `CREATE TABLE \`t\` (\n  \`id\` int NOT NULL,\n  PRIMARY KEY (\`id\`),\n  KEY \`k\` (\`id\`)${extra}\n) ENGINE=InnoDB`,
  });
  assert.equal(tableFlags(table(AUTO_DELAY_MIN_ROWS - 1), flags).delaySecondaryIndexes, false);
  assert.equal(tableFlags(table(AUTO_DELAY_MIN_ROWS), flags).delaySecondaryIndexes, true);
  assert.equal(tableFlags(table(10 ** 7, ',\n  CONSTRAINT `fk` FOREIGN KEY (`id`) REFERENCES `p` (`id`)'), flags).delaySecondaryIndexes, false);
  assert.equal(tableFlags(table(10 ** 7, ',\n  FULLTEXT KEY `ft` (`id`)'), flags).delaySecondaryIndexes, false);
});

test('copies between two buffers of one arena (copyWithin on it) give the bytes a plain copy gives', () => {
  const arena = new ByteArena(1 << 16);
  const src = arena.take(4096)!;
  const out = arena.take(4096)!;
  for (let i = 0; i < src.length; i++) src[i] = (i * 7 + 3) & 0xff;
  const same = { bytes: arena.bytes, outBase: out.byteOffset, srcBase: src.byteOffset, wasm: arena.wasm };
  for (const len of [0, 1, 15, 16, 17, 31, 32, 33, 100, 1000]) {
    for (const at of [0, 5, 1000]) {
      out.fill(0);
      const end = copyInto(out, 9, src, at, at + len, same);
      assert.equal(end, 9 + len);
      assert.ok(out.subarray(9, end).equals(src.subarray(at, at + len)), `length ${len} from ${at}`);
      assert.equal(out[8], 0);
      assert.equal(out[end], 0, `length ${len}: nothing past the copy`);
    }
  }
});

test('batches built in an arena from rows staged in it: the same bytes, and every buffer given back', () => {
  const arena = new ByteArena(8 << 20);
  const staging = arena.take(256 * 1024)!;
  const values = (n: number): (Buffer | null)[] => [
    Buffer.from(String(n)),
    n % 9 === 0 ? null : Buffer.alloc(n % 70, 0x61 + (n % 26)),
    n === 40 ? Buffer.alloc(300_000, 0x7a) : Buffer.from([n & 0xff]),
  ];
  // The same rows, from ordinary buffers into a batcher without an arena, and staged into one with it.
  const plain = new BulkBatcher('db', 't', COLUMNS, { maxRows: 1, maxSize: 20_000 });
  const staged = new BulkBatcher('db', 't', COLUMNS, { maxRows: 1, maxSize: 20_000, arena });
  const want: Buffer[] = [];
  const got: Buffer[] = [];
  const r = new RawRow(COLUMNS.length);
  for (let n = 0; n < 600; n++) {
    const packet = rowPacket(values(n));
    const p = plain.add(row(values(n)));
    if (p) want.push(Buffer.from(p.packet.subarray(4)));
    p?.release();
    // A row of 300,000 bytes does not fit the staging: it comes from a buffer of its own, as a carried packet does.
    const at = packet.length <= staging.length ? staging : Buffer.alloc(packet.length);
    packet.copy(at);
    r.parse(at, 0, packet.length);
    const s = staged.add(r);
    at.fill(0xee, 0, packet.length); // the next chunk overwrites the staging: the batch must have copied the row
    if (s) got.push(Buffer.from(s.packet.subarray(4)));
    s?.release();
  }
  for (const [b, out] of [
    [plain, want],
    [staged, got],
  ] as const) {
    const last = b.take()!;
    out.push(Buffer.from(last.packet.subarray(4)));
    last.release();
  }
  assert.ok(got.length > 3, `${got.length} batches`);
  assert.deepEqual(got, want);
  arena.give(staging);
  assert.equal(arena.outstanding, 0, 'every batch buffer went back, the one the big row outgrew too');
});

test('a batch that fills little of its arena slot moves to a buffer of its size, and gives the slot back', () => {
  const arena = new ByteArena(8 << 20);
  const batcher = new BulkBatcher('db', 't', COLUMNS, { maxRows: 1, maxSize: 1 << 20, arena });
  const held: { release(): void; packet: Buffer }[] = [];
  const r = new RawRow(COLUMNS.length);
  // A small table's chunk: a few rows, then take() at the chunk's end; many such batches waiting at once.
  for (let n = 0; n < 40; n++) {
    for (let i = 0; i < 5; i++) {
      const packet = rowPacket([Buffer.from(String(i)), Buffer.from('abc'), Buffer.from([i])]);
      r.parse(packet, 0, packet.length);
      assert.equal(batcher.add(r), null);
    }
    held.push(batcher.take()!);
  }
  // 40 slots of 1 MiB and more would not fit an 8 MiB arena; 40 buffers of 4 KiB do.
  for (const b of held) assert.ok(arena.owns(b.packet) && b.packet.buffer.byteLength === 8 << 20 && b.packet.length < 4096);
  assert.equal(arena.outstanding, 40);
  for (const b of held) b.release();
  assert.equal(arena.outstanding, 0);
});
