// Writes batches to one destination primary with a bounded pool of writers behind a queue bounded in batches and
// in bytes: a slow destination stops the readers (through submit) instead of growing the worker's memory.
// Each table's batches go through a lane of their own, in the order they were submitted, on one connection (bulk)
// or one at a time (the other methods): a table's rows reach the destination in key order, so InnoDB appends to
// the right edge of its trees instead of splitting pages in their middle (see docs/performance.md).

import PQueue from 'p-queue';
import { TabletError, type TabletRef } from '../mysql/connection.ts';
import { LANDED_IF_DUPLICATE_KEY, type TabletClient } from '../mysql/tablet-client.ts';
import { BULK_UNAVAILABLE } from '../mysql/wire/bulk-execute.ts';
import type { TableDefinition } from '../mysql/schema.ts';
import type { Batch, BatchLimits, RowBatcher } from './batch.ts';
import { InsertBatcher } from './insert-batcher.ts';
import { BulkBatcher } from './bulk-batcher.ts';
import { LoadDataBatcher } from './load-data-batcher.ts';

/**
 * `bulk`: a prepared INSERT run for a whole batch by COM_STMT_BULK_EXECUTE (MariaDB 10.2+; the fastest);
 * `load-data`: LOAD DATA LOCAL INFILE fed from memory; `insert`: multi-row INSERTs.
 */
export type WriteMethod = 'bulk' | 'load-data' | 'insert';
/** What a job asks for: a method, or `auto` (bulk where the destination takes it, else load-data). */
export type WriteMethodChoice = WriteMethod | 'auto';
export const WRITE_METHODS: readonly WriteMethodChoice[] = ['auto', 'bulk', 'load-data', 'insert'];

export interface WriterOptions {
  writers: number;
  method: WriteMethodChoice;
  signal: AbortSignal;
  /** Bytes of batches queued or being written at most (a batch larger than this still goes, alone). */
  maxQueuedBytes?: number;
}

/** Bulk batches in flight per writer connection: one running on the server, the next already sent. */
const BULK_PIPELINE_DEPTH = 2;

/** Batches of one lane waiting beyond its running ones: the lane's reader pauses past this. */
const LANE_WAITING = 2;

/**
 * One table's batches to this destination: run in submission order, `depth` at once (bulk: pipelined on the
 * lane's one connection, `connection`; the other methods one at a time, on whichever connection).
 */
interface Lane {
  connection: number;
  queue: PQueue;
}

/** 8 MiB per destination keeps its LOAD DATA writers fed (a 1 MiB batch loads in tens of ms) at little memory. */
export const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024;

/**
 * Bytes held by batches submitted to any writer of this process and not yet written: what tests watch to prove
 * memory stays within the queue bounds whatever the destinations do.
 */
export const queuedBatchBytes = {
  current: 0,
  peak: 0,
  /** Forgets the peak (between measurements). */
  resetPeak(): void {
    this.peak = this.current;
  },
};

export class DestinationWriter {
  readonly #client: TabletClient;
  readonly #choice: WriteMethodChoice;
  /** The method in use: set by open() (`auto` is resolved there), the choice until then. */
  #method: WriteMethod;
  /** Bytes a bulk packet may hold on this destination (half its max_allowed_packet): batches are cut to fit. */
  #maxBulkPacket = Infinity;
  readonly #writers: number;
  readonly #queue: PQueue;
  /** Batches waiting beyond the running ones. */
  readonly #maxWaiting: number;
  readonly #maxBytes: number;
  readonly #signal: AbortSignal;
  /** Bytes of this writer's batches submitted and not yet finished: at most #maxBytes, or one batch. */
  #bytes = 0;
  /** Submits waiting for bytes: all woken whenever a batch finishes, to look again. */
  #waiters: (() => void)[] = [];
  /** Lanes with batches queued or running, by key (a table); dropped when idle. */
  readonly #lanes = new Map<string, Lane>();
  /** The connection the next new lane gets: lanes take the writers' connections in turn. */
  #nextConnection = 0;

  /** `client`: the destination primary's, with the writers' connections (its retries are the batches'). */
  constructor(client: TabletClient, opts: WriterOptions) {
    this.#client = client;
    this.#choice = opts.method;
    this.#method = opts.method === 'auto' ? 'load-data' : opts.method;
    this.#signal = opts.signal;
    this.#writers = opts.writers;
    this.#maxWaiting = opts.writers * 2;
    this.#maxBytes = opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    // --max-tps is the job's gate's (throttle/gate.ts), on the destination's link: every statement passes it.
    this.#queue = new PQueue({ concurrency: opts.writers });
  }

  /** The destination primary as now addressed. */
  get ref(): TabletRef {
    return this.#client.ref;
  }

  get method(): WriteMethod {
    return this.#method;
  }

