// The copy: every chunk of every table read from its source, each row routed, batched and written.
// One reader per table (tables read at once bounded per source), its chunks in key order; writers bounded per
// destination, and both sides by queue sizes: memory does not grow with table size. The first error aborts everything through the one signal.

import PQueue from 'p-queue';
import { GrowingPlan } from './growing-plan.ts';
import type { Logger } from 'pino';
import { ByteArena, COPY_ARENA_BYTES } from '../mysql/wire/byte-arena.ts';
import { chunkQuery, keyBoundOf, startPlan, type ChunkBound, type ChunkingOptions, type ChunkRange, type KeyCut } from '../mysql/chunker.ts';
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
    failCopy(run, err);
  }
  // Every queued chunk has finished or, after a failure, been dropped.
  await Promise.all(run.queues.map((q) => q.onIdle()));
  // The last chunks' writes, still landing when their readers ended.
  await Promise.allSettled([...run.tails]);
  if (run.failure) throw run.failure.err;
}

/** Records the copy's first failure (the one reported) and aborts the rest; `report` logs it unless already aborted. */
function failCopy(run: CopyRun, err: unknown, report: () => void = () => {}): void {
  if (!run.req.abort.signal.aborted) report();
  run.failure ??= { err };
  run.req.abort.abort(err);
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
 * per table reads it in key order: with each table's batches written in order on their lane (see writer.ts), a
 * table's rows reach each destination in key order, which InnoDB takes as appends; several readers on one table
 * made the destinations split pages mid-tree (see docs/performance.md). Chunks remain the unit of resume, marks
 * and progress.
 */
async function queueChunks(run: CopyRun, source: SourceSide, sourceIndex: number): Promise<void> {
  const { req, completion } = run;
  const { signal } = req.abort;
  const readers = new PQueue({ concurrency: req.readersPerSource });
  run.queues.push(readers);
  // Tables are planned a few ahead of their readers, as they are queued, one at a time: a reader waiting on its
  // destination (a locked table) does not hold up the next table's plan, nor does memory follow the number of tables.
  const ahead = req.readersPerSource;
  for (const table of largestFirst(req.tables)) {
    if (readers.size >= ahead) await readers.onSizeLessThan(ahead);
    signal.throwIfAborted();
    const failed = (err: unknown) => failCopy(run, err, () => req.log.error({ err, table: table.name, source: source.client.ref.alias }, 'table copy failed'));
    const growing = new GrowingPlan((plan) => req.marks?.recordPlan(sourceIndex, table, plan) ?? Promise.resolve());
    const known = req.marks?.knownPlan(sourceIndex, table.name);
    (known ? Promise.resolve(known) : startPlan(source.client, source.dbName, table, req.chunking)).then(
      (plan) => {
        growing.start(plan, known !== undefined);
        // The status counts a table's chunks as they are known.
        req.progress.chunksPlanned(table.name, plan.chunks.length);
      },
      (err: unknown) => growing.fail(err),
    );
    growing.done
      .then((plan) => {
        const toCopy = plan.chunks.filter((_, chunkIndex) => !req.marks?.isDone(sourceIndex, table.name, chunkIndex)).length;
        // A table with none left to copy (a resumed job's) is complete at once.
        completion.planned(table, toCopy);
      })
      .catch(failed);
    (readers.add(() => copyTableFrom(run, source, sourceIndex, table, growing), { signal }) as Promise<void>).catch(failed);
    // The next table's plan after this one's start.
    await growing.started.catch(() => {});
  }
}

/**
 * One table on one source, in key order: the chunks a plan holds from the start, each read on its own, then the
 * rest of an open plan in one read that cuts it into chunks as it goes. Each chunk's last batches land while the
 * reader goes on.
 */
async function copyTableFrom(run: CopyRun, source: SourceSide, sourceIndex: number, table: TableDefinition, growing: GrowingPlan): Promise<void> {
  const { req } = run;
  await growing.started;
  const plan = growing.plan;
  const reader: TableReader = { run, source, sourceIndex, table, growing, router: req.routerFor(table, sourceIndex) };
  const known = plan.chunks.length;
  for (let chunkIndex = 0; chunkIndex < known; chunkIndex++) {
    if (req.marks?.isDone(sourceIndex, table.name, chunkIndex)) {
      req.progress.chunkDone(table.name);
      continue;
    }
    await copyRead(reader, chunkIndex, plan.chunks[chunkIndex], null);
  }
  if (plan.open) await copyRead(reader, known, growing.rest(), plan.open);
}

interface TableReader {
  run: CopyRun;
  source: SourceSide;
  sourceIndex: number;
  table: TableDefinition;
  growing: GrowingPlan;
  router: RowRouter;
}

/**
 * A chunk's rows on their way: the batches sent while it was the one being read, and the ones still to be sent
 * that hold its last rows (a batch runs on across a cut, see copyRead).
 */
class ChunkTail {
  readonly pending: Promise<void>[] = [];
  skipped = 0;
  #owed = 0;
  #paid: { resolve(): void; reject(err: unknown): void } | null = null;
  #abandoned: { err: unknown } | null = null;

  constructor(
    readonly index: number,
    readonly start: ChunkBound | null,
  ) {}

  /** A destination's open batch holds some of this chunk's rows. */
  owe(): void {
    this.#owed++;
  }

  /** That batch was sent. */
  pay(written: Promise<void>): void {
    this.pending.push(written);
    if (--this.#owed === 0) this.#paid?.resolve();
  }

  /** The read failed before a batch it owes was sent: the chunk is not done (and its tail must not wait forever). */
  abandon(err: unknown): void {
    this.#abandoned ??= { err };
    this.#paid?.reject(err);
  }

  /** Settles once every batch holding the chunk's rows is written. */
  async landed(): Promise<void> {
    if (this.#owed > 0) {
      if (this.#abandoned) throw this.#abandoned.err;
      await new Promise<void>((resolve, reject) => (this.#paid = { resolve, reject }));
    }
    await settleAll(this.pending);
  }
}

/**
 * One read of a table: one chunk (`cut` null), or the rest of an open plan, cut into chunks as it is read: every
 * `cut.step` rows, the row's key ends the chunk being read and starts the next. Batches are not cut with the
 * chunks: a chunk is done once every batch holding its rows is written. Returns when the read has ended and its
 * last batches are submitted; each chunk's marks follow as its batches land (in run.tails).
 */
async function copyRead(reader: TableReader, first: number, range: ChunkRange, cut: KeyCut | null): Promise<void> {
  const { run, source, sourceIndex, table, growing, router } = reader;
  const { req } = run;
  const { destinations, progress } = req;
  const { signal } = req.abort;
  const plan = growing.plan;
  const log = req.log.child({ table: table.name, chunk: first, source: source.client.ref.alias });
  progress.tableStarted(table.name);
  await req.marks?.prepare(sourceIndex, table, plan, first, range);
  const batchers = destinations.map((d) => d.writer.batcher(d.dbName, table, { ...req.batchLimits, arena: run.arena }));
  /** Per destination: whether its batcher holds rows, and the closed chunks its next batch holds the last rows of. */
  const holding = destinations.map(() => false);
  const owing: ChunkTail[][] = destinations.map(() => []);
  let tail = new ChunkTail(first, range.start);
  let rowsInChunk = 0;
  const doing = `writing rows into ${table.name} (chunk ${first}${cut ? ' on' : ''})`;
  let submitted = false;
  const send = async (index: number, batch: Batch) => {
    submitted = true;
    const into = tail;
    const { done } = await destinations[index].writer.submit(batch, doing, table.name);
    const counted = done.then(() => progress.rowsWritten(table.name, batch.rows));
    // Keep a rejection from going unhandled while the reader is still busy; it is awaited by the chunks' tails.
    counted.catch(() => {});
    into.pending.push(counted);
    for (const owed of owing[index]) owed.pay(counted);
    owing[index] = [];
  };
  const route = router.raw ?? ((row: RawRow) => router(row.values()));
  // Rows in the binary protocol where every destination binds them as they come (see mysql/wire/binary-row.ts).
  const binary = destinations.every((d) => d.writer.method === 'bulk');
  // A read that breaks resumes after the last row it routed: the rows before it are in batches already.
  const noCursor = keyCursorProblem(table);
  const cursor = noCursor === null ? new KeyCursor(table) : null;
  if (cut && !cursor) throw new Error(`${table.name} cannot be cut while read: ${noCursor}`);
  /** The row just tracked starts the next chunk: the one being read ends before its key. */
  const closeChunk = () => {
    const bound = keyBoundOf(cursor!.lastKey()!, table.name);
    const closing = tail;
    growing.add({ start: closing.start, end: bound });
    progress.chunksPlanned(table.name, 1);
    for (const [index, held] of holding.entries()) {
      if (!held) continue;
      closing.owe();
      owing[index].push(closing);
    }
    tail = new ChunkTail(closing.index + 1, bound);
    finish(reader, closing, log);
  };
  let sinking: Promise<void> | void;
  // Rows are views into the packets they came in, valid during the call: batchers copy what they keep.
  // A returned promise (a full batch waiting for room at its writer) pauses the read.
  const sink = (row: RawRow) => {
    cursor?.track(row);
    if (cut !== null && ++rowsInChunk > cut.step && plan.chunks.length < cut.maxChunks - 1) {
      closeChunk();
      rowsInChunk = 1;
    }
    const index = route(row);
    if (index < 0) {
      tail.skipped++;
      return;
    }
    holding[index] = true;
    const full = batchers[index].add(row);
    if (full) return (sinking = send(index, full));
  };
  // Retried by the source's client; a repeat reads on after the last row routed (or from the start, see below).
  const doingRead = `reading ${table.name} (chunk ${first}${cut ? ' on' : ''})`;
  const prepare = async (attempt: number) => {
    if (attempt > 1) {
      // The batch the broken read was handing on must be submitted before the read goes on without it.
      await sinking;
      if (!cursor) {
        if (submitted)
          throw new Error(
            `reading ${table.name} (chunk ${first}) from ${source.client.ref.alias} broke after some of its rows were written, and it cannot resume after its last row (${noCursor}): failing rather than duplicating rows`,
          );
        // Nothing written yet: drop what was batched and read the chunk again from its start.
        for (const b of batchers) b.take()?.release();
        tail.skipped = 0;
      }
    }
    return chunkQuery(source.dbName, table, plan, range, { after: cursor?.afterLast() ?? null });
  };
  try {
    await source.client.scan(
      doingRead,
      prepare,
      sink,
      { signal, binary, arena: run.arena },
      {
        context: { table: table.name, chunk: first },
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
  } catch (err) {
    for (const owed of owing.flat()) owed.abandon(err);
    throw err;
  }
  if (cut) {
    // The chunk after the last cut: the rest of the table.
    growing.complete();
    progress.chunksPlanned(table.name, 1);
  }
  finish(reader, tail, log);
}

/** A chunk read whole: marked done once its batches are written and a recorded plan holds it. */
function finish(reader: TableReader, chunk: ChunkTail, log: Logger): void {
  const { run, sourceIndex, table, growing } = reader;
  const { req } = run;
  const landed = (async () => {
    await chunk.landed();
    await growing.recordedUpTo(chunk.index + 1);
    await req.marks?.done(sourceIndex, table.name, chunk.index);
    if (chunk.skipped) req.progress.rowsSkipped(table.name, chunk.skipped);
    req.progress.chunkDone(table.name);
    log.debug({ chunk: chunk.index, skipped: chunk.skipped }, 'chunk copied');
    run.completion.chunkCopied(table);
  })();
  run.tails.add(landed);
  landed.then(
    () => run.tails.delete(landed),
    (err: unknown) => failCopy(run, err, () => log.error({ err, chunk: chunk.index }, 'chunk failed')),
  );
}
