// The contract between the binlog reader (this folder: the replication protocol, event and row-image decoding)
// and whoever consumes a source's changes (src/stream: filtering, routing, applying). Nothing above this folder
// knows a byte offset of an event; nothing in it knows shards, key ranges or destinations.

/**
 * One column value of a row image, in the form that writes it back exactly (bound as a parameter or turned into
 * a literal by mysql/sql.ts):
 * - `null`: SQL NULL;
 * - `bigint`: every integer type (TINYINT … BIGINT, signed or unsigned as the column is), YEAR, ENUM (its index)
 *   and SET (its bit mask), which the server takes back as numbers;
 * - `number`: FLOAT (the float32 widened exactly) and DOUBLE;
 * - `string`: DECIMAL as its digits (`-12.3400`), DATE / TIME / DATETIME / TIMESTAMP as MySQL writes them in
 *   UTC (`2024-03-10 02:30:00.123456`, zero dates `0000-00-00 00:00:00`), with the column's own fraction digits;
 * - `Buffer`: the stored bytes of every string, binary, BLOB/TEXT, JSON (MariaDB keeps JSON as text), GEOMETRY
 *   and BIT column (BIT as big-endian bytes of the column's width), never re-encoded.
 */
export type BinlogValue = null | bigint | number | string | Buffer;

/** A column as the table map (and, where the server sends it, the optional metadata) describes it. */
export interface BinlogColumn {
  /** From binlog_row_metadata=FULL; null when the server did not send names. */
  name: string | null;
  /** MYSQL_TYPE_* code as the table map gives it (after resolving the real type of STRING/ENUM/SET). */
  type: number;
  unsigned: boolean;
  nullable: boolean;
}

export interface BinlogTable {
  database: string;
  table: string;
  columns: BinlogColumn[];
}

/** One row of a rows event: `before` for updates and deletes, `after` for inserts and updates; full images. */
export interface RowImage {
  readonly before?: BinlogValue[];
  readonly after?: BinlogValue[];
  /**
   * One column of an image without decoding the rest, where the reader can (the binlog reader decodes an image
   * on first use): routing needs only the sharding column, and most rows of a split go to another stream.
   */
  column?(image: 'before' | 'after', index: number): BinlogValue;
}

/**
 * What the reader yields, in binlog order. A transaction is `begin`, any `rows` (and `statement`s), `commit`; a
 * DDL statement arrives as a `ddl` event of its own (its own transaction). `position` is the GTID list the
 * source is at once that transaction is applied (`MariaDB/0-100-57`), ready for `_vt.blp_checkpoint.pos`.
 * `timestamp` is the event header's (seconds since the epoch, the source's commit time), for seconds-behind.
 */
export type BinlogEvent =
  | { type: 'begin'; gtid: string; timestamp: number }
  | { type: 'rows'; change: 'insert' | 'update' | 'delete'; table: BinlogTable; rows: RowImage[]; timestamp: number }
  | { type: 'commit'; position: string; timestamp: number }
  | { type: 'ddl'; gtid: string; database: string; statement: string; position: string; timestamp: number }
  /** The source is idle and the reader is caught up to `position` (heartbeats, or an event that changes no table). */
  | { type: 'idle'; position: string; timestamp: number };

/** A source's changes from a position on; `close()` (or the signal) ends the iteration and the connection. */
export interface BinlogSource extends AsyncIterable<BinlogEvent> {
  close(): Promise<void>;
  /**
   * The next event if the reader already holds it, else undefined (then iterate to wait): the same sequence as the
   * iterator, without a promise per event. Optional: a source without it is only iterated.
   */
  take?(): BinlogEvent | undefined;
}

/**
 * The SQL literal that writes `value` back exactly (see BinlogValue): numbers as their digits (a double as the
 * shortest text that reads back as the same double; a float32 widened to a double narrows back to itself),
 * DECIMAL and temporal text quoted, bytes as a hex literal, which the server stores as the column's own bytes.
 */
export function binlogValueLiteral(value: BinlogValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`a binlog value ${value} cannot be written to MySQL`);
    return Object.is(value, -0) ? '-0e0' : String(value);
  }
  if (typeof value === 'string') {
    // DECIMAL digits or temporal text, both made by the decoder: the check keeps a surprise out of the SQL.
    if (!/^[-0-9.: ]*$/.test(value)) throw new Error(`not a decimal or temporal value: ${JSON.stringify(value)}`);
    return `'${value}'`;
  }
  return value.length === 0 ? "''" : "X'" + value.toString('hex') + "'";
}
