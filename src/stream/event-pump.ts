// Reads a binlog source ahead of the applier into a bounded queue. Whether the queue is empty is how the stream
// knows it has caught up with what the source sent (commit now) or is behind (keep grouping): vplayer's batches.

import type { BinlogEvent, BinlogSource } from '../mysql/wire/binlog/events.ts';

export class EventPump {
  readonly #limit: number;
  /** Events read and not yet taken; `#head` is the next one (shifting an array per event would be quadratic). */
  #queue: BinlogEvent[] = [];
  #head = 0;
  #ended = false;
  #error: unknown = null;
  #wakeReader: (() => void) | null = null;
  #wakeTaker: (() => void) | null = null;

  constructor(source: AsyncIterable<BinlogEvent> & Pick<BinlogSource, 'take'>, limit = 2000) {
    this.#limit = limit;
    void this.#fill(source);
  }

  async #fill(source: AsyncIterable<BinlogEvent> & Pick<BinlogSource, 'take'>): Promise<void> {
    const iterator = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        // What the reader holds already comes without a promise; only an empty reader is waited for.
        let event = source.take?.();
        if (event === undefined) {
          const step = await iterator.next();
          if (step.done) break;
          event = step.value;
        }
        this.#queue.push(event);
        this.#wake();
        // Memory stays bounded by the queue, however far behind the stream is.
        while (this.#queue.length - this.#head >= this.#limit) await new Promise<void>((resolve) => (this.#wakeReader = resolve));
      }
    } catch (err) {
      this.#error = err;
    } finally {
      // As for-await did: a pump that stops early closes the source's iteration.
      await iterator.return?.().catch(() => undefined);
    }
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    const wake = this.#wakeTaker;
    this.#wakeTaker = null;
    wake?.();
  }

  /** Nothing read is waiting: the stream has applied all the source sent so far. */
  get empty(): boolean {
    return this.#head === this.#queue.length;
  }

  /**
   * Waits up to `ms` for an event to be ready: true if one is (or the source ended or failed, which next() tells),
   * false if the source sent nothing in that time.
   */
  async waitForMore(ms: number): Promise<boolean> {
    if (!this.empty || this.#ended) return true;
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<boolean>((resolve) => {
      const previous = this.#wakeTaker;
      this.#wakeTaker = () => {
        previous?.();
        resolve(true);
      };
      timer = setTimeout(() => resolve(false), ms);
    });
    try {
      return await arrived;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The next event if one is read, without waiting (undefined when none is: next() waits, and tells an end). */
  take(): BinlogEvent | undefined {
    if (this.empty) return undefined;
    const event = this.#queue[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    const wake = this.#wakeReader;
    this.#wakeReader = null;
    wake?.();
    return event;
  }

  /** The next event; null once the source ended; the source's error once it failed. */
  async next(): Promise<BinlogEvent | null> {
    while (this.empty) {
      if (this.#error !== null) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => (this.#wakeTaker = resolve));
    }
    return this.take() as BinlogEvent;
  }
}
