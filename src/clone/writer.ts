// Writes batches to one destination primary with a bounded pool of writers behind a bounded queue.

import PQueue from 'p-queue';
import { queryOn, type Pool, type TabletRef } from '../mysql/connection.ts';
import type { Batch } from './insert-batcher.ts';

export interface WriterOptions {
  writers: number;
  /** Statements per second at most; 0 is unlimited. */
  maxTps: number;
  signal: AbortSignal;
}

export class DestinationWriter {
  readonly ref: TabletRef;
  readonly #pool: Pool;
  readonly #queue: PQueue;
  /** Batches waiting beyond the running ones: what bounds memory on this side. */
  readonly #maxWaiting: number;
  readonly #signal: AbortSignal;

  constructor(ref: TabletRef, pool: Pool, opts: WriterOptions) {
    this.ref = ref;
    this.#pool = pool;
    this.#signal = opts.signal;
    this.#maxWaiting = opts.writers * 2;
    this.#queue = new PQueue({
      concurrency: opts.writers,
      ...(opts.maxTps > 0 ? { intervalCap: opts.maxTps, interval: 1000 } : {}),
    });
  }

  /**
   * Waits for room in the queue (backpressure on the reader), then queues the batch.
   * Returns its completion (wrapped, so awaiting the room does not also await the write), which the caller must
   * await or hand on.
   */
  async submit(batch: Batch, doing: string): Promise<{ done: Promise<void> }> {
    if (this.#queue.size >= this.#maxWaiting) await this.#queue.onSizeLessThan(this.#maxWaiting);
    this.#signal.throwIfAborted();
    const done = this.#queue.add(
      async () => {
        this.#signal.throwIfAborted();
        await queryOn(this.#pool, this.ref, doing, batch.sql);
      },
      { signal: this.#signal },
    ) as Promise<void>;
    return { done };
  }

  async drain(): Promise<void> {
    await this.#queue.onIdle();
  }
}
