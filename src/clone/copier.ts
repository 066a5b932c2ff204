// The copy: every chunk of every table read from its source, each row routed, batched and written.
// One reader per table (tables read at once bounded per source), its chunks in key order; writers bounded per
// destination, and both sides by queue sizes: memory does not grow with table size. The first error aborts everything through the one signal.

import PQueue from 'p-queue';
import { GrowingPlan } from './growing-plan.ts';
import type { Logger } from 'pino';
import { ByteArena, COPY_ARENA_BYTES } from '../mysql/wire/byte-arena.ts';
import { chunkQuery, planChunks, type ChunkingOptions, type ChunkPlan, type ChunkRange } from '../mysql/chunker.ts';
import { KeyCursor, keyCursorProblem } from '../mysql/key-cursor.ts';
import type { RawRow } from '../mysql/wire/raw-rows.ts';
import { classifyError } from '../mysql/retry.ts';
import { largestFirst, type TableDefinition } from '../mysql/schema.ts';
import type { Batch, BatchLimits } from './batch.ts';
import type { ChunkMarks, CopyProgress, RowRouter, SourceSide } from '../pipeline/contracts.ts';
import { settleAll } from '../pipeline/settle-all.ts';
import type { DestinationWriter } from './writer.ts';

export interface DestinationSide {
  dbName: string;
  writer: DestinationWriter;
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
  marks?: ChunkMarks;
  /** Called once per table when every chunk of it, from every source, is written (and marked). */
  tableCopied?(table: TableDefinition): void;
}

export async function copyTables(req: CopyRequest): Promise<void> {
  // The copy's own arena: dropped with it, whatever a failure left unreturned.
  const run: CopyRun = { req, completion: new TableCompletion(req), queues: [], tails: new Set(), failure: null, arena: new ByteArena(COPY_ARENA_BYTES) };
  try {
    // Each source's readers at once (a merge reads its sources side by side).
    await Promise.all(req.sources.map((source, sourceIndex) => queueChunks(run, source, sourceIndex)));
  } catch (err) {
    req.abort.abort(err);
    run.failure ??= { err };
  }
  // Every queued chunk has finished or, after a failure, been dropped.
  await Promise.all(run.queues.map((q) => q.onIdle()));
  // The last chunks' writes, still landing when their readers ended.
  await Promise.allSettled([...run.tails]);
  if (run.failure) throw run.failure.err;
}

interface CopyRun {
  req: CopyRequest;
  completion: TableCompletion;
  queues: PQueue[];
  /** Chunks read whose last batches are still being written. */
  tails: Set<Promise<void>>;
  /** The first failure: the one reported (the rest are its consequences). */
  failure: { err: unknown } | null;
  /** Batch buffers and the readers' staging, cut from one ArrayBuffer (see mysql/wire/byte-arena.ts). */
  arena: ByteArena;
}

/** Chunks of each table still to copy, and on how many sources it is planned: copied when all are and none is left. */
class TableCompletion {
  readonly #left = new Map<string, { sourcesPlanned: number; chunks: number }>();
  readonly #req: CopyRequest;

  constructor(req: CopyRequest) {
    this.#req = req;
  }

  /** A source's plan of the table is whole: `chunksToCopy` of its chunks are to be copied (some may be already). */
  planned(table: TableDefinition, chunksToCopy: number): void {
    const t = this.#entry(table);
    t.sourcesPlanned++;
    t.chunks += chunksToCopy;
    this.#check(table, t);
  }

  /** May come before its plan is whole (a walk's first chunks are copied while it goes on): the count goes below 0. */
  chunkCopied(table: TableDefinition): void {
    const t = this.#entry(table);
    t.chunks--;
    this.#check(table, t);
  }

  #entry(table: TableDefinition): { sourcesPlanned: number; chunks: number } {
    let t = this.#left.get(table.name);
    if (!t) this.#left.set(table.name, (t = { sourcesPlanned: 0, chunks: 0 }));
    return t;
  }

  #check(table: TableDefinition, t: { sourcesPlanned: number; chunks: number }): void {
    if (t.chunks === 0 && t.sourcesPlanned === this.#req.sources.length) this.#req.tableCopied?.(table);
  }
}

