import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkExactCover,
  contains,
  equal,
  intersects,
  isFull,
  KeyRangeError,
  keyRangeShare,
  keyRangeToString,
  parseShardName,
  type KeyRange,
} from '../../src/keyrange/keyrange.ts';

const hex = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');
const kr = parseShardName;
const krs = (...names: string[]) => names.map(parseShardName);

describe('parseShardName', () => {
  const cases: [string, string, string][] = [
    ['-80', '', '80'],
    ['80-c0', '80', 'c0'],
    ['c0-', 'c0', ''],
    ['-', '', ''],
    ['0', '', ''],
    ['-55', '', '55'],
    ['55-aa', '55', 'aa'],
    ['aa-', 'aa', ''],
    ['4000-8000', '40', '80'],
    ['-4000', '', '40'],
    ['C0-', 'c0', ''],
    ['8001-8100', '8001', '81'],
    ['00-', '', ''],
    ['8000000000000000-', '80', ''],
    ['-8000000000000000', '', '80'],
    ['0102030405060708090a-ff', '0102030405060708090a', 'ff'],
  ];
  for (const [name, start, end] of cases) {
    it(`parses ${name}`, () => {
      const r = parseShardName(name);
      assert.equal(r.start.toString('hex'), start);
      assert.equal(r.end.toString('hex'), end);
    });
  }

  const bad = [
    '',
    '80',
    '8-',
    '-8',
    '800-c',
    'zz-',
    '-gg',
    '80-40',
    '80-80',
    '8000-80',
    '80-8000',
    '-00',
    '00-0000',
    '40-00',
    '80--',
    '-80-',
    '--',
    '1',
    '00',
    ' -80',
    '-80 ',
    '0x80-',
    'c0-80',
    '80-7fff',
  ];
  for (const name of bad) {
    it(`refuses ${JSON.stringify(name)} naming it`, () => {
      assert.throws(
        () => parseShardName(name),
        (e: unknown) => e instanceof KeyRangeError && e.message.includes(JSON.stringify(name)),
      );
    });
  }

  it('says why: odd digits, not hex, start not below end', () => {
    assert.throws(() => parseShardName('800-'), /odd number of hex digits/);
    assert.throws(() => parseShardName('-xy'), /not hex/);
    assert.throws(() => parseShardName('c0-80'), /start c0 is not below end 80/);
    assert.throws(() => parseShardName('80-8000'), /start 80 is not below end 8000/);
    assert.throws(() => parseShardName('-00'), /end 00 is the lowest id/);
  });
});

describe('keyRangeToString, isFull, equal', () => {
  it('round-trips canonical names', () => {
    for (const name of ['-80', '80-c0', 'c0-', '-', '4001-8001', '55-aa']) assert.equal(keyRangeToString(kr(name)), name);
    assert.equal(keyRangeToString(kr('4000-8000')), '40-80', 'bounds without their trailing zeros');
    assert.equal(keyRangeToString(kr('8000000000000000-')), '80-');
  });
  it('writes the whole range as - and lowercase hex', () => {
    assert.equal(keyRangeToString(kr('0')), '-');
    assert.equal(keyRangeToString(kr('A0-C0')), 'a0-c0');
  });
  it('isFull', () => {
    assert.ok(isFull(kr('-')));
    assert.ok(isFull(kr('0')));
    assert.ok(!isFull(kr('-80')));
    assert.ok(!isFull(kr('80-')));
    assert.ok(isFull(kr('00-')), 'a start of zeros is the lowest id');
    assert.ok(isFull(kr('0000-')));
  });
  it('equal', () => {
    assert.ok(equal(kr('0'), kr('-')));
    assert.ok(equal(kr('80-c0'), kr('80-C0')));
    assert.ok(equal(kr('-80'), kr('-8000')));
    assert.ok(equal(kr('-80'), kr('-8000000000000000')));
    assert.ok(!equal(kr('-80'), kr('80-')));
  });
});

