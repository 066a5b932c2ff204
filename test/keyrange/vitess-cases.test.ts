// The published cases of Vitess's own key range tests (vitessio/vitess go/vt/key/key_test.go), held against ours:
// shard names copied from Vitess tooling must mean here what they mean there. Vitess's nil key range (its
// stringToKeyRange("")) is the whole range, written `-` here.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareIds, contains, containsRange, contiguous, equal, intersects, isFull, normalizeId, parseShardName } from '../../src/keyrange/keyrange.ts';

const b = (...bytes: number[]) => Buffer.from(bytes);
const kr = parseShardName;

describe('Vitess TestNormalize', () => {
  const cases: [string, Buffer, Buffer][] = [
    ['empty should empty', b(), b()],
    ['one zero should be empty', b(0x00), b()],
    ['any number of zeroes should be empty', b(0, 0, 0), b()],
    ['one non-zero byte should be left alone', b(0x11), b(0x11)],
    ['multiple non-zero bytes should be left alone', b(0x11, 0x22, 0x33), b(0x11, 0x22, 0x33)],
    ["zeroes that aren't trailing should be left alone", b(0x11, 0, 0x22, 0, 0x33, 0), b(0x11, 0, 0x22, 0, 0x33)],
    ['excess zero bytes should be removed after a non-zero byte', b(0x11, 0, 0, 0, 0, 0, 0, 0), b(0x11)],
    ['excess zero bytes should be removed after multiple non-zero bytes', b(0x11, 0x22, 0, 0, 0), b(0x11, 0x22)],
    [
      'values longer than eight bytes should be supported',
      b(0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0),
      b(0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa),
    ],
  ];
  for (const [name, id, want] of cases) it(name, () => assert.deepEqual(normalizeId(id), want));
});

describe('Vitess TestCompare', () => {
  const cases: [string, Buffer, Buffer, number][] = [
    ['empty ids are equal', b(), b(), 0],
    ['equal full id values are equal', b(0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88), b(0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88), 0],
    ['equal partial id values are equal', b(0x11, 0x22), b(0x11, 0x22), 0],
    ['equal full and partial id values are equal', b(0x11, 0x22, 0x33, 0x44), b(0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0), 0],
    ['equal partial and full id values are equal', b(0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0), b(0x11, 0x22, 0x33, 0x44), 0],
    ['a less than b', b(0x01), b(0x02), -1],
    ['a greater than b', b(0x02), b(0x01), 1],
    ['equal partial a and b with different lengths', b(0x30, 0x00), b(0x20), 1],
  ];
  for (const [name, x, y, want] of cases) it(name, () => assert.equal(compareIds(x, y), want));
});

describe('Vitess TestKeyRangeEqual and the equal cases of TestKeyRangeComparisons', () => {
  const cases: [string, string, boolean][] = [
    ['-', '-', true],
    ['-', '-80', false],
    ['-8000', '-80', true],
    ['-8000', '-8000000000000000', true],
    ['-80', '-8000', true],
    ['10-30', '10-30', true],
    ['-80', '-800000', true],
    ['-80', '-80000000', true],
    ['80-', '8000-', true],
    ['80-', '800000-', true],
    ['80-', '80000000-', true],
    ['1000-3000', '10-30', true],
    ['10000000-30000000', '1000-3000', true],
    ['10-30', '10000000-30000000', true],
    ['-', '20-30', false],
    ['10-30', '20-30', false],
    ['-30', '10-30', false],
    ['10-30', '10-20', false],
    ['10-', '10-30', false],
  ];
  for (const [x, y, want] of cases) it(`${x} ${want ? '==' : '!='} ${y}`, () => assert.equal(equal(kr(x), kr(y)), want));
});

describe('Vitess TestKeyRangeContiguous', () => {
  const cases: [string, string, boolean][] = [
    ['-40', '40-80', true],
    ['40-80', '-40', false],
    ['-', '-40', false],
    ['40-80', 'c0-', false],
    ['40-80', '80-c0', true],
    ['40-80', '8000000000000000-c000000000000000', true],
    ['4000000000000000-8000000000000000', '80-c0', true],
  ];
  for (const [x, y, want] of cases) it(`${x} then ${y}: ${want}`, () => assert.equal(contiguous(kr(x), kr(y)), want));
});

