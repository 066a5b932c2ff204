import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareIntegerText, describeKey, keyComparator, orderTerms, rowKeyOf } from '../../src/diff/key-order.ts';
import { buildChunkSelect } from '../../src/mysql/sql.ts';
import { row, table } from './helpers.ts';

const cmp = (a: string, b: string) => Math.sign(compareIntegerText(Buffer.from(a), Buffer.from(b)));

describe('compareIntegerText', () => {
  const ordered = ['-9223372036854775808', '-100', '-10', '-9', '-1', '0', '1', '9', '10', '11', '99', '100', '9223372036854775807', '18446744073709551615'];
  it('orders by value across signs and lengths', () => {
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) assert.equal(cmp(ordered[i], ordered[j]), Math.sign(i - j), `${ordered[i]} vs ${ordered[j]}`);
    }
  });
  it('agrees with BigInt on random values', () => {
    for (let n = 0; n < 2000; n++) {
      const a = BigInt(Math.floor((Math.random() - 0.5) * 2 ** 52)) * BigInt(1 + Math.floor(Math.random() * 1000));
      const b = BigInt(Math.floor((Math.random() - 0.5) * 2 ** 40));
      assert.equal(cmp(a.toString(), b.toString()), a < b ? -1 : a > b ? 1 : 0, `${a} vs ${b}`);
    }
  });
  it('fixed-width ZEROFILL text', () => {
    assert.equal(cmp('0009', '0010'), -1);
  });
});

describe('keyComparator', () => {
  it('bytes compare as unsigned bytes, a prefix first', () => {
    const c = keyComparator(rowKeyOf(table([['k', 'varbinary']], ['k'])));
    assert.ok(c(row(Buffer.from([0x7f])), row(Buffer.from([0x80]))) < 0);
    assert.ok(c(row('ab'), row('abc')) < 0);
    assert.ok(c(row('B'), row('a')) < 0, 'by bytes, not by a case-insensitive collation');
    assert.equal(c(row('x'), row('x')), 0);
  });
});

describe('orderTerms', () => {
  it('integers by the column (index order), the rest by bytes; select expressions kept', () => {
    const t = table(
      [
        ['id', 'int'],
        ['name', 'varchar'],
        ['f', 'float'],
      ],
      ['id', 'name', 'f'],
    );
    t.selectList[2] = 'CAST(`f` AS DOUBLE)';
    const sql = buildChunkSelect({ db: 'd', table: 't', selectList: t.selectList, chunk: '`id` >= 5', orderBy: orderTerms(t, rowKeyOf(t)) });
    assert.equal(
      sql,
      'SELECT `id`,`name`,CAST(`f` AS DOUBLE) FROM `d`.`t` WHERE `id` >= 5 ORDER BY `id`,CAST(`name` AS BINARY),CAST(CAST(`f` AS DOUBLE) AS BINARY)',
    );
  });
  it('a table without a primary key orders by every column', () => {
    const t = table(
      [
        ['a', 'bigint'],
        ['b', 'text'],
      ],
      [],
    );
    const sql = buildChunkSelect({ db: 'd', table: 't', selectList: t.selectList, chunk: null, orderBy: orderTerms(t, rowKeyOf(t)) });
    assert.equal(sql, 'SELECT `a`,`b` FROM `d`.`t` ORDER BY `a`,CAST(`b` AS BINARY)');
  });
});

describe('describeKey', () => {
  it('names each key column; text quoted, binary in hex, NULL as NULL, long values cut', () => {
    const t = table(
      [
        ['id', 'int'],
        ['s', 'varchar'],
        ['b', 'varbinary'],
        ['n', 'varchar'],
      ],
      [],
    );
    const key = rowKeyOf(t);
    assert.equal(describeKey(row(5, 'x"y', Buffer.from([0, 1]), null), key), 'id=5, s="x\\"y", b=0x0001, n=NULL');
    assert.equal(describeKey(row(-1, 'Äé 😀', Buffer.from([0xc3]), 'tab\there'), key), 'id=-1, s="Äé 😀", b=0xc3, n=0x7461620968657265');
    assert.match(describeKey(row(1, 'ü'.repeat(100), 'a', 'b'), key), /s="ü{40}"… \(200 bytes\)/);
  });
});
