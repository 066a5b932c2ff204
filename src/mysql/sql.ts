// Pure SQL text builders: every identifier quoted, every value encoded. Tested by comparing strings.

import { boundHead } from '../keyrange/keyrange.ts';

/** A row as the text protocol sends it with no type conversion: the raw bytes of each value, or null. */
export type RawValue = Buffer | null;
export type Row = RawValue[];

export function quoteId(name: string): string {
  if (name.includes('\0')) throw new Error(`identifier ${JSON.stringify(name)} contains a NUL byte`);
  return '`' + name.replace(/`/g, '``') + '`';
}

export function quoteTable(db: string, table: string): string {
  return `${quoteId(db)}.${quoteId(table)}`;
}

const STRING_ESCAPES: Record<string, string> = { '\0': '\\0', '\n': '\\n', '\r': '\\r', '\x1a': '\\Z', "'": "\\'", '\\': '\\\\' };

/** A string literal for a value we compose ourselves (positions, names); row data goes through encodeValue. */
export function quoteString(value: string): string {
  return "'" + value.replace(/[\0\n\r\x1a'\\]/g, (c) => STRING_ESCAPES[c]) + "'";
}

/**
 * How a column's raw text-protocol value is written back into an INSERT.
 * - `number`: integer, DECIMAL, FLOAT/DOUBLE (read as full-precision DOUBLE), YEAR: the ASCII text as is. A hex
 *   literal would be read as a number in numeric context, so these must stay plain.
 * - `bytes`: everything else (strings in any charset, binary, BIT, temporal, ENUM/SET, JSON): a hex literal, which
 *   the server takes as the column's own bytes, so no charset, time zone or escaping can alter it.
 */
export type ValueEncoding = 'number' | 'bytes';

const NUMERIC_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'numeric', 'float', 'double', 'real', 'year']);

export function encodingForType(dataType: string): ValueEncoding {
  return NUMERIC_TYPES.has(dataType.toLowerCase()) ? 'number' : 'bytes';
}

const NUMBER_RE = /^[-+]?[0-9]*\.?[0-9]*(e[-+]?[0-9]+)?$/i;

export function encodeValue(value: RawValue, encoding: ValueEncoding): string {
  if (value === null) return 'NULL';
  if (encoding === 'number') {
    const text = value.toString('latin1');
    // The server sent this text itself; the check keeps a surprise from ever being spliced into SQL.
    if (text === '' || !NUMBER_RE.test(text)) throw new Error(`not a number: ${JSON.stringify(text)}`);
    return text;
  }
  return value.length === 0 ? "''" : "X'" + value.toString('hex') + "'";
}

/** Encodes one row as `(v1,v2,…)`. */
export function encodeRow(row: Row, encodings: readonly ValueEncoding[]): string {
  let out = '(';
  for (let i = 0; i < encodings.length; i++) {
    if (i > 0) out += ',';
    out += encodeValue(row[i], encodings[i]);
  }
  return out + ')';
}

export function insertPrefix(db: string, table: string, columns: readonly string[]): string {
  return `INSERT INTO ${quoteTable(db, table)} (${columns.map(quoteId).join(',')}) VALUES `;
}

const UINT64_MAX = (1n << 64n) - 1n;

/**
 * The condition that a row's keyspace id, from sharding column `column`, lies in `range` (DESIGN.md "Vocabulary":
 * a bound compares as if padded with zero bytes), or '' for the whole range. `uint64`: the bound's first 8 bytes as
 * a number, one more when it has non-zero bytes beyond them (an id is 8 bytes: it is below such a bound iff it is
 * below or equal to its first 8). `bytes`: the bound without its trailing zero bytes, compared as binary strings:
 * the server's comparison (bytewise, a prefix lower) then agrees with the padded one.
 */
export function keyRangeCondition(column: string, type: 'uint64' | 'bytes', range: { start: Buffer; end: Buffer }): string {
  const col = quoteId(column);
  const parts: string[] = [];
  const literal = (bound: Buffer): { sql: string; aboveAll: boolean } => {
    if (type === 'bytes') {
      let n = bound.length;
      while (n > 0 && bound[n - 1] === 0) n--;
      return { sql: n === 0 ? "X''" : `X'${bound.subarray(0, n).toString('hex')}'`, aboveAll: false };
    }
    const value = boundHead(bound) + (bound.subarray(8).some((b) => b !== 0) ? 1n : 0n);
    return { sql: value.toString(), aboveAll: value > UINT64_MAX };
  };
  if (range.start.length > 0) {
    const lo = literal(range.start);
    parts.push(lo.aboveAll ? 'FALSE' : `${col} >= ${lo.sql}`);
  }
  if (range.end.length > 0) {
    const hi = literal(range.end);
    if (!hi.aboveAll) parts.push(`${col} < ${hi.sql}`);
  }
  return parts.join(' AND ');
}

export interface SelectSpec {
  db: string;
  table: string;
  /** Select-list expressions, already quoted (see TableDefinition.selectList). */
  selectList: readonly string[];
  /** The chunk's range as SQL (chunker.ts's chunkCondition); null for the whole table. */
  chunk: string | null;
  /** ORDER BY columns (the primary key, or every column for a table without one), or terms. */
  orderBy: readonly (string | OrderTerm)[];
  /** A condition (built by KeyCursor, already SQL) the rows must also meet: after the last row already read. */
  after?: string | null;
  /** A condition (already SQL, one term: parenthesized if it has OR) that keeps only some rows of the chunk. */
  filter?: string | null;
}

/**
 * An ORDER BY term over a select-list expression (already quoted): by the server's own order for its type, or by
 * its raw bytes (`CAST(… AS BINARY)`), which a client comparing raw bytes can follow whatever the collation.
 */
export interface OrderTerm {
  expression: string;
  byBytes: boolean;
}

function orderTerm(term: string | OrderTerm): string {
  if (typeof term === 'string') return quoteId(term);
  return term.byBytes ? `CAST(${term.expression} AS BINARY)` : term.expression;
}

export function buildChunkSelect(spec: SelectSpec): string {
  const where = [spec.chunk, spec.filter, spec.after].filter((c) => c).join(' AND ');
  const order = spec.orderBy.length ? ' ORDER BY ' + spec.orderBy.map(orderTerm).join(',') : '';
  return `SELECT ${spec.selectList.join(',')} FROM ${quoteTable(spec.db, spec.table)}${where ? ` WHERE ${where}` : ''}${order}`;
}
