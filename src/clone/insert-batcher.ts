// Batches for the two write methods, built as bytes from raw row views: one table, one destination each.
// InsertBatcher packs multi-row INSERTs bounded in rows and bytes (the `insert` write method); the LOAD DATA and
// bulk ones live in load-data-batcher.ts and bulk-batcher.ts. All keep the contract of batch.ts: add(row) → a full
// batch or null, take().

import { NOT_TEXT, type RawRow } from '../mysql/wire/raw-rows.ts';
import { insertPrefix, type ValueEncoding } from '../mysql/sql.ts';
import { ByteBuilder } from '../mysql/wire/byte-builder.ts';
import type { Batch, BatchColumn, BatchLimits, InsertBatch, RowBatcher } from './batch.ts';

const C = (s: string): number => s.charCodeAt(0);
const NULL_TEXT = Buffer.from('NULL', 'latin1');
// Bytes a number's text may hold: the server wrote it, the check keeps a surprise from being spliced into SQL.
const NUMBER_BYTE = new Uint8Array(256);
for (const c of '0123456789+-.eE') NUMBER_BYTE[C(c)] = 1;

export class InsertBatcher implements RowBatcher {
  readonly #encodings: readonly ValueEncoding[];
  readonly #limits: BatchLimits;
  /** The statement being built: the prefix, then the rows so far. */
  readonly #sql: ByteBuilder;
  readonly #prefixLength: number;
  #rows = 0;

  constructor(db: string, table: string, columns: readonly BatchColumn[], limits: BatchLimits) {
    this.#encodings = columns.map((c) => c.encoding);
    this.#limits = limits;
    this.#sql = new ByteBuilder(limits.maxSize + 64 * 1024);
    this.#sql.text(
      insertPrefix(
        db,
        table,
        columns.map((c) => c.name),
      ),
    );
    this.#prefixLength = this.#sql.length;
  }

  add(row: RawRow): Batch | null {
    if (row.layout) throw new Error(NOT_TEXT);
    const out = this.#sql;
    const rowStart = out.length;
    // At most: each byte as two hex digits, plus X'' or NULL and a comma per column, plus ,( and ).
    out.reserve(2 * row.size + 5 * this.#encodings.length + 3);
    if (this.#rows > 0) out.byte(C(','));
    out.byte(C('('));
    const { buffer, start, end } = row;
    for (let i = 0; i < this.#encodings.length; i++) {
      if (i > 0) out.byte(C(','));
      const s = start[i];
      if (s < 0) {
        out.bytes(NULL_TEXT, 0, NULL_TEXT.length);
      } else if (this.#encodings[i] === 'number') {
        const e = end[i];
        if (s === e) throw new Error('a number value is empty');
        for (let j = s; j < e; j++) if (NUMBER_BYTE[buffer[j]] === 0) throw new Error(`not a number: ${JSON.stringify(buffer.toString('latin1', s, e))}`);
        out.bytes(buffer, s, e);
      } else if (s === end[i]) {
        out.byte(C("'"));
        out.byte(C("'"));
      } else {
        // A hex literal is the column's own bytes: no charset, time zone or escaping can alter it.
        out.byte(C('X'));
        out.byte(C("'"));
        out.hex(buffer, s, end[i]);
        out.byte(C("'"));
      }
    }
    out.byte(C(')'));
    this.#rows++;
    if (this.#rows > 1 && out.length > this.#limits.maxSize) {
      // The row does not fit: the batch is what came before it, and the row (less its comma) starts the next.
      const batch = this.#batch(rowStart, this.#rows - 1);
      out.keep(this.#prefixLength, rowStart + 1);
      this.#rows = 1;
      return batch;
    }
    return this.#rows >= this.#limits.maxRows ? this.take() : null;
  }

  take(): Batch | null {
    if (this.#rows === 0) return null;
    const batch = this.#batch(this.#sql.length, this.#rows);
    this.#sql.keep(this.#prefixLength);
    this.#rows = 0;
    return batch;
  }

  #batch(end: number, rows: number): InsertBatch {
    // One string made from one buffer: the statement text mysql2 sends, with no small strings to collect.
    const sql = this.#sql.toString(end);
    return { kind: 'insert', sql, rows, bytes: end, release: () => {} };
  }
}
