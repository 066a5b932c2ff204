import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareIds, contains, KeyRangeError, parseShardName } from '../../src/keyrange/keyrange.ts';
import { keyspaceIdFromText, parseUint64Text, uint64KeyspaceId, UINT64_MAX } from '../../src/keyrange/keyspace-id.ts';
import { makeKeyspaceIdRouter, makeUint64HalvesRouter, uint64Threshold } from '../../src/keyrange/row-router.ts';

const hex = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');
const ascii = (s: string | bigint) => Buffer.from(String(s), 'latin1');
const krs = (...names: string[]) => names.map(parseShardName);
const MAX = UINT64_MAX;
const HALF = 1n << 63n; // the id 80 00 00 00 00 00 00 00

describe('keyspace ids', () => {
  it('uint64 is 8 big-endian bytes', () => {
    assert.deepEqual(uint64KeyspaceId(0n), hex('00 00 00 00 00 00 00 00'));
    assert.deepEqual(uint64KeyspaceId(1n), hex('00 00 00 00 00 00 00 01'));
    assert.deepEqual(uint64KeyspaceId(HALF - 1n), hex('7f ff ff ff ff ff ff ff'));
    assert.deepEqual(uint64KeyspaceId(HALF), hex('80 00 00 00 00 00 00 00'));
    assert.deepEqual(uint64KeyspaceId(MAX), hex('ff ff ff ff ff ff ff ff'));
    assert.deepEqual(uint64KeyspaceId(0x0102030405060708n), hex('01 02 03 04 05 06 07 08'));
  });
  it('uint64 out of range throws', () => {
    assert.throws(() => uint64KeyspaceId(-1n), KeyRangeError);
    assert.throws(() => uint64KeyspaceId(MAX + 1n), KeyRangeError);
  });
  it('parses text-protocol uint64', () => {
    assert.equal(parseUint64Text(ascii('0')), 0n);
    assert.equal(parseUint64Text(ascii('18446744073709551615')), MAX);
    assert.equal(parseUint64Text(ascii('00000000000000000042')), 42n);
    assert.equal(parseUint64Text(ascii('9223372036854775808')), HALF);
  });
  for (const bad of ['', '-1', '+1', '1.0', '1e3', ' 1', '1 ', 'abc', '18446744073709551616', '99999999999999999999', '000000000000000000001', '0x10']) {
    it(`refuses uint64 text ${JSON.stringify(bad)} naming it`, () => {
      assert.throws(
        () => parseUint64Text(ascii(bad)),
        (e: unknown) => e instanceof KeyRangeError && e.message.includes(JSON.stringify(bad)) && /unsigned 64-bit/.test(e.message),
      );
    });
  }
  it('shows binary or long bad values briefly', () => {
    assert.throws(() => parseUint64Text(hex('00 ff')), /0x00ff/);
    assert.throws(() => parseUint64Text(ascii('9'.repeat(100))), /\(100 bytes\)/);
  });
  it('keyspaceIdFromText by type', () => {
    assert.deepEqual(keyspaceIdFromText('uint64', ascii('9223372036854775808')), hex('80 00 00 00 00 00 00 00'));
    const raw = hex('80 01');
    const id = keyspaceIdFromText('bytes', raw);
    assert.deepEqual(id, raw);
    raw[0] = 0;
    assert.equal(id[0], 0x80, 'bytes ids are copies');
  });
});

describe('uint64Threshold', () => {
  it('pads short bounds, ignores trailing zeros and rounds long ones up', () => {
    assert.equal(uint64Threshold(hex('80')), HALF);
    assert.equal(uint64Threshold(hex('8000')), HALF);
    assert.equal(uint64Threshold(hex('80 00 00 00 00 00 00 00')), HALF);
    assert.equal(uint64Threshold(hex('80 00 00 00 00 00 00 00 00')), HALF, 'trailing zeros do not move a bound');
    assert.equal(uint64Threshold(hex('80 00 00 00 00 00 00 00 01')), HALF + 1n);
    assert.equal(uint64Threshold(hex('ff ff ff ff ff ff ff ff 00')), MAX);
    assert.equal(uint64Threshold(hex('ff ff ff ff ff ff ff ff 01')), MAX + 1n);
    assert.equal(uint64Threshold(hex('')), 0n);
  });
});

