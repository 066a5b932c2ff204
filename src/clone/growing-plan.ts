// A table's chunk plan as its copy knows it, and its record for --resume. A plan is known whole at the start (an
// integer key's, a table of one chunk, or one an earlier run recorded), or open (mysql/chunker.ts startPlan): then
// the table's one reader reads it in key order and cuts a chunk every `step` rows as they arrive, each bound the
// row's own key. That replaced a walk of the key ahead of the reader (51 `LIMIT 1 OFFSET` queries on a 500,000-row
// table) and a range condition on every row read: together half the source's CPU in that copy.
//
// A chunk is marked done only once a recorded plan holds it, so that a resumed copy cuts the very same chunks: an
// open plan is recorded as it grows, at most once a second (each record holds every chunk so far: a table of 1,000
// chunks of a UUID key would otherwise write some 85 MB of records on each destination), and the whole plan once
// complete. A chunk's mark waits for the next record; a crash loses at most a second of marks.

import type { ChunkPlan, ChunkRange } from '../mysql/chunker.ts';

/** An open plan's records start at least this far apart. */
export const OPEN_RECORD_EVERY_MS = 1000;

export class GrowingPlan {
  /** The plan as far as known: its shape, its chunks so far and, while open, how the rest is cut. */
  readonly plan: ChunkPlan = { column: null, chunks: [] };
  /** Settles once the plan's start is known (start()), or with its failure. */
  readonly started: Promise<void>;
  /** Settles with the whole plan once it is on record, or with the first failure. */
  readonly done: Promise<ChunkPlan>;
  readonly #record: (plan: ChunkPlan) => Promise<void>;
  /** How many of the plan's chunks a landed record holds (Infinity once the whole plan is on record). */
  #recorded = 0;
  #recording: Promise<void> | null = null;
  readonly #recordEveryMs: number;
  #lastRecordAt = -Infinity;
  /** Until the next open record may start (or the plan is whole). */
  #pause: Promise<unknown> | null = null;
  #failure: { err: unknown } | null = null;
  #start!: { resolve(): void; reject(err: unknown): void };
  #done!: { resolve(plan: ChunkPlan): void; reject(err: unknown): void };

  /** `record` writes a plan, open or whole, where a resumed copy finds it (the copy's marks). */
  constructor(record: (plan: ChunkPlan) => Promise<void>, recordEveryMs = OPEN_RECORD_EVERY_MS) {
    this.#record = record;
    this.#recordEveryMs = recordEveryMs;
    this.started = new Promise<void>((resolve, reject) => (this.#start = { resolve, reject }));
    this.done = new Promise<ChunkPlan>((resolve, reject) => (this.#done = { resolve, reject }));
    // Awaited by whoever needs them; a failure reaches the reader and the marks through them too.
    this.started.catch(() => {});
    this.done.catch(() => {});
  }

  /** The plan's start: whole or open; `onRecord` when an earlier run recorded it (it is not recorded again). */
  start(plan: ChunkPlan, onRecord: boolean): void {
    this.plan.column = plan.column;
    if (plan.key) this.plan.key = plan.key;
    this.plan.chunks.push(...plan.chunks);
    if (onRecord) this.#recorded = plan.chunks.length;
    if (plan.open) this.plan.open = plan.open;
    else this.#finish(onRecord);
    this.#start.resolve();
  }

  /** The next chunk of an open plan, cut by its reader. */
  add(range: ChunkRange): void {
    this.plan.chunks.push(range);
  }

  /** The table after the plan's last bound (all of it before the first): what an open plan has still to cut. */
  rest(): ChunkRange {
    return { start: this.plan.chunks.at(-1)?.end ?? null, end: null };
  }

  /** The reader of an open plan read to the end of the table: the rest is its last chunk. */
  complete(): void {
    this.plan.chunks.push(this.rest());
    delete this.plan.open;
    this.#finish(false);
  }

  fail(err: unknown): void {
    this.#failure ??= { err };
    this.#start.reject(err);
    this.#done.reject(err);
  }

  /** Settles once a record holds the plan's first `n` chunks: chunk n-1 may then be marked done. */
  async recordedUpTo(n: number): Promise<void> {
    while (this.#recorded < n) {
      if (this.#failure) throw this.#failure.err;
      if (!this.plan.open) {
        await this.done;
        return;
      }
      if (!this.#recording) {
        const wait = this.#lastRecordAt + this.#recordEveryMs - performance.now();
        if (wait > 0) {
          // The plan may be whole before then: its record holds every chunk.
          this.#pause ??= Promise.race([new Promise((resolve) => setTimeout(resolve, wait)), this.done]).finally(() => {
            this.#pause = null;
          });
          await this.#pause;
          continue;
        }
      }
      // One record at a time; the chunks cut while it is written go together in the next.
      await (this.#recording ??= this.#recordOpen());
    }
  }

  async #recordOpen(): Promise<void> {
    this.#lastRecordAt = performance.now();
    const snapshot: ChunkPlan = { ...this.plan, chunks: this.plan.chunks.slice() };
    try {
      await this.#record(snapshot);
      this.#recorded = Math.max(this.#recorded, snapshot.chunks.length);
    } finally {
      this.#recording = null;
    }
  }

  /** The whole plan: recorded (after any open record still being written), then done. */
  #finish(onRecord: boolean): void {
    (onRecord ? Promise.resolve() : this.#record(this.plan)).then(
      () => {
        this.#recorded = Infinity;
        this.#done.resolve(this.plan);
      },
      (err: unknown) => this.fail(err),
    );
  }
}