describe('contains', () => {
  const u64 = (n: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(n);
    return b;
  };
  const MAX = (1n << 64n) - 1n;

  it('id 0 and 2^64-1 at the ends', () => {
    assert.ok(contains(kr('-80'), u64(0n)));
    assert.ok(!contains(kr('80-'), u64(0n)));
    assert.ok(contains(kr('80-'), u64(MAX)));
    assert.ok(!contains(kr('-80'), u64(MAX)));
    assert.ok(contains(kr('-'), u64(0n)));
    assert.ok(contains(kr('0'), u64(MAX)));
    assert.ok(contains(kr('c0-'), u64(MAX)));
    assert.ok(!contains(kr('80-c0'), u64(MAX)));
  });

  it('range start 80 vs ids 7fff…ffff and 8000…0000', () => {
    assert.ok(!contains(kr('80-'), hex('7f ff ff ff ff ff ff ff')));
    assert.ok(contains(kr('-80'), hex('7f ff ff ff ff ff ff ff')));
    assert.ok(contains(kr('80-'), hex('80 00 00 00 00 00 00 00')));
    assert.ok(!contains(kr('-80'), hex('80 00 00 00 00 00 00 00')));
    assert.ok(contains(kr('80-c0'), hex('bf ff ff ff ff ff ff ff')));
    assert.ok(!contains(kr('80-c0'), hex('c0 00 00 00 00 00 00 00')));
  });

  it('bytes ids shorter and longer than the bounds', () => {
    assert.ok(contains(kr('80-'), hex('80')), 'id exactly 80 is the start');
    assert.ok(!contains(kr('-80'), hex('80')));
    assert.ok(contains(kr('-80'), hex('')), 'the empty id is the lowest');
    assert.ok(!contains(kr('80-'), hex('')));
    assert.ok(contains(kr('-80'), hex('7f ff ff ff ff ff ff ff ff ff ff')));
    assert.ok(contains(kr('-80'), hex('7f')));
    assert.ok(!contains(kr('80-'), hex('7f ff ff ff ff ff ff ff ff ff ff')));
    assert.ok(contains(kr('80-'), hex('80 00')));
    assert.ok(contains(kr('4000-8000'), hex('40')), '40 is 4000 padded with zeros');
    assert.ok(contains(kr('4000-8000'), hex('40 00')));
    assert.ok(!contains(kr('4000-8000'), hex('3f ff ff')));
    assert.ok(contains(kr('4000-8000'), hex('7f ff ff')));
    assert.ok(!contains(kr('4000-8000'), hex('80')), '80 is 8000 padded: the end');
    assert.ok(!contains(kr('4000-8000'), hex('80 00')));
  });

  it('a 1-byte id 80 belongs to 8000-, not to -8000 (Vitess)', () => {
    assert.ok(contains(kr('8000-'), hex('80')));
    assert.ok(!contains(kr('-8000'), hex('80')));
    assert.ok(contains(kr('8000000000000000-'), hex('80')));
    assert.ok(!contains(kr('-8000000000000000'), hex('80 00 00')));
    assert.ok(contains(kr('-8000000000000000'), hex('7f')));
  });
});

describe('intersects', () => {
  const yes: [string, string][] = [
    ['-', '80-'],
    ['0', '-80'],
    ['-80', '40-'],
    ['40-c0', '80-'],
    ['-80', '-40'],
    ['55-aa', '-80'],
    ['4000-8000', '7f-'],
    ['80-', '80-'],
  ];
  const no: [string, string][] = [
    ['-80', '80-'],
    ['-80', '80-c0'],
    ['80-c0', 'c0-'],
    ['-55', '55-aa'],
    ['-80', '8000-'],
    ['-8000', '80-'],
    ['-80', '8000000000000000-'],
  ];
  for (const [a, b] of yes) {
    it(`${a} and ${b} intersect`, () => {
      assert.ok(intersects(kr(a), kr(b)));
      assert.ok(intersects(kr(b), kr(a)));
    });
  }
  for (const [a, b] of no) {
    it(`${a} and ${b} do not intersect`, () => {
      assert.ok(!intersects(kr(a), kr(b)));
      assert.ok(!intersects(kr(b), kr(a)));
    });
  }
});

