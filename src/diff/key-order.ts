// How the diff orders and matches rows: by primary key, or by every column for a table without one.
// The server sorts both sides (ORDER BY) and the differ walks them in that order, so the two orders must agree
// exactly. Integer columns are ordered by value on both sides (the server by its index, the differ by comparing
// digits: raw text of integers does not sort bytewise). Every other column is ordered by its raw bytes on both
// sides (ORDER BY CAST(… AS BINARY) there, Buffer.compare here): that holds whatever the column's collation or
// type, at the price of a sort on the server for tables keyed on such columns.

import { describeRawValue } from '../keyrange/keyspace-id.ts';
import { isIntegerType } from '../mysql/chunker.ts';
import type { RowBatch } from '../mysql/row-batches.ts';
import type { TableDefinition } from '../mysql/schema.ts';
import type { OrderTerm, RawValue, Row } from '../mysql/sql.ts';

export type KeyKind = 'integer' | 'bytes';

export interface RowKey {
  /** Positions in the row (TableDefinition.columns order) of the columns rows are matched by. */
  indexes: number[];
  names: string[];
  kinds: KeyKind[];
  /** Matched by primary key (unique); otherwise by the whole row, and identical rows may repeat. */
  byPrimaryKey: boolean;
}

type KeyedTable = Pick<TableDefinition, 'columns' | 'primaryKey'>;

/** The primary key when every column of it is read; otherwise every column. */
export function rowKeyOf(table: KeyedTable): RowKey {
  const names = table.columns.map((c) => c.name);
  const pk = table.primaryKey.map((name) => names.indexOf(name));
  const byPrimaryKey = pk.length > 0 && pk.every((i) => i >= 0);
  const indexes = byPrimaryKey ? pk : names.map((_, i) => i);
  return {
    indexes,
    names: indexes.map((i) => names[i]),
    kinds: indexes.map((i) => (isIntegerType(table.columns[i].dataType) ? 'integer' : 'bytes')),
    byPrimaryKey,
  };
}

/** The ORDER BY that reads rows in the order compareKeys walks them. */
export function orderTerms(table: Pick<TableDefinition, 'selectList'>, key: RowKey): OrderTerm[] {
  return key.indexes.map((i, k) => ({ expression: table.selectList[i], byBytes: key.kinds[k] === 'bytes' }));
}

/** Compares two integers as the text protocol sends them (`-12`, `18446744073709551615`): by value. */
export function compareIntegerText(a: Buffer, b: Buffer): number {
  const aNeg = a[0] === 0x2d;
  const bNeg = b[0] === 0x2d;
  if (aNeg !== bNeg) return aNeg ? -1 : 1;
  // No leading zeros (or ZEROFILL's fixed width): the longer is the larger in magnitude.
  const magnitude = a.length - b.length || Buffer.compare(a, b);
  return aNeg && magnitude !== 0 ? -magnitude : magnitude;
}

/**
 * compareIntegerText over bytes [as, ae) of `a` and [bs, be) of `b`: a loop, as keys are a few digits and a
 * native compare costs more to call than to run.
 */
function compareIntegerBytes(a: Buffer, as: number, ae: number, b: Buffer, bs: number, be: number): number {
  const aNeg = a[as] === 0x2d;
  if (aNeg !== (b[bs] === 0x2d)) return aNeg ? -1 : 1;
  let magnitude = ae - as - (be - bs);
  if (magnitude === 0) {
    for (let i = 0; i < ae - as; i++) {
      const d = a[as + i] - b[bs + i];
      if (d !== 0) {
        magnitude = d;
        break;
      }
    }
  }
  return aNeg ? -magnitude : magnitude;
}

/** Row `i` of batch `a` against row `j` of batch `b`, by `key` (NULL first, integers by value, the rest by bytes). */
export function compareBatchKeys(key: RowKey, a: RowBatch, i: number, b: RowBatch, j: number): number {
  const { indexes, kinds } = key;
  const ab = i * a.columns;
  const bb = j * b.columns;
  for (let k = 0; k < indexes.length; k++) {
    const col = indexes[k];
    const as = a.start[ab + col];
    const bs = b.start[bb + col];
    if (as < 0 || bs < 0) {
      if (as !== bs) return as < 0 ? -1 : 1;
      continue;
    }
    const ae = a.end[ab + col];
    const be = b.end[bb + col];
    const c = kinds[k] === 'integer' ? compareIntegerBytes(a.bytes, as, ae, b.bytes, bs, be) : a.bytes.compare(b.bytes, bs, be, as, ae);
    if (c !== 0) return c;
  }
  return 0;
}

/** NULL first, as ORDER BY puts it. */
function compareValues(a: RawValue, b: RawValue, kind: KeyKind): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  return kind === 'integer' ? compareIntegerText(a, b) : Buffer.compare(a, b);
}

export type KeyComparator = (a: Row, b: Row) => number;

export function keyComparator(key: RowKey): KeyComparator {
  const { indexes, kinds } = key;
  return (a, b) => {
    for (let k = 0; k < indexes.length; k++) {
      const c = compareValues(a[indexes[k]], b[indexes[k]], kinds[k]);
      if (c !== 0) return c;
    }
    return 0;
  };
}

const MAX_DESCRIPTION = 300;
const MAX_VALUE_CHARS = 40;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A key value for people: readable text as a quoted string (cut when long), anything else as hex. */
function describeValue(v: Buffer): string {
  let text: string;
  try {
    text = utf8.decode(v);
  } catch {
    return describeRawValue(v);
  }
  // Control characters would make the report unreadable: those values show as bytes.
  if (/[\u0000-\u001f\u007f]/.test(text)) return describeRawValue(v);
  const chars = [...text];
  return chars.length > MAX_VALUE_CHARS ? `${JSON.stringify(chars.slice(0, MAX_VALUE_CHARS).join(''))}… (${v.length} bytes)` : JSON.stringify(text);
}

/** The key of a row as reports show it: `id=5`, `a=1, b="x"`, binary as hex, long values cut. */
export function describeKey(row: Row, key: RowKey): string {
  const parts = key.indexes.map((i, k) => {
    const v = row[i];
    const text = v === null ? 'NULL' : key.kinds[k] === 'integer' ? v.toString('latin1') : describeValue(v);
    return `${key.names[k]}=${text}`;
  });
  const text = parts.join(', ');
  return text.length > MAX_DESCRIPTION ? text.slice(0, MAX_DESCRIPTION) + '…' : text;
}