  /**
   * Settles the write method before any batch is made: `auto` becomes bulk when the destination's server takes
   * bulk commands, else load-data; an explicit bulk on a server that does not fails here, before anything is
   * copied. A bulk packet must fit the server's max_allowed_packet, so batches are cut at half of it.
   */
  async open(): Promise<WriteMethod> {
    if (this.#choice !== 'auto' && this.#choice !== 'bulk') return this.#method;
    const doing = 'checking the write method';
    const probe = await this.#client.attempt(doing, (channel) => channel.probeBulk(doing));
    if (!probe.bulk && this.#choice === 'bulk') throw new TabletError(this.ref, doing, new Error(`--write-method bulk: ${BULK_UNAVAILABLE}`));
    this.#method = probe.bulk ? 'bulk' : 'load-data';
    if (probe.bulk) {
      this.#maxBulkPacket = probe.maxBulkPacket;
      // Each writer's connection has its next batch sent while the server runs the one before (see BulkLanes).
      this.#queue.concurrency = this.#writers * BULK_PIPELINE_DEPTH;
    }
    return this.#method;
  }

  /** A batcher building this writer's kind of batch for one table of database `db`. */
  batcher(db: string, table: TableDefinition, limits: BatchLimits): RowBatcher {
    const columns = table.columns;
    switch (this.#method) {
      case 'bulk':
        return new BulkBatcher(db, table.name, columns, { ...limits, maxSize: Math.min(limits.maxSize, this.#maxBulkPacket) });
      case 'load-data':
        return new LoadDataBatcher(db, table.name, columns, limits);
      case 'insert':
        return new InsertBatcher(db, table.name, columns, limits);
    }
  }

  /** The lane of `key`, made when it has none (the next connection in turn). */
  #lane(key: string): Lane {
    let lane = this.#lanes.get(key);
    if (!lane) {
      lane = { connection: this.#nextConnection, queue: new PQueue({ concurrency: this.#method === 'bulk' ? BULK_PIPELINE_DEPTH : 1 }) };
      this.#nextConnection = (this.#nextConnection + 1) % this.#writers;
      this.#lanes.set(key, lane);
    }
    return lane;
  }

  /**
   * Waits for room in the batch's lane and in the queue (backpressure on the reader), then queues the batch in the
   * lane of `laneKey` (its table): batches of one lane are written in the order submitted.
   * Returns its completion (wrapped, so awaiting the room does not also await the write), which the caller must
   * await or hand on.
   */
  async submit(batch: Batch, doing: string, laneKey: string): Promise<{ done: Promise<void> }> {
    const lane = this.#lane(laneKey);
    if (lane.queue.size >= LANE_WAITING) await lane.queue.onSizeLessThan(LANE_WAITING);
    if (this.#queue.size >= this.#maxWaiting) await this.#queue.onSizeLessThan(this.#maxWaiting);
    while (this.#bytes > 0 && this.#bytes + batch.bytes > this.#maxBytes) {
      this.#signal.throwIfAborted();
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#signal.removeEventListener('abort', wake);
          resolve();
        };
        this.#waiters.push(wake);
        this.#signal.addEventListener('abort', wake, { once: true });
      });
    }
    this.#signal.throwIfAborted();
    this.#hold(batch.bytes);
    // The lane's turn first (its order), then a writer's; the lane is forgotten once nothing is in it.
    const write = () =>
      this.#queue.add(
        async () => {
          this.#signal.throwIfAborted();
          // One INSERT or LOAD DATA is atomic in InnoDB: after a lost connection it landed whole or not at all, so a
          // duplicate key on a later attempt means it had landed. After a failover the client writes to the new primary.
          await this.#client.attempt(
            doing,
            (channel) => {
              switch (batch.kind) {
                // Bulk lanes are the channel's: one connection per writer, another set on a new primary's pool.
                case 'bulk':
                  return channel.bulkInsert(this.#writers, doing, batch.sql, batch.packet, batch.rows, lane.connection);
                case 'load-data':
                  return channel.loadData(doing, batch.sql, batch.data, batch.rows, batch.packet);
                case 'insert':
                  return channel.query(doing, batch.sql);
              }
            },
            { repeat: LANDED_IF_DUPLICATE_KEY, message: 'write failed; retrying' },
          );
        },
        { signal: this.#signal },
      ) as Promise<void>;
    const done = (lane.queue.add(write, { signal: this.#signal }) as Promise<void>).finally(() => {
      if (lane.queue.size === 0 && lane.queue.pending === 0 && this.#lanes.get(laneKey) === lane) this.#lanes.delete(laneKey);
    });
    const released = done.finally(() => {
      this.#hold(-batch.bytes);
      batch.release();
    });
    // The caller awaits `done`; this chain only releases the bytes, its rejection is the same one.
    released.catch(() => {});
    return { done };
  }

  #hold(bytes: number): void {
    this.#bytes += bytes;
    queuedBatchBytes.current += bytes;
    if (queuedBatchBytes.current > queuedBatchBytes.peak) queuedBatchBytes.peak = queuedBatchBytes.current;
    if (bytes < 0 && this.#waiters.length) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
    }
  }

  async drain(): Promise<void> {
    await this.#queue.onIdle();
  }
}
