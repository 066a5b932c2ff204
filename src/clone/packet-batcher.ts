// What the two packet-built write methods (load-data, bulk) share: rows encoded straight into a pooled buffer
// that starts with a fixed prefix (at least the 4 bytes of the protocol packet header, so the batch is sent as
// one packet without a copy), cut when it grows past the batch size, the overflowing row starting the next.

import type { RawRow } from '../mysql/raw-rows.ts';
import { BufferPool, ByteBuilder } from './byte-builder.ts';
import type { Batch, RowBatcher } from './insert-batcher.ts';

/** One pool per batch size in use (normally one: the job's --write-query-max-size). */
const pools = new Map<number, BufferPool>();
/** Buffers kept for reuse per size: enough for every batch a copy holds at once with the default bounds. */
const POOL_BUFFERS = 64;

function poolFor(maxSize: number): BufferPool {
  // Room for the batch and the row that overflows it, so a cut rarely needs a bigger buffer.
  const size = maxSize + 64 * 1024;
  let pool = pools.get(size);
  if (!pool) pools.set(size, (pool = new BufferPool(size, Math.max(2, Math.floor((POOL_BUFFERS * 1024 * 1024) / size)))));
  return pool;
}

/** Makes a method's batch of `packet` (the prefix and `rows` rows); `release` gives its memory back once written. */
export type FinishBatch<B extends Batch> = (packet: Buffer, rows: number, release: () => void) => B;

export interface RowEncoder {
  /** The bytes `row` may take at most. */
  maxBytes(row: RawRow): number;
  /** Writes `row` into `out` from `o` (room reserved); returns the offset after it. */
  encode(out: Buffer, o: number, row: RawRow): number;
}

export class PacketBatcher<B extends Batch> implements RowBatcher {
  /** What starts every batch; a subclass may change it between batches (after take(), before the next add()). */
  protected prefix: Buffer;
  readonly #encoder: RowEncoder;
  readonly #maxSize: number;
  readonly #finish: FinishBatch<B>;
  readonly #pool: BufferPool;
  /** The open batch; null between batches, so a batcher dropped after take() holds no buffer. */
  #data: ByteBuilder | null = null;
  #rows = 0;

  /** `prefix` starts every batch (its first PACKET_HEADER bytes are the header's room); `maxSize` counts it too. */
  constructor(prefix: Buffer, encoder: RowEncoder, maxSize: number, finish: FinishBatch<B>) {
    this.prefix = prefix;
    this.#encoder = encoder;
    this.#maxSize = maxSize;
    this.#finish = finish;
    this.#pool = poolFor(maxSize);
  }

  add(row: RawRow): B | null {
    const out = (this.#data ??= this.#open());
    const rowStart = out.length;
    out.reserve(this.#encoder.maxBytes(row));
    out.length = this.#encoder.encode(out.buffer, rowStart, row);
    this.#rows++;
    if (this.#rows > 1 && out.length > this.#maxSize) {
      // The row does not fit: the batch is what came before it; the row starts the next.
      const batch = this.#cut(rowStart, this.#rows - 1);
      this.#rows = 1;
      return batch;
    }
    return null;
  }

  take(): B | null {
    if (this.#rows === 0) return null;
    const batch = this.#cut(this.#data!.length, this.#rows);
    this.#rows = 0;
    return batch;
  }

  #open(): ByteBuilder {
    const b = new ByteBuilder(this.#pool.take());
    b.reserve(this.prefix.length);
    b.bytes(this.prefix, 0, this.prefix.length);
    return b;
  }

  /** Closes the batch at byte `at`; what follows (an overflowing row) starts the next, in a pooled buffer. */
  #cut(at: number, rows: number): B {
    const open = this.#data!;
    const full = open.buffer;
    this.#data = null;
    if (at < open.length) {
      const next = (this.#data = this.#open());
      next.reserve(open.length - at);
      next.bytes(full, at, open.length);
    }
    const pool = this.#pool;
    return this.#finish(full.subarray(0, at), rows, () => pool.give(full));
  }
}