describe('uint64 router', () => {
  const route = (names: string[], value: bigint | string) => makeKeyspaceIdRouter('uint64', krs(...names))(ascii(value));

  it('1 -> 2 at the edges', () => {
    const r = makeKeyspaceIdRouter('uint64', krs('-80', '80-'));
    assert.equal(r(ascii(0n)), 0);
    assert.equal(r(ascii(HALF - 1n)), 0, '7fff…ffff is below 80');
    assert.equal(r(ascii(HALF)), 1, '8000…0000 is in 80-');
    assert.equal(r(ascii(MAX)), 1);
    assert.equal(r(ascii('1')), 0);
  });
  it('whole range - and 0', () => {
    for (const name of ['-', '0']) {
      assert.equal(route([name], 0n), 0);
      assert.equal(route([name], MAX), 0);
      assert.equal(route([name], HALF), 0);
    }
  });
  it('1 -> 3 uneven', () => {
    const names = ['-55', '55-aa', 'aa-'];
    const b55 = 0x55n << 56n;
    const baa = 0xaan << 56n;
    assert.equal(route(names, 0n), 0);
    assert.equal(route(names, b55 - 1n), 0);
    assert.equal(route(names, b55), 1);
    assert.equal(route(names, baa - 1n), 1);
    assert.equal(route(names, baa), 2);
    assert.equal(route(names, MAX), 2);
  });
  it('4-way, ranges in any order', () => {
    const names = ['c0-', '40-80', '-40', '80-c0'];
    assert.equal(route(names, 0n), 2);
    assert.equal(route(names, (0x40n << 56n) - 1n), 2);
    assert.equal(route(names, 0x40n << 56n), 1);
    assert.equal(route(names, HALF), 3);
    assert.equal(route(names, (0xc0n << 56n) - 1n), 3);
    assert.equal(route(names, 0xc0n << 56n), 0);
    assert.equal(route(names, MAX), 0);
  });
  it('-1 outside every range', () => {
    assert.equal(route(['-80'], HALF), -1);
    assert.equal(route(['80-c0'], 0n), -1);
    assert.equal(route(['80-c0'], MAX), -1);
    assert.equal(route([], 5n), -1);
  });
  it('multi-byte and longer-than-8-byte bounds', () => {
    assert.equal(route(['4000-8000'], 0x4000n << 48n), 0);
    assert.equal(route(['4000-8000'], (0x4000n << 48n) - 1n), -1);
    // Trailing zeros do not move a bound (Vitess): 80 00 00 00 00 00 00 00 00 is 80, the id 80 00…00 is above it.
    assert.equal(route(['-800000000000000000', '800000000000000000-'], HALF), 1);
    assert.equal(route(['-800000000000000000', '800000000000000000-'], HALF - 1n), 0);
    // 80 00 … 00 01 (9 bytes) sorts after the 8-byte id 80 00…00, so that id is below the range.
    assert.equal(route(['-800000000000000001', '800000000000000001-'], HALF), 0);
    assert.equal(route(['-800000000000000001', '800000000000000001-'], HALF + 1n), 1);
    assert.equal(route(['ffffffffffffffff01-'], MAX), -1);
    assert.equal(route(['-ffffffffffffffff01'], MAX), 0);
    assert.equal(route(['ffffffffffffffff00-'], MAX), 0);
  });
  it('leading zeros are accepted', () => {
    assert.equal(route(['-80', '80-'], '09223372036854775808'), 1);
  });
  for (const bad of ['', '-1', '1.5', ' 12', '12 ', '18446744073709551616', '99999999999999999999', '123456789012345678901', 'NULL']) {
    it(`throws on ${JSON.stringify(bad)} naming it`, () => {
      const r = makeKeyspaceIdRouter('uint64', krs('-80', '80-'));
      assert.throws(
        () => r(ascii(bad)),
        (e: unknown) => e instanceof KeyRangeError && e.message.includes(JSON.stringify(bad)),
      );
    });
  }
  it('agrees with contains() on ids around every boundary', () => {
    const ranges = krs('-15', '15-5555', '5555-80', '80-8000000000000001', '8000000000000001-aaaaaaaaaaaaaaaaaa', 'aaaaaaaaaaaaaaaaaa-ff', 'ff-');
    const r = makeKeyspaceIdRouter('uint64', ranges);
    const values = new Set<bigint>([0n, 1n, MAX, MAX - 1n]);
    for (const kr of ranges) {
      for (const bound of [kr.start, kr.end]) {
        const t = uint64Threshold(bound);
        for (const d of [-2n, -1n, 0n, 1n, 2n]) if (t + d >= 0n && t + d <= MAX) values.add(t + d);
      }
    }
    let seed = 12345n;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 6364136223846793005n + 1442695040888963407n) & MAX;
      values.add(seed);
    }
    const halves = makeUint64HalvesRouter(ranges);
    for (const v of values) {
      const id = uint64KeyspaceId(v);
      const expected = ranges.findIndex((kr) => contains(kr, id));
      assert.equal(r(ascii(v)), expected, `value ${v}`);
      // The same id read as a binary integer (a prepared statement's row), as its two 32-bit halves.
      assert.equal(halves(Number(v >> 32n), Number(v & 0xffffffffn)), expected, `value ${v} as halves`);
    }
  });
});

