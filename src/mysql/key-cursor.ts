// Where a chunk read stands: the primary key of the last row it read, and the condition for the rows after it.
// The copy reads a chunk ordered by its plain primary key (the index order: no sort on the server), so the
// condition must compare the way that ORDER BY does: numbers by value, strings in the column's own collation
// (a literal in the column's charset takes the column's collation), binary strings and temporal values as such.
// Key types whose order a literal cannot follow safely (ENUM sorts by index, SET, BIT, FLOAT, JSON …) get no cursor.
// The same conditions over the whole key tuple (tupleCondition) bound the chunks of a table cut on its key (chunker.ts).

import type { BinaryLayout } from './wire/binary-row.ts';
import type { RawRow } from './wire/raw-rows.ts';
import type { TableDefinition } from './schema.ts';
import { quoteId, quoteString } from './sql.ts';

type LiteralKind = 'number' | 'string' | 'binary' | 'temporal';

const NUMBER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'numeric', 'year']);
const STRING_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext']);
const BINARY_TYPES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob']);
const TEMPORAL_TYPES = new Set(['date', 'datetime', 'timestamp', 'time']);
const NUMBER_RE = /^-?\d+(\.\d+)?$/;
const CHARSET_RE = /^[a-z0-9_]+$/i;

function literalKind(dataType: string, charset: string | null | undefined): LiteralKind | null {
  if (NUMBER_TYPES.has(dataType)) return 'number';
  if (BINARY_TYPES.has(dataType)) return 'binary';
  if (TEMPORAL_TYPES.has(dataType)) return 'temporal';
  if (STRING_TYPES.has(dataType)) return charset && CHARSET_RE.test(charset) ? 'string' : null;
  return null;
}

/** A primary key column as the key conditions compare it. */
export interface KeyColumn {
  name: string;
  /** Index in the table's select list (what a row holds). */
  index: number;
  kind: LiteralKind;
  charset: string | null;
}

/** Why a table's chunk reads cannot resume after their last row, or null when they can. */
export function keyCursorProblem(table: TableDefinition): string | null {
  if (table.primaryKey.length === 0) return 'it has no primary key';
  for (const name of table.primaryKey) {
    const col = table.columns.find((c) => c.name === name);
    if (!col) return `its primary key column ${name} is not read`;
    if (!literalKind(col.dataType, col.charset)) return `its primary key column ${name} is ${col.dataType}`;
  }
  return null;
}

export class KeyCursor {
  readonly #columns: KeyColumn[];
  /** The last row's key values as copies, made on demand from the bytes below. */
  #last: (Buffer | null)[] | null = null;
  /**
   * The last row's key bytes, copied from each row into this cursor's own buffer: a row's bytes do not outlive its
   * call (a staged read overwrites them with the next socket chunk). A key of a few short values costs a short loop
   * a row; the copies lastKey() makes are what cost (about 5% of the copy's client CPU when made per row).
   */
  #bytes: Buffer = Buffer.allocUnsafe(64);
  /** The last row's binary layout (null for a text row): its key values are turned into text when asked for. */
  #layout: BinaryLayout | null = null;
  readonly #start: Int32Array;
  readonly #end: Int32Array;
  #rows = 0;

  /** Throws when keyCursorProblem(table) is not null. */
  constructor(table: TableDefinition) {
    this.#columns = keyColumnsOf(table, 'resume a read after its last row');
    this.#start = new Int32Array(this.#columns.length);
    this.#end = new Int32Array(this.#columns.length);
  }

  /** Rows tracked so far. */
  get rows(): number {
    return this.#rows;
  }

