// Synthetic rows for the differ's tests: rows of raw values as the text protocol sends them.

import type { ColumnDefinition } from '../../src/mysql/schema.ts';
import type { Row } from '../../src/mysql/sql.ts';

/** A row from JS values: null stays NULL, anything else becomes the bytes of its text (Buffers as they are). */
export function row(...values: (string | number | bigint | Buffer | null)[]): Row {
  return values.map((v) => (v === null ? null : Buffer.isBuffer(v) ? v : Buffer.from(String(v))));
}

/** An async sequence of rows that records whether it was closed early. */
export class Rows implements AsyncIterable<Row> {
  readonly rows: Row[];
  closed = false;
  read = 0;
  /** Throw this when the n-th row is asked for. */
  failAt: { index: number; error: Error } | null = null;

  constructor(rows: Row[]) {
    this.rows = rows;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Row> {
    try {
      for (const [i, r] of this.rows.entries()) {
        await Promise.resolve();
        if (this.failAt && this.failAt.index === i) throw this.failAt.error;
        this.read++;
        yield r;
      }
    } finally {
      if (this.read < this.rows.length) this.closed = true;
    }
  }
}

export function column(name: string, dataType: string): ColumnDefinition {
  return { name, dataType, columnType: dataType, encoding: 'bytes' };
}

/** A table keyed on `pk` (names) with columns of the given types. */
export function table(columns: [string, string][], primaryKey: string[]) {
  const cols = columns.map(([n, t]) => column(n, t));
  return { columns: cols, primaryKey, selectList: cols.map((c) => '`' + c.name + '`') };
}
