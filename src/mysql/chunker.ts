// Splits a table into chunks on its primary key, so that readers can work on it in parallel.

import type { TabletClient } from './tablet-client.ts';
import { quoteId, quoteTable, type ChunkRange } from './sql.ts';
import type { TableDefinition } from './schema.ts';

export interface ChunkingOptions {
  /** At most this many chunks per table. */
  chunkCount: number;
  /** Each chunk holds at least this many estimated rows. */
  minRowsPerChunk: number;
  /** Tables smaller than this many bytes are one chunk. */
  minTableSizeForSplit: number;
}

export interface ChunkPlan {
  /** The column chunk bounds apply to; null when the table is read whole. */
  column: string | null;
  chunks: ChunkRange[];
}

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint']);

/** Integer columns: the only ones chunked by range, and the ones whose text the diff compares by value. */
export function isIntegerType(dataType: string): boolean {
  return INTEGER_TYPES.has(dataType);
}
const WHOLE: ChunkPlan = { column: null, chunks: [{ start: null, end: null }] };

/** How many chunks a table of this size gets: at most chunkCount, each of at least minRowsPerChunk rows. */
export function chunkCountFor(table: Pick<TableDefinition, 'rowsEstimate' | 'dataLength'>, opts: ChunkingOptions): number {
  if (table.dataLength < opts.minTableSizeForSplit) return 1;
  return Math.max(1, Math.min(opts.chunkCount, Math.floor(table.rowsEstimate / opts.minRowsPerChunk)));
}

/**
 * Evenly spaced bounds between min and max (inclusive) cut into `count` ranges. The first range has no start and
 * the last no end, so every row is in exactly one chunk whatever the estimate said.
 */
export function splitIntegerRange(min: bigint, max: bigint, count: number): ChunkRange[] {
  const span = max - min + 1n;
  const n = BigInt(Math.max(1, count)) > span ? span : BigInt(Math.max(1, count));
  const bounds: bigint[] = [];
  for (let i = 1n; i < n; i++) bounds.push(min + (span * i) / n);
  const ranges: ChunkRange[] = [];
  let start: string | null = null;
  for (const b of bounds) {
    ranges.push({ start, end: b.toString() });
    start = b.toString();
  }
  ranges.push({ start, end: null });
  return ranges;
}

/** Reads the bounds of the first primary key column (integer keys only; others are one chunk for now). */
export async function planChunks(client: TabletClient, dbName: string, table: TableDefinition, opts: ChunkingOptions): Promise<ChunkPlan> {
  const count = chunkCountFor(table, opts);
  const first = table.primaryKey[0];
  const column = table.columns.find((c) => c.name === first);
  if (count <= 1 || !column || !isIntegerType(column.dataType)) return WHOLE;
  const rows = await client.query<{ lo: string | null; hi: string | null }[]>(`finding chunks of ${table.name}`,
    `SELECT MIN(${quoteId(first)}) AS lo, MAX(${quoteId(first)}) AS hi FROM ${quoteTable(dbName, table.name)}`);
  const { lo, hi } = rows[0];
  if (lo === null || hi === null) return WHOLE;
  return { column: first, chunks: splitIntegerRange(BigInt(String(lo)), BigInt(String(hi)), count) };
}