  /** Keeps the row's key bytes (their copy in a buffer of the cursor's own). */
  track(row: RawRow): void {
    if (this.#layout !== row.layout) this.#layout = row.layout;
    const src = row.buffer;
    let out = this.#bytes;
    let o = 0;
    for (let i = 0; i < this.#columns.length; i++) {
      const at = this.#columns[i].index;
      const s = row.start[at];
      if (s < 0) {
        this.#start[i] = -1;
        continue;
      }
      const e = row.end[at];
      if (o + e - s > out.length) out = this.#grow(o, o + e - s);
      this.#start[i] = o;
      for (let k = s; k < e; k++) out[o++] = src[k];
      this.#end[i] = o;
    }
    this.#rows++;
    this.#last = null;
  }

  /** A bigger buffer for the key, with its first `keep` bytes. */
  #grow(keep: number, need: number): Buffer {
    const bigger = Buffer.allocUnsafe(Math.max(need, this.#bytes.length * 2));
    this.#bytes.copy(bigger, 0, 0, keep);
    return (this.#bytes = bigger);
  }

  /** The last tracked key's values (copies), or null before the first row. */
  lastKey(): (Buffer | null)[] | null {
    if (this.#rows === 0) return null;
    const layout = this.#layout;
    this.#last ??= this.#columns.map((c, i) => {
      if (this.#start[i] < 0) return null;
      // A binary row's key as the text protocol has it: the literals below are made from text.
      if (layout) return layout.text(c.index, this.#bytes, this.#start[i], this.#end[i]);
      return Buffer.from(this.#bytes.subarray(this.#start[i], this.#end[i]));
    });
    return this.#last;
  }

  /**
   * SQL for "after the last row" in primary key order, or null before the first row. Expanded as
   * `a > x OR (a = x AND b > y)`, which the optimizer turns into an index range (a row constructor may not be).
   */
  afterLast(): string | null {
    const key = this.lastKey();
    if (!key) return null;
    return tupleCondition(this.#columns, key, '>');
  }
}

/** The table's primary key columns for key conditions; throws, saying what cannot be done, when keyCursorProblem(table) is not null. */
export function keyColumnsOf(table: TableDefinition, what: string): KeyColumn[] {
  const problem = keyCursorProblem(table);
  if (problem) throw new Error(`${table.name} cannot ${what}: ${problem}`);
  return table.primaryKey.map((name) => {
    const index = table.columns.findIndex((c) => c.name === name);
    const col = table.columns[index];
    return { name, index, kind: literalKind(col.dataType, col.charset)!, charset: col.charset ?? null };
  });
}

/** How a tuple condition compares the key with the values: after them, from them on, or before them. */
export type TupleOp = '>' | '>=' | '<';

/**
 * SQL for "the primary key tuple `op` these values" (each value's bytes as the text protocol has them), expanded
 * as `a > x OR (a = x AND b > y)` (for `>=` and `<` alike, only the last column taking `op` itself), which the
 * optimizer turns into an index range (a row constructor may not be). Each literal compares as the key's ORDER BY.
 */
export function tupleCondition(columns: readonly KeyColumn[], values: readonly (Buffer | null)[], op: TupleOp): string {
  if (values.length !== columns.length) throw new Error(`a key of ${columns.length} columns compared with ${values.length} values`);
  const strict = op === '<' ? '<' : '>';
  let cond = '';
  for (let i = columns.length - 1; i >= 0; i--) {
    const col = quoteId(columns[i].name);
    const value = values[i];
    // A primary key column is NOT NULL; a NULL here would be a bug, and comparing with it would match nothing.
    if (value === null) throw new Error(`primary key column ${columns[i].name} read as NULL`);
    const lit = literal(columns[i], value);
    cond = cond === '' ? `${col} ${op} ${lit}` : `(${col} ${strict} ${lit} OR (${col} = ${lit} AND ${cond}))`;
  }
  return cond;
}

function literal(col: KeyColumn, value: Buffer): string {
  switch (col.kind) {
    case 'number': {
      const text = value.toString('latin1');
      if (!NUMBER_RE.test(text)) throw new Error(`key value ${JSON.stringify(text)} of ${col.name} is not a number`);
      return text;
    }
    case 'binary':
      return value.length === 0 ? "X''" : `X'${value.toString('hex')}'`;
    case 'string':
      // An introducer makes the bytes a string of the column's charset: it then compares in the column's collation.
      return `_${col.charset} X'${value.toString('hex')}'`;
    case 'temporal':
      return quoteString(value.toString('latin1'));
  }
}
