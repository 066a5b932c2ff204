// What the filter hands the applier: row changes of one destination, in the destination's own terms (its table,
// its column order), each to affect exactly one row.

import type { BinlogValue } from '../mysql/wire/binlog/events.ts';

/** A destination table as the stream writes it. Columns in table order, which is the row images' order. */
export interface TableShape {
  /** The destination database and table. */
  database: string;
  name: string;
  columns: ColumnShape[];
  /** Indexes into `columns` of the primary key (or, for a table without one, every stored column). */
  keyIndexes: number[];
  hasPrimaryKey: boolean;
  /** Index of the sharding column, or null (a vertical stream does not route). */
  shardingIndex: number | null;
}

export interface ColumnShape {
  name: string;
  /** Generated columns are in the row images but are never written. */
  generated: boolean;
  /** A string column's charset (a key literal in it takes the column's collation); null for binary and others. */
  charset: string | null;
}

export type RowChange =
  | { kind: 'insert'; table: TableShape; after: BinlogValue[] }
  | { kind: 'update'; table: TableShape; before: BinlogValue[]; after: BinlogValue[] }
  | { kind: 'delete'; table: TableShape; before: BinlogValue[] };
