// The contracts the copy, the diff and the job status share, apart from any implementation: the source a job reads,
// where a row goes, the copy's progress events and its per-chunk checkpoints. clone/ and diff/ implement or call
// these; worker/ supplies them.

import type { ChunkPlan, ChunkRange } from '../mysql/chunker.ts';
import type { TableDefinition } from '../mysql/schema.ts';
import type { Row } from '../mysql/sql.ts';
import type { TabletDb } from '../mysql/tablet-client.ts';
import type { RawRow } from '../mysql/wire/raw-rows.ts';

/** A source's database; its client retries (mysql/tablet-client.ts). */
export type SourceSide = TabletDb;

/**
 * Where a row goes: a destination index, or -1 when the row is not this copy's to move. `raw`, where a router has
 * it, decides the same from a row view without materializing its values: the copy's hot path uses it.
 */
export interface RowRouter {
  (row: Row): number;
  raw?: (row: RawRow) => number;
}

export interface CopyProgress {
  chunksPlanned(table: string, count: number): void;
  rowsWritten(table: string, rows: number): void;
  rowsSkipped(table: string, rows: number): void;
  chunkDone(table: string): void;
  tableStarted(table: string): void;
}

/**
 * Per-chunk checkpoints (see copy-state.ts): the plan a resumed job must reuse, the chunks already finished, and a
 * mark for each chunk finished now.
 */
export interface ChunkMarks {
  /** The plan of the table's chunks on this source an earlier run recorded (resuming), if any. */
  knownPlan(sourceIndex: number, table: string): ChunkPlan | undefined;
  /** Records a table's plan, open (as it is cut) or whole, before a chunk it holds is marked done. */
  recordPlan(sourceIndex: number, table: TableDefinition, plan: ChunkPlan): Promise<void>;
  isDone(sourceIndex: number, table: string, chunk: number): boolean;
  /**
   * Before reading `range` (chunk `chunk`, or an open plan's rest from it on): removes whatever an earlier run wrote
   * of it.
   */
  prepare(sourceIndex: number, table: TableDefinition, plan: ChunkPlan, chunk: number, range: ChunkRange): Promise<void>;
  /** After every batch of the chunk is written. */
  done(sourceIndex: number, table: string, chunk: number): Promise<void>;
}
