// The diff: every table cut into the clone's chunks, each chunk read from the sources (only the rows that belong
// to the destination) and from the destination, in the same key order, and merge-joined. Chunks of all tables run
// in parallel, largest table first, so one big table is not one long scan. The first error aborts everything
// through the one signal; differences are no error here, only counted.

import PQueue from 'p-queue';
import type { Logger } from 'pino';
import type { RowRouter, SourceSide } from '../pipeline/contracts.ts';
import { settleAll } from '../pipeline/settle-all.ts';
import { chunkQuery, planChunks, type ChunkingOptions, type ChunkPlan, type ChunkRange } from '../mysql/chunker.ts';
import { attemptOn } from '../mysql/tablet-client.ts';
import { largestFirst, type TableDefinition } from '../mysql/schema.ts';
import type { RawRow } from '../mysql/wire/raw-rows.ts';
import { ByteArena } from '../mysql/wire/byte-arena.ts';
import { orderTerms, rowKeyOf, type RowKey } from './key-order.ts';
import { joinBatches } from './row-differ.ts';
import { addTally, emptyTally, type DiffTally } from './tally.ts';

/** A destination is read like a source: a client of its primary and the database. */
export type DiffDestinationSide = SourceSide;

export interface DiffProgress {
  chunksPlanned(table: string, count: number): void;
  tableStarted(table: string): void;
  /** Source rows read (whether or not they belong to the destination): the work done, for rate and ETA. */
  rowsRead(table: string, rows: number): void;
  /** One more chunk diffed (on every destination); `tally` is the table's so far (the same object each time: read it, do not keep it). */
  chunkDiffed(table: string, tally: DiffTally): void;
  /** Every chunk of the table is diffed, on every destination. */
  tableDone(table: string, tally: DiffTally): void;
}

export interface DiffRequest {
  sources: SourceSide[];
  destinations: DiffDestinationSide[];
  tables: TableDefinition[];
  /** Where a row of `table` read from `sources[sourceIndex]` belongs: a destination index, or -1. */
  routerFor(table: TableDefinition, sourceIndex: number): RowRouter;
  /** The sources that may hold rows of destination `destIndex` (the others are not read for it). */
  sourcesFor(destIndex: number): number[];
  /** SQL condition keeping the rows of `sources[sourceIndex]` the destinations may hold ('' for all): read no others. */
  sourceFilter(table: TableDefinition, sourceIndex: number): string;
  chunking: ChunkingOptions;
  /**
   * Chunks diffed at once. Each holds a connection of every source it reads and of its destination, so every pool
   * must have at least this many connections (fewer could deadlock two chunks on each other's pools).
   */
  parallelDiffs: number;
  abort: AbortController;
  progress: DiffProgress;
  log: Logger;
}

/**
 * The staging of every read of a diff (a 256 KiB slot per read at once: 16 reads at the default parallelism); a read
 * that finds it full stages in Node's buffers, as before.
 */
const DIFF_ARENA_BYTES = 16 * 1024 * 1024;

interface TablePlan {
  table: TableDefinition;
  plan: ChunkPlan;
  key: RowKey;
  /** Per source, the condition keeping the rows the destinations may hold (req.sourceFilter, asked once a table). */
  filters: string[];
  tally: DiffTally;
  /** Chunks not diffed yet (each on every destination at once). */
  remaining: number;
}

/** Diffs every table on every destination; returns each table's tally, in the order of `req.tables`. */
export async function diffTables(req: DiffRequest): Promise<Map<string, DiffTally>> {
  const tallies = new Map(req.tables.map((t) => [t.name, emptyTally()]));
  const tasks: Promise<void>[] = [];
  const arena = new ByteArena(DIFF_ARENA_BYTES);
  try {
    await queueChunks(req, arena, tallies, tasks);
  } catch (err) {
    req.abort.abort(err);
    await Promise.allSettled(tasks);
    throw err;
  }
  await settleAll(tasks);
  return tallies;
}