describe('Vitess TestKeyRangeContains', () => {
  const cases: [string, string, string, boolean][] = [
    ['3000000000000000', '3000000000000000', '', true],
    ['3000000000000000', '', '3000000000000000', false],
    ['4000000000000000', '3000000000000000', '', true],
    ['2000000000000000', '3000000000000000', '', false],
  ];
  for (const [id, start, end, want] of cases) {
    it(`${id} in ${start}-${end}: ${want}`, () => {
      assert.equal(contains(kr(`${start}-${end}`), Buffer.from(id, 'hex')), want);
      assert.ok(contains(kr('-'), Buffer.from(id, 'hex')), 'the whole range holds every id');
    });
  }
});

describe('Vitess TestKeyRangeIntersect', () => {
  const cases: [string, string, boolean][] = [
    ['-80', '80-', false],
    ['80-', '-80', false],
    ['40-80', 'c0-d0', false],
    ['40-80', '20-40', false],
    ['4000-8000', '20-40', false],
    ['-', '-', true],
    ['-', '80-', true],
    ['-', 'c0-d0', true],
    ['-80', '-', true],
    ['a0-b0', '-', true],
    ['-80', '-80', true],
    ['-8000', '-80', true],
    ['40-', '40-', true],
    ['4000-', '40-', true],
    ['40-80', '40-80', true],
    ['40-80', '4000-8000', true],
    ['-80', '-40', true],
    ['80-', 'c0-', true],
    ['-80', '40-80', true],
    ['-80', '4000-8000', true],
    ['80-', '80-c0', true],
    ['80-', '8000-c000', true],
    ['40-80', '60-a0', true],
    ['40-80', '10-50', true],
    ['40-80', '50-60', true],
    ['40-80', '30-90', true],
  ];
  for (const [x, y, want] of cases) it(`${x} and ${y}: ${want}`, () => assert.equal(intersects(kr(x), kr(y)), want));
});

describe('Vitess TestKeyRangeContainsKeyRange', () => {
  const cases: [string, string, boolean][] = [
    ['-', '-', true],
    ['-', '-c0', true],
    ['-', '80-', true],
    ['-', '80-c0', true],
    ['40-60', '40-60', true],
    ['40-60', '4000-6000', true],
    ['4000-6000', '40-60', true],
    ['40-80', '40-50', true],
    ['40-80', '4000-5000', true],
    ['4000-8000', '40-50', true],
    ['40-80', '70-80', true],
    ['40-80', '7000-8000', true],
    ['4000-8000', '70-80', true],
    ['40-80', '50-70', true],
    ['40-80', '5000-7000', true],
    ['4000-8000', '50-70', true],
    ['-c0', '-', false],
    ['80-', '-', false],
    ['80-c0', '-', false],
    ['40-60', '50-', false],
    ['40-60', '5000-', false],
    ['4000-6000', '50-', false],
  ];
  for (const [x, y, want] of cases) it(`${x} holds ${y}: ${want}`, () => assert.equal(containsRange(kr(x), kr(y)), want));
});

describe('Vitess: 0 and - are the whole range (TestParseShardingSpec)', () => {
  it('0 and - are complete', () => {
    assert.ok(isFull(kr('0')));
    assert.ok(isFull(kr('-')));
  });
  it('-4000000000000000-8000000000000000- pieces are -40, 40-80, 80-', () => {
    assert.ok(equal(kr('-4000000000000000'), kr('-40')));
    assert.ok(equal(kr('4000000000000000-8000000000000000'), kr('40-80')));
    assert.ok(equal(kr('8000000000000000-'), kr('80-')));
  });
  it('refuses 4000000000000000-3000000000000000 (not in order)', () => assert.throws(() => kr('4000000000000000-3000000000000000'), /not below/));
});
