// The batch contract between the copier, the batchers and the destination writer: what a batch of each write
// method is, the limits a batcher cuts at, what it knows of a column, and the batcher's two calls.

import type { ByteArena } from '../mysql/wire/byte-arena.ts';
import type { RawRow } from '../mysql/wire/raw-rows.ts';
import type { ValueEncoding } from '../mysql/sql.ts';

/** A multi-row INSERT, as statement text. */
export interface InsertBatch {
  kind: 'insert';
  sql: string;
  rows: number;
  /** Bytes the batch holds while queued (what the writer's queue bound counts). */
  bytes: number;
  /** Nothing to give back (its text is garbage once sent): there for the callers that release any batch. */
  release(): void;
}

/** A LOAD DATA LOCAL INFILE statement and the rows it loads, as the bytes of its file. */
export interface LoadDataBatch {
  kind: 'load-data';
  sql: string;
  data: Buffer;
  /** `data` with 4 bytes before it, in the same memory: room for a protocol packet header, to send it without a copy. */
  packet?: Buffer;
  rows: number;
  bytes: number;
  /** Gives `data`'s memory back for reuse: called once the batch is written (or failed). */
  release(): void;
}

/** A prepared INSERT and its rows as one COM_STMT_BULK_EXECUTE packet (MariaDB). */
export interface BulkBatch {
  kind: 'bulk';
  /** The INSERT … VALUES (?, …) the packet executes. */
  sql: string;
  /** 4 header bytes, then the command; the statement id in it is filled in by the connection that sends it. */
  packet: Buffer;
  rows: number;
  bytes: number;
  release(): void;
}

export type Batch = InsertBatch | LoadDataBatch | BulkBatch;

export interface BatchLimits {
  /** Rows per INSERT (the insert method; a LOAD DATA batch is bounded by size alone). */
  maxRows: number;
  /** Bytes of a batch; one row larger than this still goes, alone. */
  maxSize: number;
  /**
   * Where the packet-built methods (load-data, bulk) cut their batch buffers from: the copy's arena, where its
   * readers stage the rows too. Absent: each batch gets a buffer of its own.
   */
  arena?: ByteArena;
}

/** What a batcher needs to know of a column. */
export interface BatchColumn {
  name: string;
  dataType: string;
  encoding: ValueEncoding;
}

/** Packs rows of one table for one destination; add() returns the batch a row completes, take() the open one. */
export interface RowBatcher {
  add(row: RawRow): Batch | null;
  take(): Batch | null;
}
