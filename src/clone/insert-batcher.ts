// Packs rows for one table and one destination into multi-row INSERTs bounded in rows and bytes.

import { encodeRow, insertPrefix, type Row, type ValueEncoding } from '../mysql/sql.ts';

export interface Batch {
  sql: string;
  rows: number;
}

export interface BatchLimits {
  maxRows: number;
  /** Bytes of statement text; one row larger than this still goes, alone. */
  maxSize: number;
}

export class InsertBatcher {
  readonly #prefix: string;
  readonly #encodings: readonly ValueEncoding[];
  readonly #limits: BatchLimits;
  /** Encoded rows of the open batch; joined once when it is taken. */
  #parts: string[] = [];
  #size = 0;

  constructor(db: string, table: string, columns: readonly string[], encodings: readonly ValueEncoding[], limits: BatchLimits) {
    this.#prefix = insertPrefix(db, table, columns);
    this.#encodings = encodings;
    this.#limits = limits;
  }

  /** Adds a row; returns the batch it completes, if the row would not fit in the open one. */
  add(row: Row): Batch | null {
    const encoded = encodeRow(row, this.#encodings);
    let full: Batch | null = null;
    if (this.#parts.length > 0 && this.#prefix.length + this.#size + encoded.length + 1 > this.#limits.maxSize) full = this.take();
    this.#parts.push(encoded);
    this.#size += encoded.length + 1;
    if (!full && this.#parts.length >= this.#limits.maxRows) full = this.take();
    return full;
  }

  /** The open batch, or null when empty. */
  take(): Batch | null {
    if (this.#parts.length === 0) return null;
    const batch = { sql: this.#prefix + this.#parts.join(','), rows: this.#parts.length };
    this.#parts = [];
    this.#size = 0;
    return batch;
  }
}