describe('checkExactCover', () => {
  const ok: [string[], string[]][] = [
    [['0'], ['-80', '80-']],
    [['-'], ['80-', '-80']],
    [['0'], ['-55', '55-aa', 'aa-']],
    [['0'], ['-40', '40-80', '80-c0', 'c0-']],
    [['-80'], ['-40', '40-80']],
    [['80-'], ['80-c0', 'c0-']],
    [['-80', '80-'], ['0']],
    [['-40', '40-80'], ['-80']],
    [['4000-8000'], ['4000-6000', '6000-8000']],
    [['-'], ['-']],
    [[], []],
  ];
  for (const [target, parts] of ok) {
    it(`${parts.join(',')} cover ${target.join(',')} exactly`, () => {
      assert.equal(checkExactCover(krs(...target), krs(...parts)), null);
    });
  }

  it('names a gap in the middle', () => {
    assert.equal(checkExactCover(krs('0'), krs('-80', 'c0-')), 'gap between 80 and c0');
  });
  it('names gaps at the ends', () => {
    assert.equal(checkExactCover(krs('0'), krs('40-80', '80-c0')), 'gap between the lowest id and 40; gap between c0 and the highest id');
  });
  it('names an overlap', () => {
    assert.equal(checkExactCover(krs('0'), krs('-80', '40-')), 'shards -80 and 40- overlap');
  });
  it('names a part outside the target', () => {
    const msg = checkExactCover(krs('-80'), krs('-40', '40-c0'));
    assert.match(msg ?? '', /shard 40-c0 covers 80-c0, outside the range to cover/);
  });
  it('reports no parts as one gap', () => {
    assert.equal(checkExactCover(krs('80-c0'), []), 'gap between 80 and c0');
  });
  it('mixes bound lengths (Vitess): -80 and 8000000000000000- cover the whole range', () => {
    assert.equal(checkExactCover(krs('0'), krs('-80', '8000000000000000-')), null);
    assert.equal(checkExactCover(krs('40-c0'), krs('40-80', '8000000000000000-c000000000000000')), null);
  });
  it('names shards as the operator wrote them', () => {
    assert.equal(checkExactCover(krs('0'), krs('-8000', '80-', '8000000000000000-')), 'shards 80- and 8000000000000000- overlap');
  });
  it('names a duplicate shard as an overlap', () => {
    assert.match(checkExactCover(krs('0'), krs('-80', '80-', '80-')) ?? '', /shards 80- and 80- overlap/);
  });
  it('reports gap and overlap together', () => {
    const msg = checkExactCover(krs('0'), krs('-80', '40-a0', 'c0-')) ?? '';
    assert.match(msg, /shards -80 and 40-a0 overlap/);
    assert.match(msg, /gap between a0 and c0/);
  });
  it('accepts a target with overlapping pieces as their union', () => {
    const target: KeyRange[] = krs('-80', '40-c0');
    assert.equal(checkExactCover(target, krs('-c0')), null);
  });
});

describe('keyRangeShare', () => {
  it('is the part of the id line a range spans', () => {
    assert.equal(keyRangeShare(kr('-')), 1);
    assert.equal(keyRangeShare(kr('-80')), 0.5);
    assert.equal(keyRangeShare(kr('80-')), 0.5);
    assert.equal(keyRangeShare(kr('40-c0')), 0.5);
    assert.equal(keyRangeShare(kr('c0-')), 0.25);
    assert.equal(keyRangeShare({ start: hex('80'), end: hex('80') }), 0);
  });
});