/**
 * Queues one source's tables, largest first (see largestFirst), `readersPerSource` of them read at once. One reader
 * per table reads its chunks one after another, in key order: with each table's batches written in order on their
 * lane (see writer.ts), a table's rows reach each destination in key order, which InnoDB takes as appends; several
 * readers on one table made the destinations split pages mid-tree (see docs/performance.md). Chunks remain the
 * unit of resume, marks and progress.
 */
async function queueChunks(run: CopyRun, source: SourceSide, sourceIndex: number): Promise<void> {
  const { req, completion } = run;
  const { signal } = req.abort;
  const readers = new PQueue({ concurrency: req.readersPerSource });
  run.queues.push(readers);
  // Tables are planned (and their plans recorded) a few ahead of their readers, as they are queued, one walk at a
  // time: a reader waiting on its destination (a locked table) does not hold up the next table's plan, nor does
  // memory follow the number of tables. A table's reader starts on its first chunk while its walk goes on.
  const ahead = req.readersPerSource;
  for (const table of largestFirst(req.tables)) {
    if (readers.size >= ahead) await readers.onSizeLessThan(ahead);
    signal.throwIfAborted();
    const failed = (err: unknown) => {
      if (!signal.aborted) req.log.error({ err, table: table.name, source: source.client.ref.alias }, 'table copy failed');
      run.failure ??= { err };
      req.abort.abort(err);
    };
    const known = req.marks?.knownPlan(sourceIndex, table.name);
    const growing = known ? GrowingPlan.of(known) : new GrowingPlan();
    // The status counts a table's chunks as they are known.
    if (known) req.progress.chunksPlanned(table.name, known.chunks.length);
    else {
      const found = (range: ChunkRange, shape: Omit<ChunkPlan, 'chunks'>) => {
        growing.add(range, shape);
        req.progress.chunksPlanned(table.name, 1);
      };
      planChunks(source.client, source.dbName, table, req.chunking, signal, found).then(
        (plan) => growing.complete(plan),
        (err: unknown) => growing.fail(err),
      );
    }
    // Chunks are marked done only once their plan is on record: a resumed job must cut the table the same way.
    const recorded = growing.done.then(async (plan) => {
      if (!known) await req.marks?.recordPlan(sourceIndex, table, plan);
      const toCopy = plan.chunks.filter((_, chunkIndex) => !req.marks?.isDone(sourceIndex, table.name, chunkIndex)).length;
      // A table with none left to copy (a resumed job's) is complete at once.
      completion.planned(table, toCopy);
    });
    recorded.catch(failed);
    (readers.add(() => copyTableFrom(run, source, sourceIndex, table, growing, recorded), { signal }) as Promise<void>).catch(failed);
    // The next table's walk after this one's.
    await recorded.catch(() => {});
  }
}

/** One table's chunks on one source, read in key order; each chunk's last batches land while the next is read. */
async function copyTableFrom(
  run: CopyRun,
  source: SourceSide,
  sourceIndex: number,
  table: TableDefinition,
  growing: GrowingPlan,
  recorded: Promise<void>,
): Promise<void> {
  const { req, completion } = run;
  const { signal } = req.abort;
  const router = req.routerFor(table, sourceIndex);
  const plan = growing.plan;
  for (let chunkIndex = 0; ; chunkIndex++) {
    const range = await growing.chunk(chunkIndex);
    if (range === null) break;
    if (req.marks?.isDone(sourceIndex, table.name, chunkIndex)) {
      req.progress.chunkDone(table.name);
      continue;
    }
    signal.throwIfAborted();
    const chunk = { sourceIndex, index: chunkIndex, range };
    const log = req.log.child({ table: table.name, chunk: chunkIndex, source: source.client.ref.alias });
    const failed = (err: unknown) => {
      if (!signal.aborted) log.error({ err }, 'chunk failed');
      run.failure ??= { err };
      req.abort.abort(err);
    };
    // The reader goes on with its chunk read: its last batches land while it reads the next chunk, so the
    // destinations do not drain at every chunk's end.
    const tail = (await copyChunk(req, run.arena, source, table, plan, chunk, router, recorded, log)).landed.then(() => completion.chunkCopied(table));
    run.tails.add(tail);
    tail.then(() => run.tails.delete(tail), failed);
  }
}

