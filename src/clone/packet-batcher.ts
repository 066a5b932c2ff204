// What the two packet-built write methods (load-data, bulk) share: rows encoded straight into a reused buffer
// that starts with a fixed prefix (at least the 4 bytes of the protocol packet header, so the batch is sent as
// one packet without a copy), cut when it grows past the batch size, the overflowing row starting the next.

import type { ByteArena } from '../mysql/wire/byte-arena.ts';
import type { RawRow } from '../mysql/wire/raw-rows.ts';
import { ByteBuilder, type SameMemory } from '../mysql/wire/byte-builder.ts';
import type { RowEncoder } from '../mysql/wire/packets.ts';
import type { Batch, RowBatcher } from './batch.ts';

/** Room past the batch size for the row that overflows it, so a cut rarely needs a bigger buffer. */
const OVERFLOW_ROOM = 64 * 1024;

/** Makes a method's batch of `packet` (the prefix and `rows` rows); `release` gives its memory back once written. */
export type FinishBatch<B extends Batch> = (packet: Buffer, rows: number, release: () => void) => B;

export class PacketBatcher<B extends Batch> implements RowBatcher {
  /** What starts every batch; a subclass may change it between batches (after take(), before the next add()). */
  protected prefix: Buffer;
  readonly #encoder: RowEncoder;
  readonly #maxSize: number;
  readonly #finish: FinishBatch<B>;
  /** Where batch buffers come from and go back to once written (none: each batch a buffer of its own). */
  readonly #arena: ByteArena | null;
  /** The open batch; null between batches, so a batcher dropped after take() holds no buffer. */
  #data: ByteBuilder | null = null;
  /** The buffer the open batch started in (the builder holds a bigger one if a row outgrew it). */
  #slot: Buffer | null = null;
  /** The slot's place in the arena, when it came from one. */
  #same: SameMemory | null = null;
  #rows = 0;

  /**
   * `prefix` starts every batch (its first PACKET_HEADER bytes are the header's room); `maxSize` counts it too.
   * Batches are built in buffers of `arena` when given: the copy's, where its readers stage the rows too.
   */
  constructor(prefix: Buffer, encoder: RowEncoder, maxSize: number, finish: FinishBatch<B>, arena: ByteArena | null = null) {
    this.prefix = prefix;
    this.#encoder = encoder;
    this.#maxSize = maxSize;
    this.#finish = finish;
    this.#arena = arena;
  }

  add(row: RawRow): B | null {
    const out = (this.#data ??= this.#open());
    const rowStart = out.length;
    out.reserve(this.#encoder.maxBytes(row));
    const buffer = out.buffer;
    let same = this.#same;
    if (same !== null) {
      // Only while the batch is still in its slot (a row may have outgrown it) and the row was staged in the arena.
      if (buffer === this.#slot && row.memory === this.#arena!.memory) same.srcBase = row.base;
      else same = null;
    }
    out.length = this.#encoder.encode(buffer, rowStart, row, same);
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
    const size = this.#maxSize + OVERFLOW_ROOM;
    const fromArena = this.#arena?.take(size) ?? null;
    const slot = (this.#slot = fromArena ?? Buffer.allocUnsafe(size));
    this.#same = fromArena ? { bytes: this.#arena!.bytes, outBase: fromArena.byteOffset, srcBase: 0, wasm: this.#arena!.wasm } : null;
    const b = new ByteBuilder(slot);
    b.reserve(this.prefix.length);
    b.bytes(this.prefix, 0, this.prefix.length);
    return b;
  }

  /** Closes the batch at byte `at`; what follows (an overflowing row) starts the next, in a new buffer. */
  #cut(at: number, rows: number): B {
    const open = this.#data!;
    const full = open.buffer;
    const slot = this.#slot!;
    this.#data = null;
    this.#slot = null;
    if (at < open.length) {
      const next = (this.#data = this.#open());
      next.reserve(open.length - at);
      next.bytes(full, at, open.length);
    }
    const arena = this.#arena;
    let held = full;
    // A row outgrew the slot: the batch is in a bigger buffer of its own, and the slot is free already.
    if (slot !== full) arena?.give(slot);
    else if (arena && at <= slot.length / 4) {
      // A batch that filled little of its slot (a chunk's last, a small table's only one) moves to a buffer of its
      // size: the batches waiting on a destination then hold their bytes, not a slot each (2,000 small tables had
      // the arena's 64 MiB touched and more slots allocated past it).
      const small = arena.take(sizeClass(at));
      if (small) {
        full.copy(small, 0, 0, at);
        arena.give(slot);
        held = small;
      }
    }
    let released = false;
    // Once only: a buffer given back twice would be handed to two batches.
    return this.#finish(held.subarray(0, at), rows, () => {
      if (released) return;
      released = true;
      arena?.give(held);
    });
  }
}

/** A power of two of at least 4 KiB: buffers of a few sizes, so that the arena's free lists serve the next batches. */
function sizeClass(bytes: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(bytes, 4096)));
}