async function queueChunks(req: DiffRequest, arena: ByteArena, tallies: Map<string, DiffTally>, tasks: Promise<void>[]): Promise<void> {
  const { signal } = req.abort;
  const queue = new PQueue({ concurrency: req.parallelDiffs });
  // Largest first, so one big table does not run alone at the end.
  const tables = largestFirst(req.tables);
  // Planned on the first source: the first chunk has no start and the last no end, so the same ranges cover every
  // row of every side whatever each holds.
  const planner = req.sources[0];
  for (const table of tables) {
    signal.throwIfAborted();
    const plan = await planChunks(planner.client, planner.dbName, table, req.chunking, signal);
    const filters = req.sources.map((_, i) => req.sourceFilter(table, i));
    const entry: TablePlan = { table, plan, key: rowKeyOf(table), filters, tally: tallies.get(table.name)!, remaining: plan.chunks.length };
    req.progress.chunksPlanned(table.name, entry.remaining);
    for (const [chunkIndex, range] of plan.chunks.entries()) {
      const log = req.log.child({ table: table.name, chunk: chunkIndex });
      const task = queue.add(() => diffChunk(req, arena, entry, range, log), { signal }) as Promise<void>;
      const failed = task.catch((err: unknown) => {
        if (!signal.aborted) log.error({ err }, 'chunk diff failed');
        req.abort.abort(err);
        throw err;
      });
      // Awaited by diffTables once everything is queued; until then a failure must not count as unhandled.
      failed.catch(() => {});
      tasks.push(failed);
    }
  }
}

/**
 * One chunk on every destination at once: each source that feeds any destination is read once, its rows tagged with
 * the destination they belong to (or dropped), and every side is read in parallel.
 */
async function diffChunk(req: DiffRequest, arena: ByteArena, entry: TablePlan, range: ChunkRange, log: Logger): Promise<void> {
  const { table, plan, key } = entry;
  const { signal } = req.abort;
  req.progress.tableStarted(table.name);
  const order = orderTerms(table, key);
  const doing = `reading ${table.name} to diff it`;
  const sourceIndexes = [...new Set(req.destinations.flatMap((_, d) => req.sourcesFor(d)))].sort((a, b) => a - b);
  // Only the destinations a source feeds may hold its rows: a row routed elsewhere is not this diff's.
  const feeds = sourceIndexes.map((i) => new Set([...req.destinations.keys()].filter((d) => req.sourcesFor(d).includes(i))));
  const spec = { key, columns: table.columns.map((c) => c.name) };
  // The chunk's reads, retried together (reads only: a repeat diffs the chunk afresh; its tallies are kept only once
  // the chunk is through). A broken read is charged to the tablet it names.
  const tallies = await attemptOn(
    [...sourceIndexes.map((i) => req.sources[i].client), ...req.destinations.map((d) => d.client)],
    doing,
    async (channels) => {
      const sources = sourceIndexes.map((i, n) => {
        const s = req.sources[i];
        const route = req.routerFor(table, i);
        const raw = route.raw ?? ((row: RawRow) => route(row.values()));
        const fed = feeds[n];
        return channels[n].scanBatches(doing, chunkQuery(s.dbName, table, plan, range, { orderBy: order, filter: entry.filters[i] }), {
          signal,
          arena,
          tagOf: (row) => {
            const d = raw(row);
            return fed.has(d) ? d : -1;
          },
          onRead: (count) => req.progress.rowsRead(table.name, count),
        });
      });
      const destinations = req.destinations.map((d, n) =>
        channels[sourceIndexes.length + n].scanBatches(doing, chunkQuery(d.dbName, table, plan, range, { orderBy: order }), { signal, arena }),
      );
      return joinBatches(sources, destinations, spec);
    },
    { context: { table: table.name }, message: 'diff read failed; diffing the chunk again' },
  );
  signal.throwIfAborted();
  for (const [d, tally] of tallies.entries()) {
    addTally(entry.tally, tally, req.destinations.length > 1 ? { destination: req.destinations[d].client.ref.alias } : undefined);
  }
  req.progress.chunkDiffed(table.name, entry.tally);
  if (--entry.remaining === 0) req.progress.tableDone(table.name, entry.tally);
  log.debug({ processed: tallies.reduce((n, t) => n + t.processed, 0) }, 'chunk diffed');
}