interface ChunkRef {
  sourceIndex: number;
  index: number;
  range: ChunkRange;
}

async function copyChunk(
  req: CopyRequest,
  arena: ByteArena,
  source: SourceSide,
  table: TableDefinition,
  plan: ChunkPlan,
  chunk: ChunkRef,
  router: RowRouter,
  /** Settles once the table's plan is on record: only then may a chunk be marked done. */
  recorded: Promise<void>,
  log: Logger,
): Promise<{ landed: Promise<void> }> {
  const { destinations, progress } = req;
  const { signal } = req.abort;
  progress.tableStarted(table.name);
  await req.marks?.prepare(chunk.sourceIndex, table, plan, chunk.index);
  const batchers = destinations.map((d) => d.writer.batcher(d.dbName, table, { ...req.batchLimits, arena }));
  const pending: Promise<void>[] = [];
  const doing = `writing rows into ${table.name} (chunk ${chunk.index})`;
  let submitted = false;
  const send = async (index: number, batch: Batch) => {
    submitted = true;
    const { done } = await destinations[index].writer.submit(batch, doing, table.name);
    const counted = done.then(() => progress.rowsWritten(table.name, batch.rows));
    // Keep a rejection from going unhandled while the reader is still busy; it is awaited below.
    counted.catch(() => {});
    pending.push(counted);
  };
  let skipped = 0;
  const route = router.raw ?? ((row: RawRow) => router(row.values()));
  // Rows in the binary protocol where every destination binds them as they come (see mysql/wire/binary-row.ts).
  const binary = destinations.every((d) => d.writer.method === 'bulk');
  // A read that breaks resumes after the last row it routed: the rows before it are in batches already.
  const noCursor = keyCursorProblem(table);
  const cursor = noCursor === null ? new KeyCursor(table) : null;
  let sinking: Promise<void> | void;
  // Rows are views into the packets they came in, valid during the call: batchers copy what they keep.
  // A returned promise (a full batch waiting for room at its writer) pauses the read.
  const sink = (row: RawRow) => {
    const index = route(row);
    cursor?.track(row);
    if (index < 0) {
      skipped++;
      return;
    }
    const full = batchers[index].add(row);
    if (full) return (sinking = send(index, full));
  };
  // Retried by the source's client; a repeat reads on after the last row routed (or from the start, see below).
  const doingRead = `reading ${table.name} (chunk ${chunk.index})`;
  const prepare = async (attempt: number) => {
    if (attempt > 1) {
      // The batch the broken read was handing on must be submitted before the read goes on without it.
      await sinking;
      if (!cursor) {
        if (submitted)
          throw new Error(
            `reading ${table.name} (chunk ${chunk.index}) from ${source.client.ref.alias} broke after some of its rows were written, and it cannot resume after its last row (${noCursor}): failing rather than duplicating rows`,
          );
        // Nothing written yet: drop what was batched and read the chunk again from its start.
        for (const b of batchers) b.take()?.release();
        skipped = 0;
      }
    }
    return chunkQuery(source.dbName, table, plan, chunk.range, { after: cursor?.afterLast() ?? null });
  };
  await source.client.scan(
    doingRead,
    prepare,
    sink,
    { signal, binary, arena },
    {
      context: { table: table.name, chunk: chunk.index },
      message: 'read failed; resuming after the last row read',
      // A read-only refusal cannot happen to a read; anything but a broken connection or a rolled-back read is final.
      classify: (err) => {
        const kind = classifyError(err);
        return kind === 'read-only' ? 'fatal' : kind;
      },
    },
  );
  for (const [index, batcher] of batchers.entries()) {
    const last = batcher.take();
    if (last) await send(index, last);
  }
  const landed = (async () => {
    await settleAll(pending);
    await recorded;
    await req.marks?.done(chunk.sourceIndex, table.name, chunk.index);
    if (skipped) progress.rowsSkipped(table.name, skipped);
    progress.chunkDone(table.name);
    log.debug({ skipped, rowsRead: cursor?.rows }, 'chunk copied');
  })();
  landed.catch(() => {}); // handled by the caller, which gets it a turn later
  return { landed };
}
