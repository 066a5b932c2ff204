import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareGtidLists, formatGtidList, parseGtidList, parsePosition, PositionError } from '../../src/mysql/gtid.ts';

const rel = (current: string, target: string) => compareGtidLists(parseGtidList(current), parseGtidList(target));

describe('positions', () => {
  it('splits the flavor from the value', () => {
    assert.deepEqual(parsePosition('MariaDB/0-100-57'), { flavor: 'MariaDB', value: '0-100-57' });
    assert.deepEqual(parsePosition('MySQL56/3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5'), {
      flavor: 'MySQL56',
      value: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5',
    });
    assert.deepEqual(parsePosition('MariaDB/'), { flavor: 'MariaDB', value: '' });
    assert.throws(() => parsePosition('0-100-57'), PositionError);
    assert.throws(() => parsePosition('Oracle/1'), /does not start with MariaDB\//);
  });

  it('parses and formats MariaDB GTID lists', () => {
    const list = parseGtidList(' 1-2-9 ,0-100-18446744073709551615');
    assert.equal(list.get(0)!.seq, 18446744073709551615n);
    assert.equal(formatGtidList(list), '0-100-18446744073709551615,1-2-9');
    assert.equal(parseGtidList('').size, 0);
    assert.throws(() => parseGtidList('0-100'), /is not a MariaDB GTID/);
    assert.throws(() => parseGtidList('0-1-2,0-1-3'), /names domain 0 twice/);
  });
});

describe('compareGtidLists', () => {
  it('equal, behind, past in one domain', () => {
    assert.deepEqual(rel('0-100-57', '0-100-57'), { kind: 'equal' });
    assert.deepEqual(rel('0-100-50', '0-100-57'), { kind: 'behind' });
    assert.deepEqual(rel('0-100-58', '0-100-57'), { kind: 'past', domain: 0 });
  });
  it('the server id does not order: the sequence number does', () => {
    assert.deepEqual(rel('0-200-57', '0-100-57'), { kind: 'equal' });
    assert.deepEqual(rel('0-200-56', '0-100-57'), { kind: 'behind' });
  });
  it('several domains: past in any is past, even when behind in another', () => {
    assert.deepEqual(rel('0-1-5,1-1-9', '0-1-5,1-1-9'), { kind: 'equal' });
    assert.deepEqual(rel('0-1-4,1-1-9', '1-1-9,0-1-5'), { kind: 'behind' });
    assert.deepEqual(rel('0-1-4,1-1-10', '0-1-5,1-1-9'), { kind: 'past', domain: 1 });
  });
  it('a missing domain counts as nothing applied', () => {
    assert.deepEqual(rel('', '0-1-5'), { kind: 'behind' });
    assert.deepEqual(rel('0-1-5,2-1-1', '0-1-5'), { kind: 'past', domain: 2 });
    assert.deepEqual(rel('', ''), { kind: 'equal' });
  });
});