describe('bytes router', () => {
  const route = (names: string[], id: Buffer) => makeKeyspaceIdRouter('bytes', krs(...names))(id);

  it('ids shorter and longer than the bounds', () => {
    const names = ['-80', '80-'];
    assert.equal(route(names, hex('80')), 1, 'id exactly 80');
    assert.equal(route(names, hex('')), 0, 'the empty id is the lowest');
    assert.equal(route(names, hex('7f ff ff ff ff ff ff ff ff ff ff ff')), 0);
    assert.equal(route(names, hex('7f')), 0);
    assert.equal(route(names, hex('80 00 00 00 00 00 00 00 00 00')), 1);
    assert.equal(route(names, hex('ff ff ff ff ff ff ff ff ff ff')), 1);
  });
  it('multi-byte bounds', () => {
    const names = ['-4000', '4000-8000', '8000-'];
    assert.equal(route(names, hex('40')), 1, '40 is 4000 padded');
    assert.equal(route(names, hex('3f ff')), 0);
    assert.equal(route(names, hex('40 00')), 1);
    assert.equal(route(names, hex('80')), 2, 'a 1-byte id 80 is in 8000- (Vitess), not in -8000');
    assert.equal(route(names, hex('80 00')), 2);
    assert.equal(route(names, hex('7f ff ff ff ff ff ff ff ff')), 1);
  });
  it('whole range and -1', () => {
    assert.equal(route(['0'], hex('')), 0);
    assert.equal(route(['-'], hex('ff ff')), 0);
    assert.equal(route(['40-80'], hex('3f')), -1);
    assert.equal(route(['40-80'], hex('80')), -1);
  });
  it('agrees with contains() on random ids of every length', () => {
    const ranges = krs('-15', '15-5555', '5555-80', '80-8001', '8001-aa00ff', 'aa00ff-ff00', 'ff-');
    const r = makeKeyspaceIdRouter('bytes', ranges);
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
    const picks = [0x00, 0x15, 0x55, 0x7f, 0x80, 0xaa, 0xff];
    for (let i = 0; i < 5000; i++) {
      const id = Buffer.alloc(next() % 5);
      for (let j = 0; j < id.length; j++) id[j] = next() % 2 ? picks[next() % picks.length] : next() % 256;
      assert.equal(
        r(id),
        ranges.findIndex((kr) => contains(kr, id)),
        `id ${id.toString('hex')}`,
      );
      // And with Vitess's definition itself: both sides normalized, then compared.
      const vitess = ranges.findIndex((kr) => (kr.start.length === 0 || compareIds(id, kr.start) >= 0) && (kr.end.length === 0 || compareIds(id, kr.end) < 0));
      assert.equal(r(id), vitess, `id ${id.toString('hex')} (Vitess)`);
    }
  });
  it('does not keep the caller bounds (they may be reused buffers)', () => {
    const ranges = krs('-80', '80-');
    const r = makeKeyspaceIdRouter('bytes', ranges);
    ranges[0].end[0] = 0x10;
    assert.equal(r(hex('50')), 0);
  });
});
