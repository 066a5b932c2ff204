// The copy: every chunk of every table read from its source, each row routed, batched and written.
// Readers are bounded per source, writers per destination, and both sides by queue sizes: memory does not grow
// with table size. The first error aborts everything through the one signal.

import PQueue from 'p-queue';
import type { Logger } from 'pino';
import type { Pool, TabletRef } from '../mysql/connection.ts';
import { planChunks, type ChunkingOptions, type ChunkPlan } from '../mysql/chunker.ts';
import { scanRows, type RawRow } from '../mysql/raw-rows.ts';
import { buildChunkSelect, type ChunkRange, type OrderTerm, type Row } from '../mysql/sql.ts';
import type { TableDefinition } from '../mysql/schema.ts';
import type { Batch, BatchLimits } from './insert-batcher.ts';
import type { DestinationWriter } from './writer.ts';

export interface SourceSide {
  ref: TabletRef;
  pool: Pool;
  dbName: string;
}

export interface DestinationSide {
  ref: TabletRef;
  dbName: string;
  writer: DestinationWriter;
}

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

export interface CopyRequest {
  sources: SourceSide[];
  destinations: DestinationSide[];
  tables: TableDefinition[];
  /** The router for rows of `table` read from `sources[sourceIndex]`. */
  routerFor(table: TableDefinition, sourceIndex: number): RowRouter;
  chunking: ChunkingOptions;
  readersPerSource: number;
  batchLimits: BatchLimits;
  /** The job's one controller: the first failure aborts it, and everything else stops on its signal. */
  abort: AbortController;
  progress: CopyProgress;
  log: Logger;
}

/**
 * SQL that reads one chunk, shared by the copy and the diff: ordered by primary key, or by the diff's own terms
 * (which must read both sides in the very order it compares them).
 */
export function chunkQuery(dbName: string, table: TableDefinition, plan: ChunkPlan, range: ChunkRange, orderBy: readonly (string | OrderTerm)[] = table.primaryKey): string {
  return buildChunkSelect({
    db: dbName,
    table: table.name,
    selectList: table.selectList,
    chunkColumn: plan.column,
    range,
    orderBy,
  });
}

export async function copyTables(req: CopyRequest): Promise<void> {
  const tasks: Promise<void>[] = [];
  try {
    await queueChunks(req, tasks);
  } catch (err) {
    req.abort.abort(err);
    await Promise.allSettled(tasks);
    throw err;
  }
  await settleAll(tasks);
}

async function queueChunks(req: CopyRequest, tasks: Promise<void>[]): Promise<void> {
  const { signal } = req.abort;
  for (const [sourceIndex, source] of req.sources.entries()) {
    // Largest first, so one big table does not run alone at the end.
    const tables = [...req.tables].sort((a, b) => b.rowsEstimate - a.rowsEstimate);
    const readers = new PQueue({ concurrency: req.readersPerSource });
    for (const table of tables) {
      signal.throwIfAborted();
      const plan = await planChunks(source.pool, source.ref, source.dbName, table, req.chunking);
      req.progress.chunksPlanned(table.name, plan.chunks.length);
      const router = req.routerFor(table, sourceIndex);
      for (const [chunkIndex, range] of plan.chunks.entries()) {
        const log = req.log.child({ table: table.name, chunk: chunkIndex, source: source.ref.alias });
        const task = readers.add(() => copyChunk(req, source, table, plan, range, router, log), { signal }) as Promise<void>;
        tasks.push(task.catch((err: unknown) => {
          if (!signal.aborted) log.error({ err }, 'chunk failed');
          req.abort.abort(err);
          throw err;
        }));
      }
    }
  }
}

/** Waits for every task; the first failure is the one reported (the rest are its consequences). */
async function settleAll(tasks: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(tasks);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

async function copyChunk(
  req: CopyRequest,
  source: SourceSide,
  table: TableDefinition,
  plan: ChunkPlan,
  range: ChunkRange,
  router: RowRouter,
  log: Logger,
): Promise<void> {
  const { destinations, progress } = req;
  const { signal } = req.abort;
  progress.tableStarted(table.name);
  const batchers = destinations.map((d) => d.writer.batcher(d.dbName, table, req.batchLimits));
  const pending: Promise<void>[] = [];
  const doing = `writing rows into ${table.name}`;
  const send = async (index: number, batch: Batch) => {
    const { done } = await destinations[index].writer.submit(batch, doing);
    const counted = done.then(() => progress.rowsWritten(table.name, batch.rows));
    // Keep a rejection from going unhandled while the reader is still busy; it is awaited below.
    counted.catch(() => {});
    pending.push(counted);
  };
  let skipped = 0;
  const route = router.raw ?? ((row: RawRow) => router(row.values()));
  const sql = chunkQuery(source.dbName, table, plan, range);
  // Rows are views into the packets they came in, valid during the call: batchers copy what they keep.
  // A returned promise (a full batch waiting for room at its writer) pauses the read.
  await scanRows(source.pool, source.ref, `reading ${table.name}`, sql, (row) => {
    const index = route(row);
    if (index < 0) {
      skipped++;
      return;
    }
    const full = batchers[index].add(row);
    if (full) return send(index, full);
  }, { signal });
  for (const [index, batcher] of batchers.entries()) {
    const last = batcher.take();
    if (last) await send(index, last);
  }
  await settleAll(pending);
  if (skipped) progress.rowsSkipped(table.name, skipped);
  progress.chunkDone(table.name);
  log.debug({ skipped }, 'chunk copied');
}
